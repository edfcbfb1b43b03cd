// Rendering packets as Markdown and JSON.
#include <nlohmann/json.hpp>

#include <strata/context/packet.h>

#include "context/packet_render.h"
#include "context/text.h"

namespace strata::context {

std::string_view to_string(ItemForm form) noexcept {
  switch (form) {
    case ItemForm::kSpan: return "span";
    case ItemForm::kSignature: return "signature";
    case ItemForm::kFile: return "file";
  }
  return "unknown";
}

std::string PacketItem::citation() const {
  std::string c = path + ":" + std::to_string(start_line) + "-" + std::to_string(end_line);
  if (!commit.empty()) c += "@" + commit.substr(0, 12);
  return c;
}

namespace detail {

namespace {

std::string first_line(std::string_view s, std::size_t max) {
  const auto nl = s.find('\n');
  std::string out(s.substr(0, std::min(nl == std::string_view::npos ? s.size() : nl, max)));
  if (!valid_utf8(out)) {
    // Drop a cut multi-byte sequence at the end, or anything invalid.
    std::string clean;
    for (char c : out) {
      if (static_cast<unsigned char>(c) < 0x80) clean.push_back(c);
    }
    return clean;
  }
  return out;
}

std::string fence_for(std::string_view text) {
  std::string fence = "```";
  while (text.find(fence) != std::string_view::npos) fence.push_back('`');
  return fence;
}

}  // namespace

std::string render_markdown_header(const Packet& p) {
  std::string out = "# Context: " + first_line(p.task, 160) + "\n\n";
  out += "budget " + std::to_string(p.budget) + " tokens (" + p.tokenizer +
         (p.exact_counts ? ", exact" : ", estimated") + ")";
  if (!p.index_commit.empty()) out += " · index @" + p.index_commit.substr(0, 12);
  out += "\n";
  return out;
}

std::string render_markdown_item(const PacketItem& item) {
  std::string out = "\n## " + item.citation();
  if (!item.symbol.empty()) {
    out += " — " + std::string(to_string(item.kind)) + " `" + item.symbol + "`";
  }
  if (item.form != ItemForm::kSpan) out += " (" + std::string(to_string(item.form)) + ")";
  out += "\n";
  const std::string fence = fence_for(item.text);
  out += fence + std::string(language_for_path(item.path)) + "\n" + item.text;
  if (!item.text.empty() && item.text.back() != '\n') out += "\n";
  out += fence + "\n";
  return out;
}

namespace {

nlohmann::json item_json(const PacketItem& item) {
  nlohmann::json j;
  j["citation"] = item.citation();
  j["path"] = item.path;
  j["commit"] = item.commit;
  j["start_line"] = item.start_line;
  j["end_line"] = item.end_line;
  j["kind"] = std::string(to_string(item.kind));
  j["symbol"] = item.symbol;
  j["form"] = std::string(to_string(item.form));
  j["score"] = item.score;
  j["why"] = item.why;
  j["text"] = item.text;
  return j;
}

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string render_json_item(const PacketItem& item) { return dump(item_json(item)); }

std::string render_json(const Packet& p) {
  nlohmann::json j;
  j["task"] = first_line(p.task, 160);
  j["budget"] = p.budget;
  j["tokenizer"] = p.tokenizer;
  j["exact_counts"] = p.exact_counts;
  j["index_commit"] = p.index_commit;
  j["items"] = nlohmann::json::array();
  for (const auto& item : p.items) j["items"].push_back(item_json(item));
  return dump(j);
}

}  // namespace detail

std::string Packet::to_markdown() const {
  if (!header) return "";
  std::string out = detail::render_markdown_header(*this);
  for (const auto& item : items) out += detail::render_markdown_item(item);
  return out;
}

std::string Packet::to_json() const {
  if (!header) return "";
  return detail::render_json(*this);
}

std::string Packet::render() const { return format == PacketFormat::kJson ? to_json() : to_markdown(); }

}  // namespace strata::context
