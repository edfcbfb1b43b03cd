// Running `git` (posix_spawn, arguments passed as a vector: no shell, no quoting) and parsing
// its log output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <strata/status.h>

namespace strata::context::detail {

struct CommandOutput {
  int exit_code = 0;
  std::string out;
  std::string err;  // at most 64 KiB
};

// Runs argv[0] (looked up on PATH) with argv, stdin from /dev/null. kUnavailable when it
// cannot start; a non-zero exit is reported in exit_code, not as an error.
Result<CommandOutput> run_command(const std::vector<std::string>& argv);

// `git -C <repo> <args...>`; kUnavailable with git's stderr when git exits non-zero.
Result<std::string> run_git(const std::string& git, const std::string& repo,
                            const std::vector<std::string>& args);

struct LogCommit {
  std::string hash;
  std::string author;
  std::string email;
  std::int64_t time = 0;
  std::string message;
  std::vector<std::string> paths;
};

// The --format the parser expects (used with --name-only -z).
inline constexpr std::string_view kLogFormat = "%x1e%H%x1f%an%x1f%ae%x1f%at%x1f%B%x1f";

// Parses `git log -z --name-only --format=<kLogFormat>` output. Records that do not parse (no
// 40/64-hex hash, missing fields) are skipped and counted in *malformed.
std::vector<LogCommit> parse_git_log(std::string_view output, std::size_t* malformed);

}  // namespace strata::context::detail
