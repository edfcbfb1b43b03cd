// fuzz_ids — validate_session_id, validate_name and validate_event_type on arbitrary bytes.
//
// Checks: none crashes; each accepts exactly what the rules documented in
// strata/session/event.h allow (re-implemented here independently, from the documentation):
//   - session ids: 1..200 bytes of [A-Za-z0-9._~:@/-], not starting or ending with '/', no
//     empty or "." or ".." path segment;
//   - names (producer, run, message, client ids): 1..128 bytes of [A-Za-z0-9._~:@/-];
//   - event types: 1..64 bytes of [a-z0-9._-], starting with a letter;
// and every rejection is INVALID_ARGUMENT with a message that names the field and contains
// only printable ASCII (the bad value is quoted safely, so it can go into logs and replies).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <strata/session/event.h>

#include "fuzz_util.h"

namespace {

bool id_char(unsigned char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::string_view("._~:@/-").find(static_cast<char>(c)) != std::string_view::npos;
}

bool all_id_chars(std::string_view s) {
  for (unsigned char c : s) {
    if (!id_char(c)) return false;
  }
  return true;
}

bool rule_session_id(std::string_view s) {
  if (s.empty() || s.size() > 200 || !all_id_chars(s)) return false;
  if (s.front() == '/' || s.back() == '/') return false;
  // Split on '/' and look at every segment.
  std::size_t begin = 0;
  for (;;) {
    const std::size_t slash = s.find('/', begin);
    const std::string_view segment =
        s.substr(begin, slash == std::string_view::npos ? std::string_view::npos : slash - begin);
    if (segment.empty() || segment == "." || segment == "..") return false;
    if (slash == std::string_view::npos) return true;
    begin = slash + 1;
  }
}

bool rule_name(std::string_view s) { return !s.empty() && s.size() <= 128 && all_id_chars(s); }

bool rule_event_type(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  if (s.front() < 'a' || s.front() > 'z') return false;
  for (unsigned char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                    c == '-';
    if (!ok) return false;
  }
  return true;
}

void check(const char* what, std::string_view value, const strata::Status& status,
           bool expected_ok, std::string_view field) {
  const char* problem = nullptr;
  if (status.ok() != expected_ok) {
    problem = expected_ok ? "rejects a value the documented rules allow"
                          : "accepts a value the documented rules forbid";
  } else if (!status.ok()) {
    if (status.code() != strata::StatusCode::kInvalidArgument) {
      problem = "rejects with a code other than INVALID_ARGUMENT";
    } else if (status.message().find(field) == std::string::npos) {
      problem = "rejects with a message that does not name the field";
    } else {
      for (unsigned char c : status.message()) {
        if (c < 0x20 || c >= 0x7f) {
          problem = "rejects with a message containing raw control or non-ASCII bytes";
          break;
        }
      }
    }
  }
  if (problem == nullptr) return;
  std::fprintf(stderr, "%s %s\n  status: %s\n", what, problem, status.to_string().c_str());
  strata::fuzz::print_escaped(value);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  using namespace strata::session;
  check("validate_session_id", value, validate_session_id(value), rule_session_id(value),
        "session id");
  check("validate_name", value, validate_name("client id", value), rule_name(value),
        "client id");
  check("validate_event_type", value, validate_event_type(value), rule_event_type(value),
        "event type");
  return 0;
}
