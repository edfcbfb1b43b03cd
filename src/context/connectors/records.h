// Shared by the system-of-record parsers: splitting a JSON array into records without
// parsing it whole (so a truncated or damaged file still yields its good records), reading
// files, and time formats. Private to src/context.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <strata/context/connector.h>
#include <strata/context/document.h>
#include <strata/status.h>

namespace strata::context::detail {

// Where a parser sends what it found (the connector forwards to an IngestSink; fuzzers and
// tests collect).
struct RecordSink {
  std::function<void(Document)> put;
  std::function<void(std::string_view key)> remove;
  std::function<void(std::string_view key, SkipReason reason, std::string_view detail)> skip;
};

// A RecordSink that forwards to an IngestSink: documents whose content is unchanged are not
// re-written; the first put/remove error is kept (and later records are dropped).
class Forwarder {
 public:
  explicit Forwarder(IngestSink& sink);
  RecordSink& records() { return records_; }
  [[nodiscard]] const Status& status() const { return status_; }
  [[nodiscard]] bool stopped() const { return !status_.ok() || sink_.cancelled(); }
  std::size_t offered() const { return offered_; }

 private:
  IngestSink& sink_;
  RecordSink records_;
  Status status_;
  std::size_t offered_ = 0;
};

// Cursors of connectors whose access lists come from metadata read on every scan (a Slack
// conversation's members, a repository's visibility) and whose position skips records
// already read: "<position>;acl=<digest>". When the digest of the access lists differs from
// the one in the cursor (or the cursor has none: written by an older version), the scan
// must start from the beginning so that every record is offered again with its new access
// list (unchanged ones are skipped by their document_key()).
struct AclCursor {
  std::string position;  // what the connector stored before ";acl="
  std::string acl;       // "" when the cursor has no digest
};
AclCursor split_acl_cursor(std::string_view cursor);
std::string join_acl_cursor(std::string_view position, std::string_view acl);
// Per-owner digests ("C1:<hex>,G2:<hex>") for connectors that track each conversation's or
// project's access apart; entries that do not parse are dropped (their owner is then read
// again from the start, which is safe).
std::map<std::string, std::string> parse_acl_map(std::string_view text);
std::string format_acl_map(const std::map<std::string, std::string>& acl);
// Accumulates access lists into a digest (order-sensitive: feed them in a stable order).
class AccessDigest {
 public:
  void add(std::string_view owner, const std::vector<std::string>& access);
  std::string digest() const;

 private:
  std::string text_;
};

// The digest of a Jira connector's access configuration (project_access and
// security_level_access): its cursors carry it, so a changed configuration re-reads every
// issue and writes the ones whose access list changed.
std::string jira_access_digest(const std::map<std::string, std::vector<std::string>>& project_access,
                               const std::map<std::string, std::vector<std::string>>& security_level_access);

// Calls on_record(bytes, index) for each element of the top-level JSON array in `text`, in
// order, without validating the elements (that is the caller's parse). Returns an error when
// `text` is not an array or ends inside one (truncated): records before that point were
// delivered. Nesting deeper than 512 levels ends the scan with an error.
Status split_json_array(std::string_view text,
                        const std::function<void(std::string_view record, std::size_t index)>& on_record);

// The loop of the parsers' for_each_record (json_util.h, fast_json.h): for each element of
// the JSON array `text`, `parse(record, problem)` gives the parsed object, or nullopt with
// `problem` set (bad JSON, not an object); `handle(object)` returns a problem, "" when the
// record was taken. A record over `max_bytes`, or with a problem (an exception from handle
// counts as one), is reported to sink.skip as "<file>#<index>"; a truncated or non-array
// file is reported as "<file>" after its good records.
template <class Parse, class Handle>
void for_each_parsed_record(std::string_view text, const std::string& file, std::size_t max_bytes,
                            RecordSink& sink, Parse&& parse, Handle&& handle) {
  Status s = split_json_array(text, [&](std::string_view rec, std::size_t index) {
    // The record's name, made only when it is reported.
    auto key = [&] { return file + "#" + std::to_string(index); };
    if (rec.size() > max_bytes) {
      sink.skip(key(), SkipReason::kTooLarge, std::to_string(rec.size()) + " bytes, over " + std::to_string(max_bytes));
      return;
    }
    std::string problem;
    auto record = parse(rec, problem);
    if (record) {
      try {
        problem = handle(*record);
      } catch (const std::exception& e) {
        problem = e.what();
      }
    }
    if (!problem.empty()) sink.skip(key(), SkipReason::kMalformed, problem);
  });
  if (!s.ok()) sink.skip(file, SkipReason::kMalformed, s.message());
}

// Position just after `"key":` followed by optional spaces, when it is followed by '['
// (search pages: {"issues": [...]}); npos otherwise. A textual search, good enough to salvage
// the records of a damaged page.
std::size_t find_array_after_key(std::string_view text, std::string_view key);

// Reads a regular file whole. kNotFound when absent, kResourceExhausted over `limit` bytes,
// kUnavailable on other errors.
Result<std::string> read_whole_file(const std::string& path, std::size_t limit);

// The names of the files of `dir` that start with `prefix` and end with ".json", sorted
// (empty when `dir` cannot be read).
std::vector<std::string> json_files(const std::string& dir, std::string_view prefix);

// "2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123+0100", "2024-01-02" -> seconds since the
// epoch (UTC); -1 when it does not parse.
std::int64_t parse_iso8601(std::string_view text);
// Slack "1700000000.000100" -> 1700000000; -1 when it does not parse.
std::int64_t parse_slack_ts(std::string_view ts);

// "Fixes #12", "closes owner/repo#3", "Resolved: #4" -> the issue numbers of `repository`
// ("owner/repo"); other repositories' references are left out.
std::vector<long> closing_references(std::string_view text, std::string_view repository);

// The first `max` bytes of `text`, cut back to a UTF-8 boundary.
std::string_view utf8_prefix(std::string_view text, std::size_t max);

}  // namespace strata::context::detail
