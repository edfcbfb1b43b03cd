#include "context/connectors/records.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace strata::context::detail {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
char lower_ascii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// Days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!is_digit(s[pos + i])) return false;
    out = out * 10 + (s[pos + i] - '0');
  }
  return true;
}

}  // namespace

Forwarder::Forwarder(IngestSink& sink) : sink_(sink) {
  records_.put = [this](Document d) {
    if (stopped()) return;
    ++offered_;
    // The whole record is the key: an access list or a status can change alone.
    if (sink_.unchanged(d.path, document_key(d))) return;
    Status s = sink_.put(std::move(d));
    if (!s.ok()) status_ = s;
  };
  records_.remove = [this](std::string_view key) {
    if (stopped()) return;
    Status s = sink_.remove(key);
    if (!s.ok()) status_ = s;
  };
  records_.skip = [this](std::string_view key, SkipReason reason, std::string_view detail) {
    sink_.skipped(key, reason, detail);
  };
}

AclCursor split_acl_cursor(std::string_view cursor) {
  constexpr std::string_view kMark = ";acl=";
  const auto at = cursor.rfind(kMark);
  if (at == std::string_view::npos) return {std::string(cursor), ""};
  return {std::string(cursor.substr(0, at)), std::string(cursor.substr(at + kMark.size()))};
}

std::string join_acl_cursor(std::string_view position, std::string_view acl) {
  return std::string(position) + ";acl=" + std::string(acl);
}

std::map<std::string, std::string> parse_acl_map(std::string_view text) {
  std::map<std::string, std::string> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view entry = text.substr(0, comma);
    const auto colon = entry.rfind(':');
    if (colon != std::string_view::npos && colon > 0 && entry.size() - colon - 1 == 16) {
      out[std::string(entry.substr(0, colon))] = std::string(entry.substr(colon + 1));
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

std::string format_acl_map(const std::map<std::string, std::string>& acl) {
  std::string out;
  for (const auto& [owner, digest] : acl) {
    // Owners are conversation ids; one holding a separator is left out (read again next time).
    if (owner.find_first_of(",:;") != std::string::npos) continue;
    if (!out.empty()) out += ',';
    out += owner + ":" + digest;
  }
  return out;
}

std::string jira_access_digest(const std::map<std::string, std::vector<std::string>>& project_access,
                               const std::map<std::string, std::vector<std::string>>& security_level_access) {
  AccessDigest digest;
  for (const auto& [project, access] : project_access) digest.add("project " + project, access);
  for (const auto& [level, access] : security_level_access) digest.add("level " + level, access);
  return digest.digest();
}

void AccessDigest::add(std::string_view owner, const std::vector<std::string>& access) {
  std::vector<std::string> sorted(access);
  std::sort(sorted.begin(), sorted.end());
  text_ += std::to_string(owner.size()) + ":" + std::string(owner) + "=";
  for (const auto& a : sorted) text_ += std::to_string(a.size()) + ":" + a;
  text_ += ";";
}

std::string AccessDigest::digest() const { return content_hash(text_); }

Status split_json_array(std::string_view text,
                        const std::function<void(std::string_view, std::size_t)>& on_record) {
  std::size_t i = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") i = 3;  // a byte order mark
  while (i < text.size() && is_space(text[i])) ++i;
  if (i >= text.size()) return invalid_argument_error("empty file (expected a JSON array)");
  if (text[i] != '[') return invalid_argument_error("not a JSON array (starts with '" + std::string(1, text[i]) + "')");
  ++i;
  std::size_t index = 0;
  while (true) {
    while (i < text.size() && is_space(text[i])) ++i;
    if (i >= text.size()) {
      return invalid_argument_error("truncated: the array ends after " + std::to_string(index) + " records");
    }
    if (text[i] == ']') return ok_status();
    if (text[i] == ',' && index > 0) {
      ++i;
      continue;
    }
    const std::size_t start = i;
    int depth = 0;
    bool done = false;
    while (i < text.size() && !done) {
      const char c = text[i];
      if (c == '"') {
        ++i;
        while (i < text.size() && text[i] != '"') i += text[i] == '\\' ? 2 : 1;
        if (i >= text.size()) break;
        ++i;
        continue;
      }
      if (c == '[' || c == '{') {
        if (++depth > 512) return invalid_argument_error("record " + std::to_string(index) + " nests too deeply");
      } else if (c == ']' || c == '}') {
        if (depth == 0) {
          done = true;  // the array's own ']' (or a stray '}')
          break;
        }
        --depth;
      } else if (c == ',' && depth == 0) {
        done = true;
        break;
      }
      ++i;
    }
    if (!done) {
      return invalid_argument_error("truncated: record " + std::to_string(index) + " is incomplete");
    }
    std::string_view record = text.substr(start, i - start);
    while (!record.empty() && is_space(record.back())) record.remove_suffix(1);
    if (record.empty()) return invalid_argument_error("empty record " + std::to_string(index));
    on_record(record, index++);
    if (text[i] == '}') return invalid_argument_error("unbalanced '}' after record " + std::to_string(index - 1));
  }
}

std::size_t find_array_after_key(std::string_view text, std::string_view key) {
  const std::string quoted = "\"" + std::string(key) + "\"";
  for (std::size_t pos = text.find(quoted); pos != std::string_view::npos; pos = text.find(quoted, pos + 1)) {
    std::size_t i = pos + quoted.size();
    while (i < text.size() && is_space(text[i])) ++i;
    if (i >= text.size() || text[i] != ':') continue;
    ++i;
    while (i < text.size() && is_space(text[i])) ++i;
    if (i < text.size() && text[i] == '[') return i;
  }
  return std::string_view::npos;
}

Result<std::string> read_whole_file(const std::string& path, std::size_t limit) {
  // O_NONBLOCK: a FIFO in an export is refused below instead of blocking the scan forever in
  // open() (it does not change how a regular file reads).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return not_found_error(path + ": no such file");
    return unavailable_error(path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return unavailable_error(path + ": not a regular file");
  }
  if (static_cast<std::size_t>(st.st_size) > limit) {
    ::close(fd);
    return resource_exhausted_error(path + ": " + std::to_string(st.st_size) + " bytes, over the limit of " +
                                    std::to_string(limit));
  }
  std::string out;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string err = std::strerror(errno);
      ::close(fd);
      return unavailable_error(path + ": " + err);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

std::int64_t parse_iso8601(std::string_view s) {
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d)) {
    return -1;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return -1;
  std::size_t i = 10;
  std::int64_t offset = 0;
  if (i < s.size() && (s[i] == 'T' || s[i] == ' ')) {
    if (!digits(s, i + 1, 2, h) || s.size() < i + 6 || s[i + 3] != ':' || !digits(s, i + 4, 2, mi)) return -1;
    i += 6;
    if (i < s.size() && s[i] == ':') {
      if (!digits(s, i + 1, 2, sec)) return -1;
      i += 3;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && is_digit(s[i])) ++i;
    }
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      const int sign = s[i] == '+' ? 1 : -1;
      int oh, om;
      if (!digits(s, i + 1, 2, oh)) return -1;
      std::size_t j = i + 3;
      if (j < s.size() && s[j] == ':') ++j;
      if (!digits(s, j, 2, om)) return -1;
      offset = sign * (oh * 3600 + om * 60);
      i = j + 2;
    } else if (i < s.size() && s[i] == 'Z') {
      ++i;
    }
    if (h > 23 || mi > 59 || sec > 60) return -1;
  }
  if (i != s.size()) return -1;
  return days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
         mi * 60 + sec - offset;
}

