// CODEOWNERS: parsing, matching and a connector (strata/context/connectors.h).
#include <algorithm>

#include <strata/context/connectors.h>

#include "context/connectors/records.h"
#include "context/gitignore.h"
#include "context/text.h"

namespace strata::context {

namespace {

using namespace detail;

constexpr std::size_t kMaxLine = 4096;

bool valid_owner(std::string_view o) {
  if (o.size() < 2) return false;
  if (o[0] == '@') {
    for (char c : o.substr(1)) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '/' || c == '.';
      if (!ok) return false;
    }
    return true;
  }
  const auto at = o.find('@');
  return at != std::string_view::npos && at > 0 && at + 1 < o.size() && o.find_first_of(" \t") == std::string_view::npos;
}

bool rule_matches(const CodeOwnersRule& rule, std::string_view path) {
  GitignoreMatcher m;
  m.add_patterns(rule.pattern);
  if (m.match(path, false).value_or(false)) return true;
  // A directory pattern owns everything inside it.
  for (std::size_t slash = path.find('/'); slash != std::string_view::npos; slash = path.find('/', slash + 1)) {
    if (m.match(path.substr(0, slash), true).value_or(false)) return true;
  }
  return false;
}

class CodeOwnersConnector final : public Connector {
 public:
  explicit CodeOwnersConnector(CodeOwnersOptions o) : options_(std::move(o)) {}
  std::string id() const override { return options_.id; }

  Result<ScanResult> scan(std::string_view, IngestSink& sink) override {
    auto text = read_whole_file(options_.path, 3 << 20);  // GitHub ignores files over 3 MB
    if (!text.ok()) return text.status();
    const std::string path = "codeowners:" + options_.path;
    ScanResult r;
    r.complete = true;
    std::vector<std::string> errors;
    const auto rules = parse_codeowners(*text, &errors);
    Document d;
    d.kind = DocumentKind::kOwnership;
    d.path = path;
    d.title = "CODEOWNERS";
    d.access = options_.access;
    for (const auto& rule : rules) {
      for (const auto& o : rule.owners) {
        const std::string p = "owns:" + o;
        if (std::find(d.participants.begin(), d.participants.end(), p) == d.participants.end()) {
          d.participants.push_back(p);
        }
      }
    }
    d.content = std::move(*text);
    // The whole document is the key: the access option can change alone.
    if (sink.unchanged(path, document_key(d))) return r;
    for (const auto& e : errors) sink.skipped(path, SkipReason::kMalformed, e);
    STRATA_RETURN_IF_ERROR(sink.put(std::move(d)));
    return r;
  }

 private:
  CodeOwnersOptions options_;
};

}  // namespace

std::vector<CodeOwnersRule> parse_codeowners(std::string_view text, std::vector<std::string>* errors) {
  std::vector<CodeOwnersRule> rules;
  std::size_t pos = 0;
  int line_no = 0;
  auto error = [&](std::string what) {
    if (errors && errors->size() < 100) errors->push_back("line " + std::to_string(line_no) + ": " + what);
  };
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.size() > kMaxLine) {
      error("longer than 4096 bytes");
      continue;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // Comments: '#' at the start or after whitespace (an escaped "\#" stays).
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
        line = line.substr(0, i);
        break;
      }
    }
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      std::string w;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') {
        if (line[i] == '\\' && i + 1 < line.size()) ++i;  // "\ " and "\#"
        w += line[i++];
      }
      if (!w.empty()) words.push_back(std::move(w));
    }
    if (words.empty()) continue;
    if (!valid_utf8(words[0])) {
      error("the pattern is not valid UTF-8");
      continue;
    }
    CodeOwnersRule rule;
    rule.pattern = words[0];
    rule.line = line_no;
    bool bad = false;
    for (std::size_t k = 1; k < words.size(); ++k) {
      if (!valid_owner(words[k])) {
        error("\"" + std::string(utf8_prefix(words[k], 80)) + "\" is not an owner (@user, @org/team or an email)");
        bad = true;
        break;
      }
      rule.owners.push_back(words[k]);
    }
    if (bad) continue;  // GitHub ignores such a line too
    rules.push_back(std::move(rule));
  }
  return rules;
}

std::unique_ptr<Connector> make_codeowners_connector(CodeOwnersOptions options) {
  return std::make_unique<CodeOwnersConnector>(std::move(options));
}

std::vector<std::string> codeowners_of(const std::vector<CodeOwnersRule>& rules, std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    if (rule_matches(*it, path)) return it->owners;
  }
  return {};
}

}  // namespace strata::context
