#include "context/git.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace strata::context::detail {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

}  // namespace

Result<CommandOutput> run_command(const std::vector<std::string>& argv) {
  if (argv.empty()) return invalid_argument_error("run_command: empty argv");
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return unavailable_error("pipe: " + std::string(std::strerror(errno)));
  Fd out_r{out_pipe[0]}, out_w{out_pipe[1]};
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return unavailable_error("pipe: " + std::string(std::strerror(errno)));
  Fd err_r{err_pipe[0]}, err_w{err_pipe[1]};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.fd, 2);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return unavailable_error("cannot run " + argv[0] + ": " + std::strerror(rc));
  }
  out_w.reset();
  err_w.reset();

  CommandOutput result;
  char buf[65536];
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    pollfd fds[2];
    nfds_t nfds = 0;
    if (out_open) fds[nfds++] = {out_r.fd, POLLIN, 0};
    if (err_open) fds[nfds++] = {err_r.fd, POLLIN, 0};
    if (::poll(fds, nfds, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (nfds_t k = 0; k < nfds; ++k) {
      if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t got = ::read(fds[k].fd, buf, sizeof buf);
      const bool is_out = fds[k].fd == out_r.fd;
      if (got <= 0) {
        if (got < 0 && errno == EINTR) continue;
        (is_out ? out_open : err_open) = false;
        continue;
      }
      if (is_out) {
        result.out.append(buf, static_cast<std::size_t>(got));
      } else if (result.err.size() < 65536) {
        result.err.append(buf, static_cast<std::size_t>(got));
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return unavailable_error("waitpid: " + std::string(std::strerror(errno)));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

Result<std::string> run_git(const std::string& git, const std::string& repo,
                            const std::vector<std::string>& args) {
  std::vector<std::string> argv{git, "-C", repo, "-c", "core.quotepath=off"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = run_command(argv);
  if (!out.ok()) return out.status();
  if (out->exit_code != 0) {
    std::string err = out->err.substr(0, 500);
    while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
    return unavailable_error("git " + (args.empty() ? std::string() : args.front()) +
                             " failed (exit " + std::to_string(out->exit_code) + "): " + err);
  }
  return std::move(out->out);
}

namespace {

bool is_hash(std::string_view s) {
  if (s.size() != 40 && s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::vector<LogCommit> parse_git_log(std::string_view output, std::size_t* malformed) {
  std::vector<LogCommit> commits;
  std::size_t bad = 0;
  std::size_t pos = output.find('\x1e');
  while (pos != std::string_view::npos) {
    std::size_t next = output.find('\x1e', pos + 1);
    std::string_view rec = output.substr(pos + 1, (next == std::string_view::npos ? output.size() : next) - pos - 1);
    pos = next;
    // hash \x1f author \x1f email \x1f time \x1f message \x1f paths(NUL-separated)
    std::string_view fields[5];
    bool ok = true;
    for (int f = 0; f < 5; ++f) {
      const std::size_t sep = rec.find('\x1f');
      if (sep == std::string_view::npos) {
        ok = false;
        break;
      }
      fields[f] = rec.substr(0, sep);
      rec.remove_prefix(sep + 1);
    }
    if (!ok || !is_hash(fields[0])) {
      ++bad;
      continue;
    }
    LogCommit c;
    c.hash = std::string(fields[0]);
    c.author = std::string(fields[1]);
    c.email = std::string(fields[2]);
    std::int64_t t = 0;
    // At most 18 digits: the value fits in 64 bits (a longer field is refused unread).
    bool digits = !fields[3].empty() && fields[3].size() < 19;
    for (std::size_t k = 0; digits && k < fields[3].size(); ++k) {
      const char ch = fields[3][k];
      digits = ch >= '0' && ch <= '9';
      if (digits) t = t * 10 + (ch - '0');
    }
    if (!digits) {
      ++bad;
      continue;
    }
    c.time = t;
    c.message = std::string(fields[4]);
    while (!c.message.empty() && (c.message.back() == '\n' || c.message.back() == ' ')) c.message.pop_back();
    // Paths: NUL-separated, after a NUL/newline that ends the format.
    std::size_t start = 0;
    while (start < rec.size()) {
      std::size_t end = rec.find('\0', start);
      if (end == std::string_view::npos) end = rec.size();
      std::string_view p = rec.substr(start, end - start);
      while (!p.empty() && (p.front() == '\n' || p.front() == '\r')) p.remove_prefix(1);
      if (!p.empty()) c.paths.emplace_back(p);
      start = end + 1;
    }
    commits.push_back(std::move(c));
  }
  if (malformed) *malformed = bad;
  return commits;
}

}  // namespace strata::context::detail
