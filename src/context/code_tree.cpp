#include <strata/context/code_tree.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "context/git.h"
#include "context/gitignore.h"
#include "context/text.h"

namespace strata::context {

std::string_view to_string(SkipReason reason) noexcept {
  switch (reason) {
    case SkipReason::kBinary: return "binary";
    case SkipReason::kTooLarge: return "too_large";
    case SkipReason::kGenerated: return "generated";
    case SkipReason::kUnreadable: return "unreadable";
    case SkipReason::kSymlink: return "symlink";
    case SkipReason::kLongLines: return "long_lines";
    case SkipReason::kMalformed: return "malformed";
    case SkipReason::kMissing: return "missing";
  }
  return "unknown";
}

namespace {

using detail::GitignoreMatcher;

// Reads a whole file (up to limit + 1 bytes), `path` relative to the directory `dir_fd`
// (or AT_FDCWD). errno-style message on failure.
bool read_file_at(int dir_fd, const char* path, std::size_t limit, std::string& out, std::string& error) {
  const int fd = ::openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    error = std::strerror(errno);
    return false;
  }
  out.clear();
  char buf[65536];
  while (true) {
    const ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0) {
      if (errno == EINTR) continue;
      error = std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (got == 0) break;
    out.append(buf, static_cast<std::size_t>(got));
    if (out.size() > limit) break;
  }
  ::close(fd);
  return true;
}

bool read_file(const std::string& path, std::size_t limit, std::string& out, std::string& error) {
  return read_file_at(AT_FDCWD, path.c_str(), limit, out, error);
}

// Closes a descriptor when the scope ends.
struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

class CodeTreeConnector final : public Connector {
 public:
  explicit CodeTreeConnector(CodeTreeOptions options) : options_(std::move(options)) {
    while (options_.root.size() > 1 && options_.root.back() == '/') options_.root.pop_back();
  }

  std::string id() const override { return options_.id; }

