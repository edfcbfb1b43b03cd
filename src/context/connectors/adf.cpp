// Atlassian Document Format (Jira REST v3 rich text) -> plain text.
#include "context/connectors/json_util.h"

namespace strata::context::detail {

namespace {

constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxText = 4 << 20;

bool is_block(const std::string& type) {
  return type == "paragraph" || type == "heading" || type == "codeBlock" || type == "blockquote" ||
         type == "listItem" || type == "tableRow" || type == "panel" || type == "rule" ||
         type == "mediaSingle" || type == "expand";
}

void walk(const Json& node, int depth, std::string& out) {
  if (out.size() > kMaxText || depth > kMaxDepth) return;
  if (node.is_string()) {
    out += node.get_ref<const std::string&>();
    return;
  }
  if (node.is_array()) {
    for (const auto& n : node) walk(n, depth + 1, out);
    return;
  }
  if (!node.is_object()) return;
  const std::string type = str(node, "type");
  if (type == "text") {
    out += str(node, "text");
    return;
  }
  if (type == "hardBreak") {
    out += '\n';
    return;
  }
  const Json* attrs = member(node, "attrs");
  if (attrs && attrs->is_object()) {
    if (type == "mention") {
      const std::string t = str(*attrs, "text");
      out += t.empty() ? "@" + str(*attrs, "id") : t;
      return;
    }
    if (type == "emoji") {
      out += str(*attrs, "shortName");
      return;
    }
    if (type == "inlineCard" || type == "blockCard") {
      out += str(*attrs, "url");
      return;
    }
    if (type == "status" || type == "date") {
      out += str(*attrs, "text");
      return;
    }
  }
  if (type == "listItem") out += "- ";
  if (const Json* content = member(node, "content"); content && content->is_array()) {
    for (const auto& n : *content) walk(n, depth + 1, out);
  }
  if (is_block(type) && !out.empty() && out.back() != '\n') out += '\n';
}

}  // namespace

std::string adf_to_text(const Json& node) {
  std::string out;
  walk(node, 0, out);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace strata::context::detail
