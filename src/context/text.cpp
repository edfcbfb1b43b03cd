#include "context/text.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <utility>

#include <strata/context/document.h>

namespace strata::context {

namespace {

// The final mix of an FNV-1a state, as 16 lowercase hex digits.
std::string finish_hash(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf, 16);
}

}  // namespace

std::string content_hash(std::string_view bytes) {
  // FNV-1a over 8-byte lanes folded with a final mix: stable across platforms and fast
  // enough to hash a whole tree on every scan.
  std::uint64_t h = 0xcbf29ce484222325ULL ^ bytes.size();
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return finish_hash(h);
}

std::string document_key(const Document& doc) {
  // The same FNV-1a lanes as content_hash over each field preceded by its length (so no two
  // different documents serialise alike), then the same final mix.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  auto byte = [&](unsigned char c) {
    h ^= c;
    h *= 0x100000001b3ULL;
  };
  auto number = [&](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) byte(static_cast<unsigned char>(v >> (8 * i)));
  };
  auto field = [&](std::string_view s) {
    number(s.size());
    for (unsigned char c : s) byte(c);
  };
  auto list = [&](const std::vector<std::string>& v) {
    number(v.size());
    for (const auto& s : v) field(s);
  };
  number(static_cast<std::uint64_t>(doc.kind));
  field(doc.path);
  field(doc.commit);
  field(doc.content);
  field(doc.title);
  list(doc.authors);
  number(static_cast<std::uint64_t>(doc.timestamp));
  list(doc.changed_paths);
  list(doc.access);
  field(doc.parent);
  field(doc.status);
  list(doc.links);
  list(doc.participants);
  return finish_hash(h);
}

std::string_view to_string(DocumentKind kind) noexcept {
  switch (kind) {
    case DocumentKind::kFile: return "file";
    case DocumentKind::kCommit: return "commit";
    case DocumentKind::kPullRequest: return "pull_request";
    case DocumentKind::kReview: return "review";
    case DocumentKind::kReviewComment: return "review_comment";
    case DocumentKind::kIssue: return "issue";
    case DocumentKind::kComment: return "comment";
    case DocumentKind::kChatMessage: return "chat_message";
    case DocumentKind::kDoc: return "doc";
    case DocumentKind::kOwnership: return "ownership";
  }
  return "unknown";
}

std::string_view to_string(ChunkKind kind) noexcept {
  switch (kind) {
    case ChunkKind::kFile: return "file";
    case ChunkKind::kClass: return "class";
    case ChunkKind::kFunction: return "function";
    case ChunkKind::kMethod: return "method";
    case ChunkKind::kBlock: return "block";
  }
  return "unknown";
}

}  // namespace strata::context

namespace strata::context::detail {

bool valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += len;
  }
  return true;
}

bool looks_binary(std::string_view bytes) noexcept {
  const std::string_view head = bytes.substr(0, 8192);
  std::size_t control = 0;
  for (unsigned char c : head) {
    if (c == 0) return true;
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != '\v' && c != 0x1b) {
      ++control;
    }
  }
  return !head.empty() && control * 10 > head.size();
}

std::size_t longest_line(std::string_view bytes) noexcept {
  std::size_t best = 0;
  std::size_t start = 0;
  while (start <= bytes.size()) {
    std::size_t nl = bytes.find('\n', start);
    if (nl == std::string_view::npos) nl = bytes.size();
    best = std::max(best, nl - start);
    start = nl + 1;
  }
  return best;
}

namespace {

bool contains_icase(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return (a >= 'A' && a <= 'Z' ? a + 32 : a) == (b >= 'A' && b <= 'Z' ? b + 32 : b);
  });
  return it != hay.end();
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string_view file_name(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

bool looks_generated(std::string_view path, std::string_view bytes) noexcept {
  const std::string_view name = file_name(path);
  for (std::string_view lock : {"package-lock.json", "yarn.lock", "Cargo.lock", "poetry.lock",
                                "pnpm-lock.yaml", "go.sum", "composer.lock", "Gemfile.lock"}) {
    if (name == lock) return true;
  }
  if (ends_with(name, ".min.js") || ends_with(name, ".min.css") || ends_with(name, ".map") ||
      ends_with(name, ".pb.go") || ends_with(name, ".pb.cc") || ends_with(name, ".pb.h") ||
      ends_with(name, "_pb2.py")) {
    return true;
  }
  // Markers in the first lines only: a file that merely talks about them is not generated.
  std::string_view head = bytes.substr(0, 1024);
  for (std::string_view marker : {"@generated", "do not edit", "autogenerated",
                                  "auto-generated", "generated by"}) {
    if (contains_icase(head, marker)) return true;
  }
  return false;
}

namespace {

constexpr bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
constexpr bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
constexpr bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

// Calls part(begin, size) for each identifier part of `id`, in order: parts are separated by
// '_', '-', '.' and '$', and split where case changes (aB -> a|B, ABc -> A|Bc); digits stay
// attached (v2, x86_64). The one definition of a part for split_identifier() and the index.
template <typename Part>
void for_each_identifier_part(std::string_view id, Part&& part) {
  std::size_t begin = 0, size = 0;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const auto c = static_cast<unsigned char>(id[i]);
    if (c == '_' || c == '-' || c == '.' || c == '$') {
      if (size > 0) part(begin, size);
      size = 0;
      continue;
    }
    if (size > 0) {
      const auto p = static_cast<unsigned char>(id[i - 1]);
      const bool next_lower = i + 1 < id.size() && is_lower(static_cast<unsigned char>(id[i + 1]));
      if (is_upper(c) && (is_lower(p) || is_digit(p) || (is_upper(p) && next_lower))) {
        part(begin, size);
        size = 0;
      }
    }
    if (size == 0) begin = i;
    ++size;
  }
  if (size > 0) part(begin, size);
}

// Appends `s` lowercased (ASCII letters; other bytes as they are).
void append_lower(std::string_view s, std::string& out) {
  const std::size_t at = out.size();
  out.append(s);
  for (std::size_t i = at; i < out.size(); ++i) {
    if (is_upper(static_cast<unsigned char>(out[i]))) out[i] = static_cast<char>(out[i] + 32);
  }
}

}  // namespace

