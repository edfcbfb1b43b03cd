#include "context/query.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "context/text.h"

namespace strata::context::detail {

namespace {

const std::unordered_set<std::string>& stop_words() {
  static const std::unordered_set<std::string> words = {
      "a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "are",
      "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
      "by", "can", "could", "did", "do", "does", "doesn", "doing", "don", "down", "during",
      "each", "either", "else", "etc", "even", "ever", "every", "few", "for", "from", "further",
      "get", "gets", "got", "had", "has", "have", "having", "he", "her", "here", "hers", "him",
      "his", "how", "however", "i", "if", "im", "in", "into", "is", "isn", "it", "its", "itself",
      "just", "let", "like", "ll", "me", "might", "more", "most", "much", "must", "my", "no",
      "nor", "not", "now", "of", "off", "on", "once", "one", "only", "or", "other", "our", "out",
      "over", "own", "please", "re", "really", "s", "same", "seems", "she", "should", "so",
      "some", "such", "t", "than", "that", "the", "their", "them", "then", "there", "these",
      "they", "this", "those", "through", "to", "too", "under", "until", "up", "us", "use",
      "used", "using", "ve", "very", "was", "wasn", "way", "we", "were", "what", "when", "where",
      "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours",
      "want", "think", "know", "see", "seem", "make", "made", "thing", "things", "something",
      "still", "well", "way", "though", "since", "shouldn", "wouldn", "couldn", "didn", "won",
      "maybe", "thanks", "thank", "hi", "hello", "example", "examples", "following", "currently",
      "expected", "actual", "output", "result", "results", "returns", "return", "gives", "give",
      "issue", "problem", "bug", "fix", "fixed", "error", "wrong", "works", "work", "working",
      "code", "case", "cases", "new", "old", "instead", "e", "g", "ie", "eg", "x", "y", "z",
      // Python / general keywords
      "def", "class", "self", "import", "none", "true", "false", "pass", "elif", "print",
      "lambda", "yield", "assert", "raise", "try", "except", "finally", "global", "nonlocal",
      "args", "kwargs", "int", "str", "float", "list", "dict", "tuple", "set", "object", "var",
      "const", "void", "auto", "null", "nil", "func", "fn", "function", "new", "public",
      "private", "static", "return", "true", "false", "traceback", "recent", "call", "last",
      "file", "line", "module", "most", "py"};
  return words;
}

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool code_like(std::string_view w) {
  if (w.find('_') != std::string_view::npos) return true;
  bool lower_seen = false;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const char c = w[i];
    if (c >= 'a' && c <= 'z') lower_seen = true;
    if (c >= 'A' && c <= 'Z' && i > 0 && lower_seen) return true;  // camelCase / CamelCase
  }
  return false;
}

bool known_extension(std::string_view ext) {
  for (std::string_view e : {"py", "pyx", "pyi", "c", "h", "cc", "cpp", "hpp", "cxx", "js", "jsx",
                             "ts", "tsx", "go", "rs", "java", "rb", "md", "rst", "txt", "cfg",
                             "toml", "json", "yaml", "yml"}) {
    if (ext == e) return true;
  }
  return false;
}

// Marks bytes that are code: fenced blocks, inline backticks, REPL/indented lines.
std::vector<char> code_mask(std::string_view text) {
  std::vector<char> mask(text.size(), 0);
  std::size_t i = 0;
  bool fenced = false;
  while (i < text.size()) {
    std::size_t nl = text.find('\n', i);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(i, nl - i);
    std::size_t first = line.find_first_not_of(" \t");
    std::string_view trimmed = first == std::string_view::npos ? std::string_view() : line.substr(first);
    if (trimmed.substr(0, 3) == "```" || trimmed.substr(0, 3) == "~~~") {
      fenced = !fenced;
    } else if (fenced || trimmed.substr(0, 3) == ">>>" || trimmed.substr(0, 4) == "... " ||
               trimmed.substr(0, 3) == "In " || trimmed.substr(0, 4) == "Out[" ||
               line.substr(0, 4) == "    " || line.substr(0, 1) == "\t") {
      std::fill(mask.begin() + static_cast<std::ptrdiff_t>(i), mask.begin() + static_cast<std::ptrdiff_t>(nl), 1);
    } else {
      // Inline `code`.
      std::size_t p = 0;
      while (p < line.size()) {
        const std::size_t open = line.find('`', p);
        if (open == std::string_view::npos) break;
        const std::size_t close = line.find('`', open + 1);
        if (close == std::string_view::npos) break;
        std::fill(mask.begin() + static_cast<std::ptrdiff_t>(i + open),
                  mask.begin() + static_cast<std::ptrdiff_t>(i + close + 1), 1);
        p = close + 1;
      }
    }
    i = nl + 1;
  }
  return mask;
}

}  // namespace

