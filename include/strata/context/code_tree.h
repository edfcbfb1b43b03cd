// strata/context/code_tree.h — a Connector over a directory of source code.
//
// Walks the tree (honouring .gitignore files, .git/info/exclude and never entering .git),
// reads each text file and hands it to the engine, which chunks it by language. Binary, huge,
// generated and unreadable files, very long lines and symlinks that leave the tree are
// skipped and counted. The cursor is the commit of HEAD (when the tree is a git work tree).
// Every scan is complete: files that disappeared are removed from the index. A re-scan reads
// only files whose stat stamp (size, mtime, ctime, inode) differs from the one recorded at the
// last ingest, or whose stamp was recorded too soon after the file changed to be trusted.
//
// Thread safety: distinct objects: safe. Shared objects: unsafe.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <strata/context/connector.h>

namespace strata::context {

struct CodeTreeOptions {
  // The directory to walk. Required.
  std::string root{};
  // Connector id (documents are kept per id). Default: "code".
  std::string id = "code";
  // The commit documents are stamped with. Default: "" = `git rev-parse HEAD` in root (or
  // in git_dir), or none when root is not a git work tree.
  std::string commit{};
  // A git directory for a tree checked out with --work-tree. Default: "" (root/.git).
  std::string git_dir{};
  // Files larger than this are skipped (kTooLarge). Default: 1 MiB.
  std::size_t max_file_bytes = 1 << 20;
  // Files with a line longer than this are skipped (kLongLines). Default: 20,000 bytes.
  std::size_t max_line_bytes = 20000;
  // Follow symlinks that stay inside the tree. Default: false (symlinks are skipped).
  bool follow_symlinks = false;
  // Compare the status change time (ctime) too when deciding from a file's stat stamp that
  // it is unchanged (like git's core.trustctime). Turn off where other tools touch ctime
  // (backup or indexing daemons); size, mtime, inode and the racy-time rule still apply.
  // Default: true.
  bool trust_ctime = true;
};

// REQUIRES: options.root names a directory (checked by scan(), which returns kNotFound).
std::unique_ptr<Connector> make_code_tree_connector(CodeTreeOptions options);

}  // namespace strata::context