std::int64_t parse_slack_ts(std::string_view ts) {
  std::int64_t v = 0;
  std::size_t i = 0;
  for (; i < ts.size() && is_digit(ts[i]); ++i) {
    if (i >= 12) return -1;
    v = v * 10 + (ts[i] - '0');
  }
  if (i == 0) return -1;
  if (i < ts.size()) {
    if (ts[i] != '.') return -1;
    for (++i; i < ts.size(); ++i) {
      if (!is_digit(ts[i])) return -1;
    }
  }
  return v;
}

std::vector<long> closing_references(std::string_view text, std::string_view repository) {
  static constexpr std::string_view kWords[] = {"closes", "closed", "close", "fixes", "fixed", "fix",
                                                "resolves", "resolved", "resolve"};
  std::vector<long> out;
  std::string low(text.size(), ' ');
  for (std::size_t i = 0; i < text.size(); ++i) low[i] = lower_ascii(text[i]);
  std::string repo_low(repository.size(), ' ');
  for (std::size_t i = 0; i < repository.size(); ++i) repo_low[i] = lower_ascii(repository[i]);
  auto alnum = [](char c) { return is_digit(c) || (c >= 'a' && c <= 'z'); };  // of lowered text
  for (std::size_t i = 0; i < low.size(); ++i) {
    // Every keyword starts with 'c', 'f' or 'r', at the start of a word.
    if (low[i] != 'c' && low[i] != 'f' && low[i] != 'r') continue;
    if (i > 0 && (alnum(low[i - 1]) || low[i - 1] == '_')) continue;
    for (auto w : kWords) {
      if (low.compare(i, w.size(), w) != 0) continue;
      std::size_t j = i + w.size();
      if (j < low.size() && low[j] == ':') ++j;
      if (j >= low.size() || !is_space(low[j])) break;
      while (j < low.size() && is_space(low[j])) ++j;
      // Optional "owner/repo" before '#'.
      std::size_t hash = low.find('#', j);
      if (hash == std::string::npos || hash - j > 200) break;
      std::string_view repo_ref = std::string_view(low).substr(j, hash - j);
      if (!repo_ref.empty() && repo_ref != repo_low) break;
      std::size_t k = hash + 1;
      long n = 0;
      std::size_t nd = 0;
      while (k < low.size() && is_digit(low[k]) && nd < 9) {
        n = n * 10 + (low[k] - '0');
        ++k;
        ++nd;
      }
      if (nd > 0 && n > 0 && (k >= low.size() || !alnum(low[k]))) {
        bool dup = false;
        for (long x : out) dup |= x == n;
        if (!dup) out.push_back(n);
      }
      break;
    }
  }
  return out;
}

std::string_view utf8_prefix(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}

}  // namespace strata::context::detail