  Result<ScanResult> scan(std::string_view /*cursor*/, IngestSink& sink) override {
    struct stat st {};
    if (::stat(options_.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return not_found_error("code tree root is not a directory: " + options_.root);
    }
    ScanResult result;
    result.complete = true;
    result.commit = options_.commit.empty() ? head_commit() : options_.commit;
    result.cursor = result.commit;
    commit_ = result.commit;

    GitignoreMatcher root_rules;
    std::string text, error;
    const std::string info_exclude =
        (options_.git_dir.empty() ? options_.root + "/.git" : options_.git_dir) + "/info/exclude";
    if (read_file(info_exclude, 1 << 20, text, error)) root_rules.add_patterns(text);
    visited_.clear();
    visited_.insert({st.st_dev, st.st_ino});
    levels_.clear();
    levels_.emplace_back("", std::move(root_rules));
    Status s = walk_dir("", sink, 0);
    if (!s.ok()) return s;
    return result;
  }

 private:
  std::string head_commit() const {
    std::vector<std::string> args;
    std::string repo = options_.root;
    if (!options_.git_dir.empty()) {
      args = {"--git-dir=" + options_.git_dir, "rev-parse", "HEAD"};
    } else {
      args = {"rev-parse", "--verify", "-q", "HEAD"};
    }
    auto out = detail::run_git("git", repo, args);
    if (!out.ok()) return "";
    std::string h = *out;
    while (!h.empty() && (h.back() == '\n' || h.back() == '\r')) h.pop_back();
    return h.size() == 40 || h.size() == 64 ? h : "";
  }

  // The verdict of the ignore files from the root down to `rel`'s directory: deepest first.
  bool ignored(const std::vector<std::pair<std::string, GitignoreMatcher>>& levels,
               const std::string& rel, bool is_dir) const {
    for (auto it = levels.rbegin(); it != levels.rend(); ++it) {
      const std::string& base = it->first;
      std::string_view sub = rel;
      if (!base.empty()) sub.remove_prefix(base.size() + 1);
      if (auto v = it->second.match(sub, is_dir)) return *v;
    }
    return false;
  }

  Status walk_dir(const std::string& rel_dir, IngestSink& sink, int depth) {
    if (sink.cancelled()) return cancelled_error("ingest cancelled");
    if (depth > 64) {
      sink.skipped(rel_dir, SkipReason::kSymlink, "directory nesting deeper than 64");
      return ok_status();
    }
    const std::string abs_dir = rel_dir.empty() ? options_.root : options_.root + "/" + rel_dir;
    // Everything below is relative to the directory's descriptor: no per-file walk of the
    // whole path in the kernel.
    FdCloser dir_fd{::open(abs_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (dir_fd.fd < 0) {
      sink.skipped(rel_dir.empty() ? "." : rel_dir, SkipReason::kUnreadable, std::strerror(errno));
      return ok_status();
    }
    std::string text, error;
    const bool pushed = read_file_at(dir_fd.fd, ".gitignore", 1 << 20, text, error);
    if (pushed) {
      GitignoreMatcher m;
      m.add_patterns(text);
      levels_.emplace_back(rel_dir, std::move(m));
    }
    const int list_fd = ::dup(dir_fd.fd);
    DIR* dir = list_fd < 0 ? nullptr : ::fdopendir(list_fd);
    if (dir == nullptr) {
      sink.skipped(rel_dir.empty() ? "." : rel_dir, SkipReason::kUnreadable, std::strerror(errno));
      if (list_fd >= 0) ::close(list_fd);
      if (pushed) levels_.pop_back();
      return ok_status();
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(dir)) {
      const std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      names.emplace_back(n);
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());  // deterministic order
    Status status;
    for (const std::string& name : names) {
      if (name == ".git") continue;
      const std::string rel = rel_dir.empty() ? name : rel_dir + "/" + name;
      const std::string abs = options_.root + "/" + rel;
      struct stat lst {};
      if (::fstatat(dir_fd.fd, name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) != 0) {
        sink.skipped(rel, SkipReason::kUnreadable, std::strerror(errno));
        continue;
      }
      struct stat st = lst;
      if (S_ISLNK(lst.st_mode)) {
        if (!options_.follow_symlinks) {
          if (!ignored(levels_, rel, false)) sink.skipped(rel, SkipReason::kSymlink, "not followed");
          continue;
        }
        if (::stat(abs.c_str(), &st) != 0) {
          sink.skipped(rel, SkipReason::kSymlink, std::string("dangling: ") + std::strerror(errno));
          continue;
        }
        char* real = ::realpath(abs.c_str(), nullptr);
        char* root_real = ::realpath(options_.root.c_str(), nullptr);
        const bool inside = real && root_real &&
                            (std::string_view(real).substr(0, std::strlen(root_real)) == root_real);
        std::free(real);
        std::free(root_real);
        if (!inside) {
          sink.skipped(rel, SkipReason::kSymlink, "points outside the tree");
          continue;
        }
      }
      const bool is_dir = S_ISDIR(st.st_mode);
      if (ignored(levels_, rel, is_dir)) continue;
      if (is_dir) {
        if (!visited_.insert({st.st_dev, st.st_ino}).second) {
          sink.skipped(rel, SkipReason::kSymlink, "directory loop");
          continue;
        }
        status = walk_dir(rel, sink, depth + 1);
        if (!status.ok()) break;
        continue;
      }
      if (!S_ISREG(st.st_mode)) continue;
      status = visit_file(rel, abs, dir_fd.fd, name, st, S_ISLNK(lst.st_mode), sink);
      if (!status.ok()) break;
    }
    if (pushed) levels_.pop_back();
    return status;
  }

  Status visit_file(const std::string& rel, const std::string& abs, int dir_fd, const std::string& name,
                    const struct stat& st, bool via_link, IngestSink& sink) {
    const auto size = static_cast<std::size_t>(st.st_size);
    if (sink.cancelled()) return cancelled_error("ingest cancelled");
    if (!detail::valid_utf8(rel)) {
      sink.skipped(rel, SkipReason::kUnreadable, "path is not valid UTF-8");
      return ok_status();
    }
    if (size > options_.max_file_bytes) {
      sink.skipped(rel, SkipReason::kTooLarge, std::to_string(size) + " bytes");
      return ok_status();
    }
    FileStamp stamp;
    stamp.size = static_cast<std::int64_t>(st.st_size);
    stamp.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    stamp.ctime_ns = options_.trust_ctime
                         ? static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec
                         : 0;
    stamp.inode = static_cast<std::uint64_t>(st.st_ino);
    if (sink.unchanged_stamp(rel, stamp)) return ok_status();
    sink.note_read(rel);
    std::string content, error;
    const bool ok = via_link ? read_followed(abs, content, error)
                             : read_file_at(dir_fd, name.c_str(), options_.max_file_bytes, content, error);
    if (!ok) {
      sink.skipped(rel, SkipReason::kUnreadable, error);
      return ok_status();
    }
    if (content.size() > options_.max_file_bytes) {
      sink.skipped(rel, SkipReason::kTooLarge, "grew while reading");
      return ok_status();
    }
    if (detail::looks_binary(content)) {
      sink.skipped(rel, SkipReason::kBinary, "");
      return ok_status();
    }
    if (detail::looks_generated(rel, content)) {
      sink.skipped(rel, SkipReason::kGenerated, "");
      return ok_status();
    }
    if (const std::size_t longest = detail::longest_line(content); longest > options_.max_line_bytes) {
      sink.skipped(rel, SkipReason::kLongLines, std::to_string(longest) + "-byte line");
      return ok_status();
    }
    const std::string hash = content_hash(content);
    if (sink.unchanged(rel, hash)) {
      sink.record_stamp(rel, stamp);
      return ok_status();
    }
    Document doc;
    doc.kind = DocumentKind::kFile;
    doc.path = rel;
    doc.commit = commit_;
    doc.uri = abs;
    doc.content = std::move(content);
    Status s = sink.put(std::move(doc));
    if (s.ok()) sink.record_stamp(rel, stamp);
    return s;
  }

  bool read_followed(const std::string& abs, std::string& out, std::string& error) {
    char* real = ::realpath(abs.c_str(), nullptr);
    if (!real) {
      error = std::strerror(errno);
      return false;
    }
    std::string target(real);
    std::free(real);
    return read_file(target, options_.max_file_bytes, out, error);
  }

  CodeTreeOptions options_;
  std::string commit_;
  std::vector<std::pair<std::string, GitignoreMatcher>> levels_;
  std::set<std::pair<dev_t, ino_t>> visited_;
};

}  // namespace

std::unique_ptr<Connector> make_code_tree_connector(CodeTreeOptions options) {
  return std::make_unique<CodeTreeConnector>(std::move(options));
}

}  // namespace strata::context
