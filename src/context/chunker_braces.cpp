// C, C++, Java, JavaScript/TypeScript, Go, Rust: definitions by braces.
//
// Comments and string literals are blanked (newlines kept), braces are matched, and at each
// definition level (top level, namespaces, class bodies) the text before a '{' — its header —
// says what the block is: a class-like type, a function, a namespace to descend into, or
// anything else (initialisers, control flow), which stays part of the surrounding code.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "context/chunker.h"

namespace strata::context::detail {

namespace {

bool ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9'); }

// Comments and strings become spaces; newlines stay so offsets map to the same lines.
std::string blank_comments_and_strings(std::string_view src, std::string_view language) {
  std::string out(src);
  const bool rust = language == "rust";
  const bool backticks = language == "javascript" || language == "typescript" || language == "go";
  const std::size_t n = src.size();
  std::size_t i = 0;
  auto blank = [&](std::size_t from, std::size_t to) {
    for (std::size_t k = from; k < to && k < n; ++k) {
      if (out[k] != '\n') out[k] = ' ';
    }
  };
  while (i < n) {
    const char c = src[i];
    if (c == '/' && i + 1 < n && src[i + 1] == '/') {
      std::size_t e = src.find('\n', i);
      if (e == std::string_view::npos) e = n;
      blank(i, e);
      i = e;
    } else if (c == '/' && i + 1 < n && src[i + 1] == '*') {
      std::size_t e = src.find("*/", i + 2);
      e = e == std::string_view::npos ? n : e + 2;
      blank(i, e);
      i = e;
    } else if (c == '"' || (c == '`' && backticks)) {
      std::size_t j = i + 1;
      while (j < n && src[j] != c) {
        if (src[j] == '\\') ++j;
        else if (src[j] == '\n' && c == '"') break;  // unterminated: stop at the line end
        ++j;
      }
      const std::size_t e = std::min(n, j + 1);
      blank(i + 1, e - 1 > i + 1 ? e - 1 : i + 1);
      i = e;
    } else if (c == '\'') {
      // A char literal ('x', '\n', '\u{1F600}') closes within a few bytes on the line; in
      // Rust a quote that does not is a lifetime ('a), elsewhere a JS string.
      std::size_t j = i + 1;
      const std::size_t limit = rust ? std::min(n, i + 12) : n;
      while (j < limit && src[j] != '\'' && src[j] != '\n') {
        if (src[j] == '\\') ++j;
        ++j;
      }
      if (j < limit && j < n && src[j] == '\'') {
        blank(i + 1, j);
        i = j + 1;
      } else {
        ++i;
      }
    } else {
      ++i;
    }
  }
  return out;
}

struct Scanner {
  std::string_view text;           // blanked source
  std::string_view language;
  std::vector<std::size_t> line_starts;
  std::vector<std::size_t> match;  // for each '{' offset: its '}' offset (or text.size())
  std::vector<Chunk> out;

  int line_of(std::size_t offset) const {
    auto it = std::upper_bound(line_starts.begin(), line_starts.end(), offset);
    return static_cast<int>(it - line_starts.begin());
  }
};

bool is_keyword(std::string_view w) {
  static constexpr std::string_view kw[] = {
      "if", "for", "while", "switch", "catch", "return", "sizeof", "do", "else", "try",
      "synchronized", "foreach", "match", "loop", "unsafe", "with", "new", "throw", "case",
      "decltype", "alignof", "typeof", "await", "yield", "defer", "go", "select", "using",
      "static_assert", "assert", "lock", "elif", "until", "when"};
  return std::find(std::begin(kw), std::end(kw), w) != std::end(kw);
}

std::vector<std::string_view> words_of(std::string_view s) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < s.size()) {
    if (ident_start(s[i])) {
      std::size_t j = i;
      while (j < s.size() && ident_char(s[j])) ++j;
      words.push_back(s.substr(i, j - i));
      i = j;
    } else {
      ++i;
    }
  }
  return words;
}