TaskAnalysis analyze_task(std::string_view text) {
  TaskAnalysis a;
  if (text.size() > 200000) text = text.substr(0, 200000);
  const auto mask = code_mask(text);
  const std::size_t first_nl = text.find('\n');
  const std::size_t title_end = first_nl == std::string_view::npos ? text.size() : first_nl;
  const auto& stops = stop_words();

  std::unordered_map<std::string, double> term_weight;
  std::unordered_map<std::string, double> ident_weight;
  std::vector<std::string> term_order;
  std::vector<std::string> ident_order;
  auto add_term = [&](const std::string& t, double w) {
    if (t.size() < 2 || stops.count(t)) return;
    auto [it, fresh] = term_weight.emplace(t, 0.0);
    if (fresh) term_order.push_back(t);
    it->second += w;
  };
  auto add_ident = [&](const std::string& t, double w) {
    if (t.size() < 2 || stops.count(t)) return;
    auto [it, fresh] = ident_weight.emplace(t, 0.0);
    if (fresh) ident_order.push_back(t);
    it->second += w;
  };

  // Words, with context: code regions, calls, dotted names, paths.
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    if (!is_word_char(text[i]) || (i > 0 && is_word_char(text[i - 1]))) {
      ++i;
      continue;
    }
    // A dotted/pathy token: words joined by '.' or '/'.
    std::size_t j = i;
    while (j < n) {
      if (is_word_char(text[j]) ||
          ((text[j] == '.' || text[j] == '/') && j + 1 < n && is_word_char(text[j + 1]))) {
        ++j;
      } else if (text[j] == ':' && j + 2 < n && text[j + 1] == ':' && is_word_char(text[j + 2])) {
        j += 2;  // C++ / Rust paths: Hub::append
      } else {
        break;
      }
    }
    std::string_view token = text.substr(i, j - i);
    const bool in_code = mask[i] != 0;
    const bool in_title = i < title_end;
    const bool call = j < n && text[j] == '(';
    const double place = (in_title ? 2.0 : 1.0);
    // Paths and file names.
    const auto last_dot = token.rfind('.');
    const bool has_slash = token.find('/') != std::string_view::npos;
    if (last_dot != std::string_view::npos && known_extension(token.substr(last_dot + 1)) &&
        (has_slash || token.find('.') == last_dot)) {
      a.paths.emplace_back(token);
    } else if ((token.find('.') != std::string_view::npos || token.find("::") != std::string_view::npos) &&
               !has_slash) {
      std::string d = lower(token);
      for (std::size_t c = d.find("::"); c != std::string::npos; c = d.find("::", c)) d.replace(c, 2, ".");
      a.dotted.push_back(std::move(d));
    }
    // Every word of the token.
    std::size_t k = 0;
    std::vector<std::string_view> parts;
    while (k < token.size()) {
      std::size_t e = k;
      while (e < token.size() && is_word_char(token[e])) ++e;
      if (e > k) parts.push_back(token.substr(k, e - k));
      k = e + 1;
    }
    for (std::size_t p = 0; p < parts.size(); ++p) {
      const std::string_view w = parts[p];
      if (w.size() > 64 || (w[0] >= '0' && w[0] <= '9')) continue;
      const std::string lw = lower(w);
      const bool dotted_part = parts.size() > 1 && !has_slash;
      const bool is_call = call && p + 1 == parts.size();
      const bool codey = in_code || is_call || code_like(w) || dotted_part;
      // Index terms: the whole word plus its identifier parts.
      std::string terms = index_terms(w);
      std::size_t s = 0;
      bool whole = true;
      while (s < terms.size()) {
        std::size_t e = terms.find(' ', s);
        if (e == std::string::npos) e = terms.size();
        if (e > s) {
          add_term(terms.substr(s, e - s), place * (codey ? 2.0 : 1.0) * (whole ? 1.0 : 0.5));
        }
        whole = false;
        s = e + 1;
      }
      if (codey) {
        double w8 = place * (is_call ? 2.0 : 1.0) * (in_code ? 1.0 : 1.5);
        std::string key = lw;
        const std::size_t b = key.find_first_not_of('_');
        if (b == std::string::npos) continue;
        key = key.substr(b, key.find_last_not_of('_') - b + 1);
        add_ident(key, w8);
      }
    }
    i = j;
  }

  // Stack frames: File "path", line N, in func
  std::size_t pos = 0;
  while ((pos = text.find("File \"", pos)) != std::string_view::npos) {
    const std::size_t start = pos + 6;
    const std::size_t end = text.find('"', start);
    if (end == std::string_view::npos || end - start > 1024) break;
    StackFrame f;
    f.path = std::string(text.substr(start, end - start));
    std::size_t q = end + 1;
    const std::size_t line_kw = text.find("line ", q);
    if (line_kw != std::string_view::npos && line_kw < q + 8) {
      q = line_kw + 5;
      while (q < n && text[q] >= '0' && text[q] <= '9' && f.line < 100000000) {
        f.line = f.line * 10 + (text[q] - '0');
        ++q;
      }
    }
    const std::size_t in_kw = text.find(", in ", q);
    if (in_kw != std::string_view::npos && in_kw < q + 4) {
      std::size_t r = in_kw + 5;
      std::size_t e = r;
      while (e < n && is_word_char(text[e])) ++e;
      f.function = std::string(text.substr(r, e - r));
    }
    a.frames.push_back(std::move(f));
    pos = end + 1;
  }

  // Line-oriented facts: import statements, the class of an exception message.
  {
    std::size_t ls = 0;
    while (ls < n) {
      std::size_t le = text.find('\n', ls);
      if (le == std::string_view::npos) le = n;
      std::string_view line = text.substr(ls, le - ls);
      ls = le + 1;
      // Strip REPL prompts and indentation.
      for (bool again = true; again;) {
        again = false;
        const std::size_t f = line.find_first_not_of(" \t");
        if (f == std::string_view::npos) {
          line = {};
          break;
        }
        line.remove_prefix(f);
        if (line.substr(0, 4) == ">>> " || line.substr(0, 4) == "... ") {
          line.remove_prefix(4);
          again = true;
        } else if (line.substr(0, 3) == "In " || line.substr(0, 3) == "In[") {
          const std::size_t close = line.find("]:");
          if (close != std::string_view::npos && close < 12) {
            line.remove_prefix(close + 2);
            again = true;
          }
        }
      }
      if (line.empty()) continue;
      auto next_word = [](std::string_view& rest) {
        const std::size_t b = rest.find_first_not_of(" \t,()");
        if (b == std::string_view::npos) {
          rest = {};
          return std::string_view();
        }
        rest.remove_prefix(b);
        std::size_t e = 0;
        while (e < rest.size() && (is_word_char(rest[e]) || rest[e] == '.')) ++e;
        const std::string_view w = rest.substr(0, e);
        rest.remove_prefix(e == 0 ? 1 : e);
        return w;
      };
      if (line.substr(0, 5) == "from " || line.substr(0, 7) == "import ") {
        std::string_view rest = line;
        std::string module;
        if (line.substr(0, 5) == "from ") {
          rest.remove_prefix(5);
          module = lower(next_word(rest));
          if (next_word(rest) != "import") continue;
        } else {
          rest.remove_prefix(7);
        }
        std::size_t guard = 0;
        while (!rest.empty() && ++guard < 64) {
          const std::string_view w = next_word(rest);
          if (w.empty()) continue;
          if (w == "as") {
            (void)next_word(rest);
            continue;
          }
          if (module.empty()) {
            a.imported_modules.push_back(lower(w));
          } else {
            a.imported_names.emplace_back(module, lower(w));
          }
        }
        if (!module.empty()) a.imported_modules.push_back(module);
        continue;
      }
      // "AttributeError: 'Contains' object has no attribute 'as_relational'": a class.
      std::size_t e = 0;
      while (e < line.size() && (is_word_char(line[e]) || line[e] == '.')) ++e;
      if (e > 0 && e + 2 < line.size() && line[e] == ':' && line[e + 1] == ' ') {
        const std::string_view name = line.substr(0, e);
        auto ends = [&](std::string_view suf) {
          return name.size() >= suf.size() && name.substr(name.size() - suf.size()) == suf;
        };
        if (ends("Error") || ends("Exception") || ends("Warning")) {
          const std::string_view msg = line.substr(e + 2, 300);
          // "'Contains' object has no attribute 'as_relational'"
          if (msg.size() > 2 && (msg[0] == '\'' || msg[0] == '"')) {
            const std::size_t close = msg.find(msg[0], 1);
            if (close != std::string_view::npos && close > 1 && msg.substr(close + 1, 8) == " object ") {
              a.class_words.push_back(lower(msg.substr(1, close - 1)));
            }
          }
        }
      }
    }
  }
  // "the Pow class", "class Pow", "'Contains' object", "Foo objects"
  {
    std::vector<std::pair<std::size_t, std::size_t>> words;  // [begin, end)
    std::size_t p = 0;
    while (p < n && words.size() < 20000) {
      if (!is_word_char(text[p])) {
        ++p;
        continue;
      }
      std::size_t q = p;
      while (q < n && is_word_char(text[q])) ++q;
      words.emplace_back(p, q);
      p = q;
    }
    auto word_at = [&](std::size_t k) { return text.substr(words[k].first, words[k].second - words[k].first); };
    auto capital = [](std::string_view w) { return !w.empty() && w[0] >= 'A' && w[0] <= 'Z'; };
    for (std::size_t k = 0; k < words.size(); ++k) {
      const std::string_view w = word_at(k);
      if (mask[words[k].first]) continue;  // prose only; code has its own identifiers
      if ((w == "class" || w == "object" || w == "objects" || w == "instance" || w == "instances") && k > 0 &&
          words[k - 1].second + 3 >= words[k].first) {
        const std::string_view prev = word_at(k - 1);
        if (capital(prev) && prev.size() >= 2 && !stops.count(lower(prev))) a.class_words.push_back(lower(prev));
      }
      if (w == "class" && k + 1 < words.size() && words[k].second + 3 >= words[k + 1].first) {
        const std::string_view nxt = word_at(k + 1);
        if (capital(nxt) && nxt.size() >= 2 && !stops.count(lower(nxt))) a.class_words.push_back(lower(nxt));
      }
    }
    for (std::size_t k = 0; k < words.size() && words[k].first < title_end; ++k) {
      const std::string_view w = word_at(k);
      if (!capital(w) || w.size() < 2 || stops.count(lower(w))) continue;
      a.title_caps.push_back(lower(w));
    }
    std::sort(a.title_caps.begin(), a.title_caps.end());
    a.title_caps.erase(std::unique(a.title_caps.begin(), a.title_caps.end()), a.title_caps.end());
    std::sort(a.class_words.begin(), a.class_words.end());
    a.class_words.erase(std::unique(a.class_words.begin(), a.class_words.end()), a.class_words.end());
  }

  const std::string title = lower(text.substr(0, title_end));
  for (std::string_view w : {"test", "tests", "pytest", "doctest", "testing", "unittest"}) {
    for_each_word(title, [&](std::string_view word) {
      if (word == w) a.about_tests = true;
    });
  }

  // Dampen repetition: weight = log-scaled sum.
  for (const auto& t : term_order) {
    a.terms.push_back({t, 1.0 + std::log1p(term_weight[t])});
  }
  for (const auto& t : ident_order) {
    a.identifiers.push_back({t, 1.0 + std::log1p(ident_weight[t])});
  }
  auto by_weight = [](const WeightedTerm& x, const WeightedTerm& y) { return x.weight > y.weight; };
  std::stable_sort(a.terms.begin(), a.terms.end(), by_weight);
  std::stable_sort(a.identifiers.begin(), a.identifiers.end(), by_weight);
  std::sort(a.dotted.begin(), a.dotted.end());
  a.dotted.erase(std::unique(a.dotted.begin(), a.dotted.end()), a.dotted.end());
  for (auto* v : {&a.imported_modules}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  std::sort(a.imported_names.begin(), a.imported_names.end());
  a.imported_names.erase(std::unique(a.imported_names.begin(), a.imported_names.end()), a.imported_names.end());
  std::sort(a.paths.begin(), a.paths.end());
  a.paths.erase(std::unique(a.paths.begin(), a.paths.end()), a.paths.end());
  return a;
}

}  // namespace strata::context::detail
