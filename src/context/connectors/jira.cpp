// Jira REST API v2/v3 JSON -> documents (issues and their comments). Formats:
// docs/connectors.md, "Jira".
#include <algorithm>

#include "context/connectors/json_util.h"
#include "context/connectors/parsers.h"

namespace strata::context::detail {

namespace {

// v2 bodies are strings, v3 bodies are ADF documents.
bool rich_text(const Json& j, std::string_view key, std::string& out) {
  out.clear();
  const Json* m = member(j, key);
  if (!m) return true;
  if (m->is_string()) {
    out = m->get<std::string>();
    return true;
  }
  if (m->is_object()) {
    out = adf_to_text(*m);
    return true;
  }
  return false;
}

// An account as "jira:<accountId>" (Cloud, v3) or "jira:<name>" (Server, v2).
std::string account_of(const Json& j, std::string_view key) {
  const Json* u = member(j, key);
  if (!u || !u->is_object()) return "";
  std::string id = str(*u, "accountId");
  if (id.empty()) id = str(*u, "name");
  if (id.empty()) id = str(*u, "key");
  return id.empty() ? "" : "jira:" + id;
}

std::vector<std::string> access_for(const JiraContext& c, const std::string& project, const std::string& level) {
  if (!level.empty()) {
    if (c.security_level_access) {
      auto it = c.security_level_access->find(project + "/" + level);
      if (it == c.security_level_access->end()) it = c.security_level_access->find(level);
      if (it != c.security_level_access->end()) return it->second;
    }
    return {};  // a security level nobody mapped: nobody
  }
  if (c.project_access) {
    auto it = c.project_access->find(project);
    if (it != c.project_access->end()) return it->second;
  }
  return {};
}

std::string issue(const Json& j, const JiraContext& c, RecordSink& sink) {
  std::string key;
  if (!str_checked(j, "key", key) || key.empty()) return "\"key\" is missing or not a string";
  if (key.size() > 100 || key.find_first_of("/\n ") != std::string::npos) return "\"key\" is not an issue key";
  const Json* f = member(j, "fields");
  if (!f || !f->is_object()) return "\"fields\" of " + key + " is a " + type_name(f) + ", not an object";
  std::string summary, description, updated_text;
  if (!str_checked(*f, "summary", summary)) return key + ": \"summary\" is not a string";
  if (!rich_text(*f, "description", description)) return key + ": \"description\" is neither text nor ADF";
  if (!str_checked(*f, "updated", updated_text)) return key + ": \"updated\" is not a string";
  const std::int64_t updated = parse_iso8601(updated_text);
  if (c.max_updated && updated > *c.max_updated) *c.max_updated = updated;
  if (updated >= 0 && updated < c.since) return "";
  const std::string project = str_at(*f, "project", "key");
  const std::string level = str_at(*f, "security", "name");
  const auto access = access_for(c, project, level);
  const std::string path = "jira:" + key;

  Document d;
  d.kind = DocumentKind::kIssue;
  d.path = path;
  d.title = summary;
  d.status = str_at(*f, "status", "name");
  for (char& ch : d.status) ch = ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch;
  const std::string resolution = str_at(*f, "resolution", "name");
  const std::string type = str_at(*f, "issuetype", "name");
  const std::string reporter = account_of(*f, "reporter");
  const std::string assignee = account_of(*f, "assignee");
  if (!reporter.empty()) d.authors.push_back(reporter);
  if (!assignee.empty()) d.participants.push_back("assigned:" + assignee);
  d.timestamp = std::max<std::int64_t>(0, parse_iso8601(str(*f, "created")));
  d.uri = str(j, "self");
  d.access = access;
  std::string links_text;
  if (const Json* links = member(*f, "issuelinks")) {
    if (!links->is_array()) return key + ": \"issuelinks\" is not an array";
    for (const auto& l : *links) {
      if (!l.is_object()) continue;
      const Json* type_obj = member(l, "type");
      std::string other, relation;
      if (const Json* out = member(l, "outwardIssue"); out && out->is_object()) {
        other = str(*out, "key");
        relation = type_obj ? str(*type_obj, "outward") : "";
      } else if (const Json* in = member(l, "inwardIssue"); in && in->is_object()) {
        other = str(*in, "key");
        relation = type_obj ? str(*type_obj, "inward") : "";
      }
      if (other.empty() || other.find_first_of("/\n ") != std::string::npos) continue;
      d.links.push_back("jira:" + other);
      links_text += "\n" + (relation.empty() ? std::string("links") : relation) + " " + other;
    }
  }
  d.content = key + ": " + summary + "\nproject: " + project + (type.empty() ? "" : "\ntype: " + type) +
              "\nstatus: " + d.status + (resolution.empty() ? "" : "\nresolution: " + resolution) +
              links_text + "\n\n" + description;

  // Comments: fields.comment.comments (both versions).
  std::vector<Document> comments;
  if (const Json* cm = member(*f, "comment")) {
    const Json* list = cm->is_object() ? member(*cm, "comments") : nullptr;
    if (!list || !list->is_array()) return key + ": \"comment.comments\" is not an array";
    for (const auto& cj : *list) {
      std::string id, body;
      if (!cj.is_object() || !str_checked(cj, "id", id) || id.empty() || id.find('/') != std::string::npos) {
        sink.skip(path + "/comment/?", SkipReason::kMalformed, "a comment of " + key + " without a string id");
        continue;
      }
      if (!rich_text(cj, "body", body)) {
        sink.skip(path + "/comment/" + id, SkipReason::kMalformed, "the body is neither text nor ADF");
        continue;
      }
      Document cd;
      cd.kind = DocumentKind::kComment;
      cd.path = path + "/comment/" + id;
      cd.parent = path;
      const std::string author = account_of(cj, "author");
      if (!author.empty()) cd.authors.push_back(author);
      cd.timestamp = std::max<std::int64_t>(0, parse_iso8601(str(cj, "created")));
      cd.title = "Comment on " + key;
      cd.access = access;
      cd.content = cd.title + ": " + summary + "\n\n" + body;
      comments.push_back(std::move(cd));
    }
  }
  sink.put(std::move(d));
  for (auto& cd : comments) sink.put(std::move(cd));
  return "";
}

}  // namespace

void parse_jira_file(std::string_view text, const JiraContext& c, RecordSink& sink) {
  auto one = [&](const Json& j) { return issue(j, c, sink); };
  // A search page: the records of its "issues" array one by one (salvages a damaged page).
  std::size_t start = std::string_view::npos;
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '[') start = first;
  if (start == std::string_view::npos) start = find_array_after_key(text, "issues");
  if (start != std::string_view::npos) {
    for_each_record(text.substr(start), c.file, c.max_record_bytes, sink, one);
    return;
  }
  // One issue.
  if (text.size() > c.max_record_bytes) {
    sink.skip(c.file, SkipReason::kTooLarge, std::to_string(text.size()) + " bytes");
    return;
  }
  std::string error;
  auto j = parse_json(text, &error);
  if (!j) {
    sink.skip(c.file, SkipReason::kMalformed, error);
    return;
  }
  if (!j->is_object()) {
    sink.skip(c.file, SkipReason::kMalformed, std::string("a ") + j->type_name() + ", not an issue");
    return;
  }
  std::string problem;
  try {
    problem = one(*j);
  } catch (const std::exception& e) {
    problem = e.what();
  }
  if (!problem.empty()) sink.skip(c.file, SkipReason::kMalformed, problem);
}

}  // namespace strata::context::detail