// Removes balanced <...> after "template", [...] attributes (#[..], [[..]]) and @Annotations
// (with their argument lists) so they do not look like declarations or calls.
std::string clean_header(std::string_view h) {
  std::string out;
  out.reserve(h.size());
  std::size_t i = 0;
  const std::size_t n = h.size();
  auto skip_balanced = [&](std::size_t at, char open, char close) {
    int depth = 0;
    std::size_t j = at;
    for (; j < n; ++j) {
      if (h[j] == open) ++depth;
      else if (h[j] == close && --depth == 0) return j + 1;
    }
    return n;
  };
  while (i < n) {
    if (h.substr(i, 8) == "template" && (i + 8 >= n || !ident_char(h[i + 8])) &&
        (i == 0 || !ident_char(h[i - 1]))) {
      std::size_t j = i + 8;
      while (j < n && (h[j] == ' ' || h[j] == '\n' || h[j] == '\t')) ++j;
      if (j < n && h[j] == '<') {
        i = skip_balanced(j, '<', '>');
        out.push_back(' ');
        continue;
      }
    }
    if (h[i] == '#' && i + 1 < n && (h[i + 1] == '[' || (h[i + 1] == '!' && i + 2 < n && h[i + 2] == '['))) {
      i = skip_balanced(h.find('[', i), '[', ']');
      out.push_back(' ');
      continue;
    }
    if (h[i] == '[' && i + 1 < n && h[i + 1] == '[') {
      i = skip_balanced(i, '[', ']');
      out.push_back(' ');
      continue;
    }
    if (h[i] == '@' && i + 1 < n && ident_start(h[i + 1])) {
      std::size_t j = i + 1;
      while (j < n && (ident_char(h[j]) || h[j] == '.')) ++j;
      while (j < n && h[j] == ' ') ++j;
      if (j < n && h[j] == '(') j = skip_balanced(j, '(', ')');
      i = j;
      out.push_back(' ');
      continue;
    }
    if (h[i] == '#') {  // preprocessor line
      std::size_t e = h.find('\n', i);
      i = e == std::string_view::npos ? n : e;
      continue;
    }
    out.push_back(h[i]);
    ++i;
  }
  return out;
}

enum class HeaderKind { kOther, kClass, kFunction, kNamespace };

struct Header {
  HeaderKind kind = HeaderKind::kOther;
  std::string name;
  std::string owner;  // Go receiver type, C++ "Owner::" qualifier, Rust impl type
};

// Position of the first '(' at depth 0 of parens/angles-free scanning, or npos.
std::size_t first_call_paren(std::string_view h) {
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (h[i] == '(') return i;
  }
  return std::string_view::npos;
}

std::string_view word_before(std::string_view h, std::size_t pos, std::size_t* begin) {
  std::size_t e = pos;
  while (e > 0 && (h[e - 1] == ' ' || h[e - 1] == '\n' || h[e - 1] == '\t')) --e;
  // C++ generics before the call paren: foo<T>(...)
  if (e > 0 && h[e - 1] == '>') {
    int depth = 0;
    std::size_t k = e;
    while (k > 0) {
      --k;
      if (h[k] == '>') ++depth;
      else if (h[k] == '<' && --depth == 0) break;
    }
    e = k;
    while (e > 0 && h[e - 1] == ' ') --e;
  }
  std::size_t b = e;
  while (b > 0 && ident_char(h[b - 1])) --b;
  if (begin) *begin = b;
  return h.substr(b, e - b);
}

