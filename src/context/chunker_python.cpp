// Python: definitions by indentation. Lines inside triple-quoted strings are not scanned.
#include <string>
#include <string_view>
#include <vector>

#include "context/chunker.h"

namespace strata::context::detail {

namespace {

struct Line {
  std::string_view text;
  int indent = 0;          // columns (a tab counts to the next multiple of 8)
  bool blank = true;       // whitespace or comment only
  bool in_string = false;  // starts inside a triple-quoted string
};

bool is_ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || static_cast<unsigned char>(c) >= 0x80;
}

// "def name" / "async def name" / "class Name" at the start of `s`: the kind and name.
bool definition_header(std::string_view s, bool& is_class, std::string_view& name) {
  if (s.substr(0, 6) == "async ") {
    s.remove_prefix(6);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  }
  std::size_t skip = 0;
  if (s.substr(0, 4) == "def ") {
    is_class = false;
    skip = 4;
  } else if (s.substr(0, 6) == "class ") {
    is_class = true;
    skip = 6;
  } else {
    return false;
  }
  s.remove_prefix(skip);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  std::size_t n = 0;
  while (n < s.size() && is_ident_char(s[n])) ++n;
  if (n == 0 || (s[0] >= '0' && s[0] <= '9')) return false;
  name = s.substr(0, n);
  return true;
}

// Updates the triple-quote state across one line (ignores quotes inside ordinary strings
// well enough for real code; never fails).
void scan_quotes(std::string_view line, std::string& open) {
  std::size_t i = 0;
  while (i < line.size()) {
    if (open.empty()) {
      const char c = line[i];
      if (c == '#') return;
      if (c == '"' || c == '\'') {
        if (line.substr(i, 3) == std::string(3, c)) {
          open.assign(3, c);
          i += 3;
          continue;
        }
        // Ordinary string: skip to its end on this line.
        std::size_t j = i + 1;
        while (j < line.size() && line[j] != c) {
          if (line[j] == '\\') ++j;
          ++j;
        }
        i = j + 1;
        continue;
      }
      ++i;
    } else {
      if (line[i] == '\\') {
        i += 2;
        continue;
      }
      if (line.substr(i, 3) == open) {
        open.clear();
        i += 3;
        continue;
      }
      ++i;
    }
  }
}

}  // namespace

std::vector<Chunk> chunk_python(std::string_view content) {
  std::vector<Line> lines;
  std::string open_quote;
  std::size_t start = 0;
  while (start < content.size()) {
    std::size_t nl = content.find('\n', start);
    if (nl == std::string_view::npos) nl = content.size();
    Line l;
    l.text = content.substr(start, nl - start);
    if (!l.text.empty() && l.text.back() == '\r') l.text.remove_suffix(1);
    l.in_string = !open_quote.empty();
    int col = 0;
    std::size_t k = 0;
    for (; k < l.text.size(); ++k) {
      if (l.text[k] == ' ') ++col;
      else if (l.text[k] == '\t') col = (col / 8 + 1) * 8;
      else if (l.text[k] == '\f') col = 0;
      else break;
    }
    l.indent = col;
    l.blank = k == l.text.size() || l.text[k] == '#';
    scan_quotes(l.text, open_quote);
    lines.push_back(l);
    start = nl + 1;
  }

  struct Open {
    std::size_t chunk;  // index into out
    int indent;
    bool is_class;
  };
  std::vector<Chunk> out;
  std::vector<Open> stack;
  int last_code_line = 0;  // 1-based line of the last non-blank line seen
  auto close_until = [&](int indent) {
    while (!stack.empty() && stack.back().indent >= indent) {
      out[stack.back().chunk].end_line = std::max(out[stack.back().chunk].start_line,
                                                  last_code_line);
      stack.pop_back();
    }
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const Line& l = lines[i];
    const int line_no = static_cast<int>(i) + 1;
    if (l.in_string) {  // the inside of a multi-line string belongs to what encloses it
      last_code_line = line_no;
      continue;
    }
    if (l.blank) continue;
    close_until(l.indent);  // a line at or left of a definition's indent ends it
    std::string_view body = l.text;
    std::size_t first = body.find_first_not_of(" \t\f");
    body = first == std::string_view::npos ? std::string_view() : body.substr(first);
    bool is_class = false;
    std::string_view name;
    // Definitions nest inside classes (methods, inner classes) but not inside functions.
    const bool parent_is_function = !stack.empty() && !stack.back().is_class;
    if (!parent_is_function && definition_header(body, is_class, name)) {
      Chunk c;
      c.kind = is_class ? ChunkKind::kClass
                        : (!stack.empty() ? ChunkKind::kMethod : ChunkKind::kFunction);
      c.name = std::string(name);
      c.qualified_name = stack.empty() ? c.name : out[stack.back().chunk].qualified_name + "." + c.name;
      // Decorators directly above belong to the definition.
      int s = line_no;
      while (s > 1) {
        const Line& prev = lines[static_cast<std::size_t>(s - 2)];
        std::string_view p = prev.text;
        const std::size_t f = p.find_first_not_of(" \t");
        if (prev.in_string || f == std::string_view::npos || p[f] != '@' ||
            prev.indent != l.indent) {
          break;
        }
        --s;
      }
      c.start_line = s;
      // The signature ends at the line where brackets balance and the header's ':' is.
      int depth = 0;
      int sig = line_no;
      for (std::size_t j = i; j < lines.size() && j < i + 64; ++j) {
        std::string_view t = lines[j].text;
        bool done = false;
        for (std::size_t k = 0; k < t.size(); ++k) {
          const char ch = t[k];
          if (ch == '#') break;
          if (ch == '(' || ch == '[' || ch == '{') ++depth;
          else if (ch == ')' || ch == ']' || ch == '}') --depth;
          else if (ch == ':' && depth <= 0) {
            done = true;
            break;
          }
        }
        sig = static_cast<int>(j) + 1;
        if (done) break;
      }
      c.signature_end_line = sig;
      c.end_line = sig;
      last_code_line = line_no;
      out.push_back(std::move(c));
      stack.push_back({out.size() - 1, l.indent, is_class});
      continue;
    }
    last_code_line = line_no;
  }
  // Trailing lines inside strings extend the last open definitions.
  for (std::size_t i = lines.size(); i > 0; --i) {
    if (!lines[i - 1].text.empty() && lines[i - 1].in_string) {
      last_code_line = std::max(last_code_line, static_cast<int>(i));
      break;
    }
    if (!lines[i - 1].blank) break;
  }
  close_until(-1);
  for (Chunk& c : out) {
    if (c.end_line < c.signature_end_line) c.end_line = c.signature_end_line;
  }
  return out;
}

}  // namespace strata::context::detail
