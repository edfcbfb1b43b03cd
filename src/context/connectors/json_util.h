// nlohmann_json helpers for the system-of-record parsers (their .cpp files only include this).
// Accessors never throw: a missing key, null or a value of another type gives the fallback,
// and the *_checked forms report the wrong type.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "context/connectors/records.h"

namespace strata::context::detail {

using Json = nlohmann::json;

// Parses one record; nullopt (with *error set) on bad JSON, including invalid UTF-8.
inline std::optional<Json> parse_json(std::string_view text, std::string* error) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return std::nullopt;
  }
}

inline const Json* member(const Json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

inline std::string str(const Json& j, std::string_view key, std::string fallback = {}) {
  const Json* m = member(j, key);
  return m && m->is_string() ? m->get<std::string>() : fallback;
}

// A string member that must be a string when present: false when it is of another type.
inline bool str_checked(const Json& j, std::string_view key, std::string& out) {
  const Json* m = member(j, key);
  if (!m) {
    out.clear();
    return true;
  }
  if (!m->is_string()) return false;
  out = m->get<std::string>();
  return true;
}

inline std::optional<std::int64_t> integer(const Json& j, std::string_view key) {
  const Json* m = member(j, key);
  if (!m || !m->is_number_integer()) return std::nullopt;
  return m->get<std::int64_t>();
}

inline std::string str_at(const Json& j, std::string_view a, std::string_view b) {
  const Json* m = member(j, a);
  return m ? str(*m, b) : std::string();
}

inline std::string type_name(const Json* j) { return j ? j->type_name() : "missing"; }

// Plain text of an Atlassian Document Format node (adf.cpp); a string is returned as is.
std::string adf_to_text(const Json& node);

// Runs `handle(record)` for each object of the JSON array `text`; a record over `max_bytes`,
// one that does not parse, one that is not an object, or one for which handle returns a
// non-empty problem is reported to sink.skip as "<file>#<index>"; a truncated or non-array
// file is reported as "<file>" after its good records.
template <class Handle>
void for_each_record(std::string_view text, const std::string& file, std::size_t max_bytes,
                     RecordSink& sink, Handle&& handle) {
  auto parse = [](std::string_view rec, std::string& problem) -> std::optional<Json> {
    auto json = parse_json(rec, &problem);
    if (json && !json->is_object()) {
      problem = std::string("a ") + json->type_name() + ", not an object";
      return std::nullopt;
    }
    return json;
  };
  for_each_parsed_record(text, file, max_bytes, sink, parse, std::forward<Handle>(handle));
}

}  // namespace strata::context::detail