Header classify(std::string_view raw, std::string_view language) {
  Header hd;
  std::string cleaned = clean_header(raw);
  std::string_view h = cleaned;
  const auto words = words_of(h);
  if (words.empty()) return hd;
  auto has_word = [&](std::string_view w) {
    return std::find(words.begin(), words.end(), w) != words.end();
  };
  // Namespaces and linkage blocks: descend.
  if (words.front() == "namespace" || (words.front() == "extern" && words.size() == 1) ||
      (language == "rust" && (words.front() == "mod" || (words.size() >= 2 && words[1] == "mod")))) {
    hd.kind = HeaderKind::kNamespace;
    hd.name = words.size() >= 2 && words.back() != "namespace" ? std::string(words.back()) : "";
    return hd;
  }
  const bool arrow = h.find("=>") != std::string_view::npos;
  // '=' at depth 0 (not ==, <=, >=, !=, =>, operator=): an initialiser, unless an arrow fn.
  bool assignment = false;
  std::size_t assign_pos = std::string_view::npos;
  {
    int depth = 0;
    for (std::size_t i = 0; i < h.size(); ++i) {
      const char c = h[i];
      if (c == '(' || c == '[' || c == '<') ++depth;
      else if (c == ')' || c == ']' || (c == '>' && !(i > 0 && h[i - 1] == '='))) depth = std::max(0, depth - 1);
      else if (c == '=' && depth == 0) {
        const char prev = i > 0 ? h[i - 1] : ' ';
        const char next = i + 1 < h.size() ? h[i + 1] : ' ';
        if (next == '=' || next == '>' || prev == '=' || prev == '!' || prev == '<' ||
            prev == '>' || prev == '+' || prev == '-' || prev == '*' || prev == '/') {
          if (next == '=') ++i;
          continue;
        }
        if (h.substr(0, i).find("operator") != std::string_view::npos) continue;
        assignment = true;
        assign_pos = i;
        break;
      }
    }
  }
  // An arrow function passed as an argument (describe('x', () => {) is not a definition.
  if (arrow && !assignment) return hd;
  if (assignment) {
    if (arrow || h.find("function") != std::string_view::npos) {
      std::size_t b = 0;
      std::string_view name = word_before(h, assign_pos, &b);
      if (!name.empty()) {
        hd.kind = HeaderKind::kFunction;
        hd.name = std::string(name);
      }
    }
    return hd;
  }
  // Keyword-introduced functions: fn (Rust), func (Go), function (JS/TS).
  for (std::size_t w = 0; w < words.size(); ++w) {
    if (words[w] == "fn" || words[w] == "function" || words[w] == "func") {
      if (words[w] == "func") {
        // Go: func (r *Recv) Name(...)  or func Name(...)
        const std::size_t at = static_cast<std::size_t>(words[w].data() - h.data()) + 4;
        std::size_t j = at;
        while (j < h.size() && h[j] == ' ') ++j;
        if (j < h.size() && h[j] == '(') {
          const std::size_t close = h.find(')', j);
          if (close == std::string_view::npos) return hd;
          const auto recv = words_of(h.substr(j + 1, close - j - 1));
          if (!recv.empty()) hd.owner = std::string(recv.back());
          const auto rest = words_of(h.substr(close + 1));
          if (rest.empty()) return hd;
          hd.name = std::string(rest.front());
        } else if (w + 1 < words.size()) {
          hd.name = std::string(words[w + 1]);
        }
      } else if (w + 1 < words.size()) {
        hd.name = std::string(words[w + 1]);
      } else {
        return hd;  // anonymous function expression
      }
      hd.kind = hd.name.empty() ? HeaderKind::kOther : HeaderKind::kFunction;
      return hd;
    }
  }
  // Type definitions.
  static constexpr std::string_view class_words[] = {"class", "struct", "interface", "enum",
                                                     "trait", "union", "impl", "record"};
  std::size_t class_word = words.size();
  for (std::size_t w = 0; w < words.size(); ++w) {
    if (std::find(std::begin(class_words), std::end(class_words), words[w]) !=
        std::end(class_words)) {
      class_word = w;
      break;
    }
  }
  const std::size_t paren = first_call_paren(h);
  if (paren != std::string_view::npos &&
      (class_word == words.size() ||
       static_cast<std::size_t>(words[class_word].data() - h.data()) > paren ||
       words[class_word] == "enum")) {
    // A call-shaped header: a function (or method, or constructor) unless the word before the
    // paren is a control keyword or the header ends in something other than a signature.
    std::size_t b = 0;
    std::string_view name = word_before(h, paren, &b);
    if (name.empty() || is_keyword(name) || (name[0] >= '0' && name[0] <= '9')) return hd;
    // Must look like a declaration: something precedes the name (a type, a modifier) or the
    // name is qualified or we are in a class body (constructors, JS/Java methods).
    hd.kind = HeaderKind::kFunction;
    hd.name = std::string(name);
    if (b >= 2 && h[b - 1] == ':' && h[b - 2] == ':') {
      std::size_t ob = 0;
      std::string_view owner = word_before(h, b - 2, &ob);
      hd.owner = std::string(owner);
    }
    if (hd.name == "operator" || (b >= 8 && h.substr(b - 8, 8) == "operator")) {
      hd.name = "operator";
    }
    return hd;
  }
  if (class_word < words.size()) {
    hd.kind = HeaderKind::kClass;
    if (words[0] == "type" && words.size() >= 2) {  // Go: type Name struct
      hd.name = std::string(words[1]);
      return hd;
    }
    if (words[class_word] == "impl") {
      // impl<T> Trait for Type<T> where ...  -> Type ; impl Type -> Type
      std::size_t for_at = words.size();
      for (std::size_t w = class_word + 1; w < words.size(); ++w) {
        if (words[w] == "for") {
          for_at = w;
          break;
        }
      }
      const std::size_t pick = for_at < words.size() ? for_at + 1 : class_word + 1;
      if (pick < words.size()) hd.name = std::string(words[pick]);
      return hd;
    }
    // The name: the last word after the keyword before ':', '<', '(', extends/implements.
    const std::size_t kw_end =
        static_cast<std::size_t>(words[class_word].data() - h.data()) + words[class_word].size();
    std::string_view rest = h.substr(kw_end);
    std::size_t stop = rest.size();
    for (char c : std::string_view(":<({")) {
      const std::size_t p = rest.find(c);
      if (p != std::string_view::npos) stop = std::min(stop, p);
    }
    for (std::string_view kw : {"extends", "implements", "where", "final"}) {
      for (const auto w : words_of(rest.substr(0, stop))) {
        if (w == kw) stop = std::min(stop, static_cast<std::size_t>(w.data() - rest.data()));
      }
    }
    const auto names = words_of(rest.substr(0, stop));
    if (!names.empty()) hd.name = std::string(names.back());
    if (hd.name.empty() || hd.name == "class" || hd.name == "struct") hd.kind = HeaderKind::kOther;
    return hd;
  }
  (void)has_word;
  return hd;
}

