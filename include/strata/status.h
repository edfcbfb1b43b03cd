// strata/status.h — the one error model of the library.
//
// Every fallible call returns a `Status` or a `Result<T>`; the library never throws across
// its public API, and exceptions thrown by plug-ins or callbacks are caught at the boundary
// and turned into a `Status` (code kInternal). Codes follow the canonical set used by
// abseil and gRPC so that transports can map them to HTTP and WebSocket close codes.
//
// Thread safety: Status and Result are values. Distinct objects: safe. Shared objects:
// safe for concurrent const access only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace strata {

enum class StatusCode : std::uint8_t {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// "OK", "INVALID_ARGUMENT", ... (the canonical spelling).
std::string_view to_string(StatusCode code) noexcept;

class [[nodiscard]] Status {
 public:
  // An OK status.
  Status() noexcept = default;
  // REQUIRES: code != kOk, or message is empty.
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  [[nodiscard]] bool ok() const noexcept { return code_ == StatusCode::kOk; }
  [[nodiscard]] StatusCode code() const noexcept { return code_; }
  [[nodiscard]] const std::string& message() const noexcept { return message_; }
  // "INVALID_ARGUMENT: session id is empty"; "OK" for an OK status.
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const Status& a, const Status& b) noexcept {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status ok_status() noexcept { return Status(); }
Status cancelled_error(std::string message);
Status invalid_argument_error(std::string message);
Status not_found_error(std::string message);
Status already_exists_error(std::string message);
Status permission_denied_error(std::string message);
Status resource_exhausted_error(std::string message);
Status failed_precondition_error(std::string message);
Status aborted_error(std::string message);
Status out_of_range_error(std::string message);
Status unimplemented_error(std::string message);
Status internal_error(std::string message);
Status unavailable_error(std::string message);
Status data_loss_error(std::string message);

// A value or the Status that explains why there is none.
//
// A Result is never "OK without a value": constructing one from an OK Status turns it into a
// kInternal error, so `ok()` always means `value()` is safe to call.
template <typename T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::decay_t<T>, Status>, "Result<Status> is not meaningful");

 public:
  Result(const T& value) : state_(value) {}             // NOLINT(google-explicit-constructor)
  Result(T&& value) : state_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : state_(std::move(status)) {   // NOLINT(google-explicit-constructor)
    if (std::get<Status>(state_).ok()) {
      state_ = Status(StatusCode::kInternal, "Result constructed from an OK status");
    }
  }
  template <typename U, typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                                    !std::is_same_v<std::decay_t<U>, Status> &&
                                                    !std::is_same_v<std::decay_t<U>, T>>>
  Result(U&& value) : state_(T(std::forward<U>(value))) {}  // NOLINT

  [[nodiscard]] bool ok() const noexcept { return std::holds_alternative<T>(state_); }
  // The error, or an OK status when a value is held.
  [[nodiscard]] Status status() const {
    return ok() ? Status() : std::get<Status>(state_);
  }
  // REQUIRES: ok().
  [[nodiscard]] T& value() & { return std::get<T>(state_); }
  [[nodiscard]] const T& value() const& { return std::get<T>(state_); }
  [[nodiscard]] T&& value() && { return std::get<T>(std::move(state_)); }
  [[nodiscard]] T value_or(T fallback) const& { return ok() ? std::get<T>(state_) : fallback; }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace strata

// Propagates an error Status from an expression that yields a Status.
#define STRATA_RETURN_IF_ERROR(expr)               \
  do {                                             \
    ::strata::Status strata_status_ = (expr);      \
    if (!strata_status_.ok()) return strata_status_; \
  } while (false)
