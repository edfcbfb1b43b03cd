// Markdown trees and ADR status (strata/context/connectors.h).
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include <strata/context/connectors.h>

#include "context/connectors/records.h"
#include "context/text.h"

namespace strata::context {

namespace {

using namespace detail;

std::string lower_copy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Strips list markers, emphasis and blockquote marks around a line: "- **Status**: x".
std::string_view unmark(std::string_view s) {
  s = trim(s);
  while (!s.empty() && (s.front() == '-' || s.front() == '*' || s.front() == '>' || s.front() == '_' ||
                        s.front() == ' ')) {
    s.remove_prefix(1);
  }
  return s;
}

// The status word of a status value ("Accepted (2024-01-02)", "**Superseded** by [ADR-7]").
std::string status_word(std::string_view value, int* superseded_by) {
  static constexpr std::string_view kWords[] = {"proposed", "accepted", "rejected", "deprecated", "superseded"};
  const std::string low = lower_copy(value);
  std::size_t best = std::string::npos;
  std::string found;
  for (auto w : kWords) {
    const auto pos = low.find(w);
    if (pos != std::string::npos && pos < best) {
      best = pos;
      found = std::string(w);
    }
  }
  if (found == "superseded" && superseded_by) {
    const auto by = low.find("by", best);
    if (by != std::string::npos) {
      std::size_t i = by + 2;
      while (i < low.size() && (low[i] < '0' || low[i] > '9')) ++i;
      int n = 0, nd = 0;
      while (i < low.size() && low[i] >= '0' && low[i] <= '9' && nd < 7) n = n * 10 + (low[i++] - '0'), ++nd;
      *superseded_by = n;
    }
  }
  return found;
}

bool is_adr_path(std::string_view rel) {
  const std::string low = lower_copy(rel);
  for (std::string_view dir : {"adr/", "adrs/", "decisions/", "decision-records/"}) {
    if (low.compare(0, dir.size(), dir) == 0 || low.find("/" + std::string(dir)) != std::string::npos) return true;
  }
  const auto slash = low.rfind('/');
  std::string_view name = std::string_view(low).substr(slash == std::string::npos ? 0 : slash + 1);
  std::size_t digits = 0;
  while (digits < name.size() && name[digits] >= '0' && name[digits] <= '9') ++digits;
  return digits >= 3 && digits < name.size() && name[digits] == '-';
}

int adr_number(std::string_view rel) {
  const auto slash = rel.rfind('/');
  std::string_view name = rel.substr(slash == std::string_view::npos ? 0 : slash + 1);
  std::size_t i = 0;
  while (i < name.size() && (name[i] < '0' || name[i] > '9')) {
    if (name[i] != '-' && name[i] != '_' && !(name[i] >= 'a' && name[i] <= 'z') && !(name[i] >= 'A' && name[i] <= 'Z')) {
      return 0;
    }
    ++i;
  }
  int n = 0, nd = 0;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9' && nd < 7) n = n * 10 + (name[i++] - '0'), ++nd;
  return n;
}

std::string first_heading(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = trim(text.substr(pos, end - pos));
    if (line.size() > 2 && line[0] == '#') {
      while (!line.empty() && line.front() == '#') line.remove_prefix(1);
      return std::string(utf8_prefix(trim(line), 200));
    }
    pos = end + 1;
  }
  return "";
}

class DocsTreeConnector final : public Connector {
 public:
  explicit DocsTreeConnector(DocsTreeOptions o) : options_(std::move(o)) {}
  std::string id() const override { return options_.id; }

  Result<ScanResult> scan(std::string_view /*cursor*/, IngestSink& sink) override {
    namespace fs = std::filesystem;
    struct stat st {};
    if (::stat(options_.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return not_found_error("docs root is not a directory: " + options_.root);
    }
    std::vector<std::string> files;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(options_.root, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!name.empty() && name[0] == '.') {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      const std::string ext = lower_copy(it->path().extension().string());
      if ((ext == ".md" || ext == ".markdown") && it->is_regular_file(ec)) {
        files.push_back(fs::relative(it->path(), options_.root, ec).generic_string());
      }
    }
    std::sort(files.begin(), files.end());
    for (const auto& rel : files) {
      if (sink.cancelled()) return cancelled_error("scan cancelled");
      auto text = read_whole_file(options_.root + "/" + rel, options_.max_file_bytes);
      const std::string path = "docs:" + rel;
      if (!text.ok()) {
        sink.skipped(path, text.status().code() == StatusCode::kResourceExhausted ? SkipReason::kTooLarge
                                                                                  : SkipReason::kUnreadable,
                     text.status().message());
        continue;
      }
      if (!valid_utf8(*text)) {
        sink.skipped(path, SkipReason::kMalformed, "not valid UTF-8");
        continue;
      }
      Document d;
      d.kind = DocumentKind::kDoc;
      d.path = path;
      d.uri = options_.root + "/" + rel;
      d.title = first_heading(*text);
      if (is_adr_path(rel)) {
        int by = 0;
        d.status = adr_status(*text, &by);
        if (const int n = adr_number(rel); n > 0) d.title = "ADR " + std::to_string(n) + ": " + d.title;
        if (by > 0) d.links.push_back("adr:" + std::to_string(by));
      }
      d.access = options_.access;
      d.content = std::move(*text);
      // The whole document is the key: the access option can change alone.
      if (sink.unchanged(path, document_key(d))) continue;
      STRATA_RETURN_IF_ERROR(sink.put(std::move(d)));
    }
    ScanResult r;
    r.complete = true;
    return r;
  }

 private:
  DocsTreeOptions options_;
};

}  // namespace

std::string adr_status(std::string_view markdown, int* superseded_by) {
  if (superseded_by) *superseded_by = 0;
  bool in_status_section = false;
  std::size_t pos = 0;
  int lines = 0;
  while (pos < markdown.size() && lines++ < 400) {
    std::size_t end = markdown.find('\n', pos);
    if (end == std::string_view::npos) end = markdown.size();
    std::string_view line = trim(markdown.substr(pos, end - pos));
    pos = end + 1;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::string_view h = line;
      while (!h.empty() && h.front() == '#') h.remove_prefix(1);
      in_status_section = lower_copy(trim(h)) == "status";
      continue;
    }
    if (in_status_section) {
      std::string w = status_word(unmark(line), superseded_by);
      if (!w.empty()) return w;
      continue;
    }
    std::string_view u = unmark(line);
    const std::string low = lower_copy(u.substr(0, std::min<std::size_t>(u.size(), 12)));
    if (low.rfind("status", 0) == 0) {
      std::string_view rest = u.substr(6);
      while (!rest.empty() && (rest.front() == '*' || rest.front() == '_' || rest.front() == ' ')) rest.remove_prefix(1);
      if (!rest.empty() && rest.front() == ':') {
        std::string w = status_word(rest.substr(1), superseded_by);
        if (!w.empty()) return w;
      }
    }
  }
  return "";
}

std::unique_ptr<Connector> make_docs_tree_connector(DocsTreeOptions options) {
  return std::make_unique<DocsTreeConnector>(std::move(options));
}

}  // namespace strata::context