void scan_level(Scanner& s, std::size_t begin, std::size_t end, const std::string& prefix,
                bool in_class, int depth) {
  std::size_t stmt = begin;
  std::size_t i = begin;
  while (i < end) {
    const char c = s.text[i];
    if (c == ';') {
      stmt = i + 1;
      ++i;
      continue;
    }
    if (c == '}') {
      stmt = i + 1;
      ++i;
      continue;
    }
    if (c != '{') {
      ++i;
      continue;
    }
    const std::size_t close = std::min(s.match[i], end);
    // Go ends statements at newlines, and its '{' shares the line with the header.
    if (s.language == "go") {
      const std::size_t nl = s.text.rfind('\n', i);
      if (nl != std::string_view::npos && nl + 1 > stmt) stmt = nl + 1;
    }
    std::string_view raw = s.text.substr(stmt, i - stmt);
    // A header spanning more than a few hundred lines is not a header.
    Header hd = raw.size() > 4000 ? Header{} : classify(raw, s.language);
    // Start at the header's first non-space character.
    std::size_t first = stmt;
    while (first < i && (s.text[first] == ' ' || s.text[first] == '\n' || s.text[first] == '\t' ||
                         s.text[first] == '\r')) {
      ++first;
    }
    if (hd.kind == HeaderKind::kClass || hd.kind == HeaderKind::kFunction) {
      Chunk chunk;
      chunk.name = hd.name;
      std::string owner = !hd.owner.empty() ? hd.owner : "";
      std::string qual = prefix;
      if (!owner.empty()) qual = qual.empty() ? owner : qual + "." + owner;
      chunk.qualified_name = qual.empty() ? hd.name : qual + "." + hd.name;
      chunk.kind = hd.kind == HeaderKind::kClass
                       ? ChunkKind::kClass
                       : ((in_class || !owner.empty()) ? ChunkKind::kMethod : ChunkKind::kFunction);
      chunk.start_line = s.line_of(first);
      chunk.signature_end_line = s.line_of(i);
      chunk.end_line = s.line_of(close < s.text.size() ? close : s.text.size() - 1);
      const std::string inner_prefix = chunk.qualified_name;
      s.out.push_back(std::move(chunk));
      if (hd.kind == HeaderKind::kClass && depth < 32) {
        scan_level(s, i + 1, close, inner_prefix, true, depth + 1);
      }
    } else if (hd.kind == HeaderKind::kNamespace && depth < 32) {
      std::string inner = prefix;
      if (!hd.name.empty()) inner = inner.empty() ? hd.name : inner + "." + hd.name;
      scan_level(s, i + 1, close, inner, false, depth + 1);
    }
    stmt = close + 1;
    i = close + 1;
  }
}

}  // namespace

std::vector<Chunk> chunk_braces(std::string_view content, std::string_view language) {
  Scanner s;
  const std::string blanked = blank_comments_and_strings(content, language);
  s.text = blanked;
  s.language = language;
  s.line_starts.push_back(0);
  for (std::size_t i = 0; i < blanked.size(); ++i) {
    if (blanked[i] == '\n' && i + 1 < blanked.size()) s.line_starts.push_back(i + 1);
  }
  s.match.assign(blanked.size(), blanked.size());
  std::vector<std::size_t> stack;
  for (std::size_t i = 0; i < blanked.size(); ++i) {
    if (blanked[i] == '{') {
      stack.push_back(i);
    } else if (blanked[i] == '}' && !stack.empty()) {
      s.match[stack.back()] = i;
      stack.pop_back();
    }
  }
  scan_level(s, 0, blanked.size(), "", false, 0);
  // Source order (a class before its methods).
  std::stable_sort(s.out.begin(), s.out.end(), [](const Chunk& a, const Chunk& b) {
    return a.start_line < b.start_line;
  });
  return std::move(s.out);
}

}  // namespace strata::context::detail
