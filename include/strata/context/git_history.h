// strata/context/git_history.h — a Connector over a repository's commit history.
//
// Each commit reachable from `rev` becomes a kCommit document: hash, author, time, message
// and the paths it changed (merges: against their first parent). The engine uses them for
// each file's history (past commit messages) and co-change. The cursor is the head commit
// last ingested; the next scan adds `rev` ^cursor and removes cursor ^`rev` (so a history
// that was rewound or switched branches stays exactly the history of `rev`).
//
// Runs the `git` command (fork/exec, no shell). Thread safety: distinct objects: safe.
// Shared objects: unsafe.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <strata/context/connector.h>

namespace strata::context {

struct GitHistoryOptions {
  // A work tree or a git directory. Required.
  std::string repository{};
  // The revision whose history is ingested. Default: "HEAD".
  std::string rev = "HEAD";
  // Connector id. Default: "git".
  std::string id = "git";
  // At most this many commits, newest first (0 = all). Default: 0.
  std::size_t max_commits = 0;
  // The `git` executable. Default: "git" (looked up on PATH).
  std::string git = "git";
};

std::unique_ptr<Connector> make_git_history_connector(GitHistoryOptions options);

}  // namespace strata::context
