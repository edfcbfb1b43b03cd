// simdjson helpers for the parsers of the record streams that come by the million (Slack day
// files and API pages, GitHub pull requests, reviews, comments and issues): the rules of
// json_util.h on simdjson's DOM, which parses a Slack message about fifteen times faster than
// nlohmann_json and allocates nothing per record (docs/benchmarks.md, eleventh pass).
//
// Accessors never throw: a missing key, null or a value of another type gives the fallback,
// and the *_checked forms report the wrong type. Of duplicate keys the last one counts, as
// with json_util.h. Strings are views into the parser's buffer: valid until the next record
// is parsed. Everything is in namespace `sj`, apart from json_util.h's names (a unity build
// may put both into one translation unit). Only the parsers' .cpp files include this.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "context/connectors/records.h"

namespace strata::context::detail::sj {

using Value = simdjson::dom::element;

// The value of `key` in the object `j`; nullopt when `j` is not an object, or the key is
// missing or null.
inline std::optional<Value> member(Value j, std::string_view key) {
  simdjson::dom::object object;
  if (j.get_object().get(object) != simdjson::SUCCESS) return std::nullopt;
  std::optional<Value> found;
  for (simdjson::dom::key_value_pair field : object) {
    if (field.key == key) found = field.value;
  }
  if (found && found->is_null()) return std::nullopt;
  return found;
}

// A string member, or `fallback` when it is missing or not a string.
inline std::string_view str(Value j, std::string_view key, std::string_view fallback = {}) {
  const auto m = member(j, key);
  std::string_view s;
  return m && m->get_string().get(s) == simdjson::SUCCESS ? s : fallback;
}

// A string member that must be a string when present: false when it is of another type.
inline bool str_checked(Value j, std::string_view key, std::string_view& out) {
  out = {};
  const auto m = member(j, key);
  return !m || m->get_string().get(out) == simdjson::SUCCESS;
}
inline bool str_checked(Value j, std::string_view key, std::string& out) {
  std::string_view s;
  if (!str_checked(j, key, s)) return false;
  out.assign(s);
  return true;
}

// An integer member (one that fits an int64); nullopt otherwise.
inline std::optional<std::int64_t> integer(Value j, std::string_view key) {
  const auto m = member(j, key);
  std::int64_t n = 0;
  if (!m || !m->is_int64() || m->get_int64().get(n) != simdjson::SUCCESS) return std::nullopt;
  return n;
}

// A boolean member that is true.
inline bool is_true(Value j, std::string_view key) {
  const auto m = member(j, key);
  bool b = false;
  return m && m->get_bool().get(b) == simdjson::SUCCESS && b;
}

// j[a][b] as a string, "" when any part is missing or of another type.
inline std::string_view str_at(Value j, std::string_view a, std::string_view b) {
  const auto m = member(j, a);
  return m ? str(*m, b) : std::string_view();
}

// Calls f(element) for each element of `j` when it is an array (a default-constructed
// dom::array must not be iterated: it has no document).
template <class F>
void for_each_element(Value j, F&& f) {
  simdjson::dom::array array;
  if (j.get_array().get(array) != simdjson::SUCCESS) return;
  for (Value element : array) f(element);
}

// The JSON type of a member as json_util.h names it ("missing" when absent or null).
inline std::string type_name(const std::optional<Value>& j) {
  if (!j) return "missing";
  switch (j->type()) {
    case simdjson::dom::element_type::ARRAY: return "array";
    case simdjson::dom::element_type::OBJECT: return "object";
    case simdjson::dom::element_type::STRING: return "string";
    case simdjson::dom::element_type::BOOL: return "boolean";
    case simdjson::dom::element_type::NULL_VALUE: return "null";
    default: return "number";
  }
}

// Parses one record at a time; reuses its buffers from one record to the next.
class RecordParser {
 public:
  // The record's root; nullopt (with *error set) on bad JSON, including invalid UTF-8.
  std::optional<Value> parse(std::string_view text, std::string* error) {
    // simdjson reads up to SIMDJSON_PADDING bytes past the end: the record is copied into a
    // buffer that has them (the record is a view into a larger text, which may not).
    padded_.assign(text);
    padded_.resize(text.size() + simdjson::SIMDJSON_PADDING);
    Value root;
    const auto code = parser_.parse(padded_.data(), text.size(), /*realloc_if_needed=*/false).get(root);
    if (code != simdjson::SUCCESS) {
      if (error) *error = std::string("invalid JSON: ") + simdjson::error_message(code);
      return std::nullopt;
    }
    return root;
  }

 private:
  simdjson::dom::parser parser_;
  std::string padded_;
};

// json_util.h's for_each_record, on simdjson: runs `handle(record)` for each object of the
// JSON array `text` (the rules of for_each_parsed_record, records.h).
template <class Handle>
void for_each_record(std::string_view text, const std::string& file, std::size_t max_bytes,
                     RecordSink& sink, Handle&& handle) {
  RecordParser parser;
  auto parse = [&parser](std::string_view rec, std::string& problem) -> std::optional<Value> {
    auto json = parser.parse(rec, &problem);
    if (json && !json->is_object()) {
      problem = "a " + type_name(json) + ", not an object";
      return std::nullopt;
    }
    return json;
  };
  for_each_parsed_record(text, file, max_bytes, sink, parse, std::forward<Handle>(handle));
}

}  // namespace strata::context::detail::sj
