// fuzz_json_validate — strata::session::validate_json on arbitrary bytes.
//
// Checks: it never crashes or reads outside the input (ASan sees the exact input buffer), and
// it agrees with nlohmann::json::accept wherever RFC 8259 decides the answer:
//   * if strata accepts, nlohmann accepts;
//   * if nlohmann accepts and the text is nested at most 64 deep, strata accepts;
//   * if nlohmann accepts and the text is nested deeper than 64, strata rejects (documented).
// Two places where RFC 8259 leaves the choice to the implementation are not compared: a
// leading UTF-8 byte order mark (nlohmann skips it, RFC 8259 §8.1 allows that) and numbers
// outside the range of a double (nlohmann refuses them, §9 allows limits on number range).
// nlohmann also stops at a NUL byte outside a string as if the input ended there; RFC 8259
// allows a raw NUL nowhere, so such inputs are checked against that rule instead.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <strata/session/event.h>

#include "fuzz_util.h"

namespace {

// Deepest bracket nesting outside string literals. For any prefix that validate_json has
// consumed without error this equals its own container depth, so a result <= 64 means
// strata's depth limit cannot have been the reason for a rejection.
int bracket_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

bool starts_with_bom(std::string_view text) { return text.starts_with("\xEF\xBB\xBF"); }

// True if nlohmann refuses the text only because a number does not fit a double (error 406).
bool nlohmann_number_overflow(std::string_view text) {
  try {
    (void)nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::out_of_range& e) {
    return e.id == 406;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  return false;
}

[[noreturn]] void disagree(const char* what, std::string_view text, const std::string& detail) {
  std::fprintf(stderr, "validate_json disagrees with RFC 8259 (nlohmann): %s\n  strata: %s\n",
               what, detail.c_str());
  strata::fuzz::print_escaped(text);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const strata::Status status = strata::session::validate_json(text);
  if (!status.ok() && status.code() != strata::StatusCode::kInvalidArgument) {
    disagree("a rejection that is not INVALID_ARGUMENT", text, status.to_string());
  }
  if (text.find('\0') != std::string_view::npos) {
    if (status.ok()) disagree("strata accepts a raw NUL byte", text, status.to_string());
    return 0;
  }
  if (starts_with_bom(text)) return 0;

  const bool nlohmann_ok = nlohmann::json::accept(text.begin(), text.end());
  if (status.ok() && !nlohmann_ok) {
    if (nlohmann_number_overflow(text)) return 0;
    disagree("strata accepts, nlohmann rejects", text, status.to_string());
  }
  if (!status.ok() && nlohmann_ok) {
    if (bracket_depth(text) <= 64) {
      disagree("nlohmann accepts, strata rejects", text, status.to_string());
    }
    return 0;  // deeper than 64: rejecting is documented
  }
  if (status.ok() && bracket_depth(text) > 64) {
    disagree("strata accepts nesting deeper than 64", text, status.to_string());
  }
  return 0;
}
