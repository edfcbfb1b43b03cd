#include <strata/status.h>

namespace strata {

std::string_view to_string(StatusCode code) noexcept {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kCancelled: return "CANCELLED";
    case StatusCode::kUnknown: return "UNKNOWN";
    case StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case StatusCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case StatusCode::kNotFound: return "NOT_FOUND";
    case StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case StatusCode::kPermissionDenied: return "PERMISSION_DENIED";
    case StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case StatusCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case StatusCode::kAborted: return "ABORTED";
    case StatusCode::kOutOfRange: return "OUT_OF_RANGE";
    case StatusCode::kUnimplemented: return "UNIMPLEMENTED";
    case StatusCode::kInternal: return "INTERNAL";
    case StatusCode::kUnavailable: return "UNAVAILABLE";
    case StatusCode::kDataLoss: return "DATA_LOSS";
    case StatusCode::kUnauthenticated: return "UNAUTHENTICATED";
  }
  return "UNKNOWN";
}

std::string Status::to_string() const {
  if (ok()) return "OK";
  std::string out(strata::to_string(code_));
  out += ": ";
  out += message_;
  return out;
}

Status cancelled_error(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
Status invalid_argument_error(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
Status not_found_error(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
Status already_exists_error(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
Status permission_denied_error(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
Status resource_exhausted_error(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
Status failed_precondition_error(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
Status aborted_error(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
Status out_of_range_error(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
Status unimplemented_error(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
Status unavailable_error(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
Status data_loss_error(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }

}  // namespace strata