std::string lower(std::string_view s) {
  std::string out;
  append_lower(s, out);
  return out;
}

std::vector<std::string> split_identifier(std::string_view id) {
  std::vector<std::string> parts;
  for_each_identifier_part(id, [&](std::size_t begin, std::size_t size) {
    parts.emplace_back();
    append_lower(id.substr(begin, size), parts.back());
  });
  return parts;
}

namespace {

bool all_digits(std::string_view w) {
  for (char c : w) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

void append_index_terms(std::string_view text, std::string& out) {
  // Allocation-free: every record of an ingest passes through here (a million chat messages
  // are ~20 million words).
  for_each_word(text, [&](std::string_view w) {
    // Most words of prose and chat are lowercase ASCII letters and digits, at most 64 bytes:
    // such a word is its own lowercase form and its only identifier part (parts split only
    // at '_' and at uppercase letters), so it is copied as it is after one look at its bytes.
    if (w.size() <= 64) {
      bool plain = true, digits = true;
      for (unsigned char c : w) {
        const bool digit = is_digit(c);
        if (!digit && !is_lower(c)) {
          plain = false;
          break;
        }
        digits = digits && digit;
      }
      if (plain) {
        if (!digits) {
          out.append(w);
          out.push_back(' ');
        }
        return;
      }
    }
    if (w.size() > 64 || all_digits(w)) return;
    // Drop words with invalid UTF-8 (FTS5 would index replacement garbage).
    bool ascii = true;
    for (unsigned char c : w) {
      if (c >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (!ascii && !valid_utf8(w)) return;
    // The whole word without leading/trailing underscores (__init__ -> init); nothing for
    // a word of underscores only.
    const std::size_t b = w.find_first_not_of('_');
    if (b == std::string_view::npos) return;
    const std::size_t e = w.find_last_not_of('_');
    append_lower(w.substr(b, e - b + 1), out);
    out.push_back(' ');
    if (!ascii) return;
    // Then its identifier parts, when it has more than one (at most 64: w.size() <= 64).
    std::pair<std::uint8_t, std::uint8_t> parts[64];
    std::size_t n = 0;
    for_each_identifier_part(w, [&](std::size_t begin, std::size_t size) {
      parts[n++] = {static_cast<std::uint8_t>(begin), static_cast<std::uint8_t>(size)};
    });
    if (n < 2) return;
    for (std::size_t k = 0; k < n; ++k) {
      const std::string_view part = w.substr(parts[k].first, parts[k].second);
      if (part.size() > 1 && !all_digits(part)) {
        append_lower(part, out);
        out.push_back(' ');
      }
    }
  });
}

std::string index_terms(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_index_terms(text, out);
  return out;
}

std::string_view language_for_path(std::string_view path) noexcept {
  const std::string_view name = file_name(path);
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return "";
  const std::string_view ext = name.substr(dot + 1);
  if (ext == "py" || ext == "pyi" || ext == "pyx") return "python";
  if (ext == "c" || ext == "h") return "c";
  if (ext == "cc" || ext == "cpp" || ext == "cxx" || ext == "hpp" || ext == "hh" ||
      ext == "hxx" || ext == "ipp" || ext == "inl") {
    return "cpp";
  }
  if (ext == "js" || ext == "jsx" || ext == "mjs" || ext == "cjs") return "javascript";
  if (ext == "ts" || ext == "tsx" || ext == "mts" || ext == "cts") return "typescript";
  if (ext == "go") return "go";
  if (ext == "rs") return "rust";
  if (ext == "java") return "java";
  return "";
}

namespace {

template <typename F>
void for_each_segment(std::string_view path, F&& f) {
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    f(path.substr(start, slash - start), slash == path.size());
    start = slash + 1;
  }
}

}  // namespace

bool is_test_path(std::string_view path) noexcept {
  bool test = false;
  for_each_segment(path, [&](std::string_view seg, bool last) {
    if (!last) {
      if (seg == "test" || seg == "tests" || seg == "testing" || seg == "__tests__" ||
          seg == "spec" || seg == "testdata") {
        test = true;
      }
      return;
    }
    const auto dot = seg.rfind('.');
    const std::string_view stem = dot == std::string_view::npos ? seg : seg.substr(0, dot);
    if (stem.rfind("test_", 0) == 0 || ends_with(stem, "_test") || ends_with(stem, ".test") ||
        ends_with(stem, ".spec") || ends_with(stem, "_spec") ||
        (ends_with(stem, "Test") && ends_with(seg, ".java")) || stem == "conftest") {
      test = true;
    }
  });
  return test;
}

bool is_vendored_path(std::string_view path) noexcept {
  bool vendored = false;
  for_each_segment(path, [&](std::string_view seg, bool last) {
    if (last) return;
    if (seg == "vendor" || seg == "vendored" || seg == "third_party" || seg == "thirdparty" ||
        seg == "node_modules" || seg == "external" || seg == "extern" || seg == "_vendor") {
      vendored = true;
    }
  });
  return vendored;
}

}  // namespace strata::context::detail
