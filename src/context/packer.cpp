// Packing retrieved spans into a token budget (rules in docs/context.md, "Packing").
#include <algorithm>
#include <unordered_set>

#include "context/engine_impl.h"
#include "context/packet_render.h"
#include "context/sqlite_util.h"
#include "context/text.h"

namespace strata::context::detail {

namespace {

// Lines [first, last] (1-based, inclusive) of `body`.
std::string lines_of(std::string_view body, const std::vector<std::size_t>& starts, int first, int last) {
  if (starts.empty() || first < 1 || last < first) return "";
  const std::size_t b = starts[std::min(starts.size() - 1, static_cast<std::size_t>(first - 1))];
  const std::size_t e = static_cast<std::size_t>(last) < starts.size() ? starts[static_cast<std::size_t>(last)] : body.size();
  return std::string(body.substr(b, e > b ? e - b : 0));
}

std::vector<std::size_t> line_starts(std::string_view body) {
  std::vector<std::size_t> starts{0};
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\n' && i + 1 < body.size()) starts.push_back(i + 1);
  }
  return starts;
}

}  // namespace

Result<Packet> EngineImpl::pack(const Query& query, const PackOptions& options) const {
  std::shared_ptr<const Tokenizer> tok = options.tokenizer ? options.tokenizer : estimate_tokenizer();
  if (!tok) return invalid_argument_error("no tokenizer");
  Query q = query;
  q.max_files = options.max_files;
  q.max_spans = std::max<std::size_t>(q.max_spans, 60);
  auto retrieved = retrieve(q);
  if (!retrieved.ok()) return retrieved.status();

  Packet p;
  p.task = query.text;
  p.budget = options.budget;
  p.format = options.format;
  p.tokenizer = std::string(tok->name());
  p.exact_counts = tok->exact();
  p.index_commit = retrieved->index_commit;
  const bool json = options.format == PacketFormat::kJson;
  auto count = [&](const std::string& s) -> std::size_t {
    try {
      return tok->count(s);
    } catch (...) {
      return s.size() + 1;  // a throwing tokenizer must not break the budget
    }
  };
  auto item_cost = [&](const PacketItem& item) {
    return count(json ? render_json_item(item) : render_markdown_item(item)) + (json ? 1 : 0);
  };
  const std::size_t header_cost = count(json ? render_json(p) : render_markdown_header(p));
  if (header_cost > options.budget) {
    p.header = false;
    p.used_tokens = 0;
    for (const auto& f : retrieved->files) p.omitted.push_back(f.path);
    return p;
  }
  std::size_t used = header_cost;

  // File contents, loaded once per file.
  std::unordered_map<std::string, std::pair<std::string, std::vector<std::size_t>>> bodies;
  {
    auto cat = catalog();
    std::lock_guard lock(read_mu_);
    Stmt content(reader_.get(), "SELECT content FROM files WHERE id = ?1");
    if (!content.ok()) return sqlite_error(reader_.get(), "read content");
    for (const auto& f : retrieved->files) {
      const std::int64_t at = cat->find_path(f.path);
      if (at < 0) continue;
      content.reset().bind(1, cat->files[static_cast<std::size_t>(at)].id);
      if (content.step() == SQLITE_ROW) {
        std::string body = content.text(0);
        auto starts = line_starts(body);
        bodies.emplace(f.path, std::make_pair(std::move(body), std::move(starts)));
      }
    }
  }

  struct Taken {
    int first, last;
  };
  std::unordered_map<std::string, std::vector<Taken>> taken;
  std::unordered_set<std::string> seen_text;
  auto overlaps = [&](const std::string& path, int first, int last) {
    for (const auto& t : taken[path]) {
      if (first <= t.last && t.first <= last) return true;
    }
    return false;
  };
  auto try_add = [&](PacketItem item) {
    const std::string key = content_hash(item.text);
    if (item.text.empty() || seen_text.count(key)) return false;  // duplicates (copies, forks)
    item.tokens = item_cost(item);
    if (used + item.tokens > options.budget) return false;
    used += item.tokens;
    seen_text.insert(key);
    taken[item.path].push_back({item.start_line, item.end_line});
    p.items.push_back(std::move(item));
    return true;
  };
  auto why_of = [](const std::vector<Signal>& signals) {
    std::vector<std::string> out;
    for (const auto& s : signals) out.push_back(s.name + (s.detail.empty() ? "" : ": " + s.detail));
    return out;
  };

  // Small files that rank with no span of their own go in whole; otherwise spans, best
  // first, each whole if it fits, else as its signature.
  std::unordered_set<std::string> has_span;
  for (const auto& s : retrieved->spans) has_span.insert(s.path);
  std::size_t span_i = 0;
  for (const auto& f : retrieved->files) {
    auto bit = bodies.find(f.path);
    if (bit == bodies.end()) continue;
    const auto& [body, starts] = bit->second;
    // Spans of files ranked at or above this one come first.
    for (; span_i < retrieved->spans.size(); ++span_i) {
      const auto& s = retrieved->spans[span_i];
      if (s.score < f.score * 0.3) break;
      auto sb = bodies.find(s.path);
      if (sb == bodies.end() || overlaps(s.path, s.start_line, s.end_line)) continue;
      PacketItem item;
      item.path = s.path;
      item.commit = s.commit;
      item.kind = s.kind;
      item.symbol = s.symbol;
      item.score = s.score;
      item.why = why_of(s.why);
      item.start_line = s.start_line;
      item.end_line = s.end_line;
      item.form = ItemForm::kSpan;
      item.text = lines_of(sb->second.first, sb->second.second, s.start_line, s.end_line);
      if (try_add(item)) continue;
      if (s.signature_end_line < s.end_line && s.kind != ChunkKind::kBlock && s.kind != ChunkKind::kFile) {
        item.form = ItemForm::kSignature;
        item.end_line = s.signature_end_line;
        item.text = lines_of(sb->second.first, sb->second.second, s.start_line, s.signature_end_line) + "    ...\n";
        try_add(item);
      }
    }
    if (!has_span.count(f.path) && starts.size() <= 80 && !overlaps(f.path, 1, static_cast<int>(starts.size()))) {
      PacketItem item;
      item.path = f.path;
      item.commit = f.commit;
      item.kind = ChunkKind::kFile;
      item.form = ItemForm::kFile;
      item.score = f.score;
      item.why = why_of(f.why);
      item.start_line = 1;
      item.end_line = static_cast<int>(starts.size());
      item.text = body;
      try_add(item);
    }
  }
  for (; span_i < retrieved->spans.size(); ++span_i) {
    const auto& s = retrieved->spans[span_i];
    // Blocks and whole-file chunks have no signature worth citing on its own.
    if (s.kind == ChunkKind::kBlock || s.kind == ChunkKind::kFile) continue;
    auto sb = bodies.find(s.path);
    if (sb == bodies.end() || overlaps(s.path, s.start_line, s.end_line)) continue;
    PacketItem item;
    item.path = s.path;
    item.commit = s.commit;
    item.kind = s.kind;
    item.symbol = s.symbol;
    item.score = s.score;
    item.why = why_of(s.why);
    item.start_line = s.start_line;
    item.end_line = s.signature_end_line;
    item.form = ItemForm::kSignature;
    item.text = lines_of(sb->second.first, sb->second.second, s.start_line, s.signature_end_line) + "    ...\n";
    try_add(item);
  }

  // The sum of the parts is an estimate of the whole (BPE merges across boundaries); measure
  // the real rendering and drop the last items until it fits.
  while (true) {
    const std::size_t total = count(p.render());
    if (total <= options.budget) {
      p.used_tokens = total;
      break;
    }
    if (p.items.empty()) {
      p.header = false;
      p.used_tokens = 0;
      break;
    }
    p.items.pop_back();
  }
  std::unordered_set<std::string> in_packet;
  for (const auto& item : p.items) in_packet.insert(item.path);
  for (const auto& f : retrieved->files) {
    if (!in_packet.count(f.path)) p.omitted.push_back(f.path);
  }
  return p;
}

}  // namespace strata::context::detail
