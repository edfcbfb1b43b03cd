// strata/context/document.h — what connectors hand to the Context Engine.
//
// A Document is one item of a system of record (a source file at a commit, a commit of the
// history; later a pull request, review comment, issue, chat message or doc page) with its
// provenance and its access list. A Chunk is a span of a file document (a class, function,
// method or block) found by the engine's language-aware chunker.
//
// Thread safety: plain values. Distinct objects: safe. Shared objects: const access only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strata::context {

enum class DocumentKind : std::uint8_t {
  kFile = 0,    // a source or text file of a code tree
  kCommit = 1,  // a commit of a repository's history
  // Systems of record (strata/context/connectors.h). Stored and ranked like files.
  kPullRequest = 2,    // a GitHub pull request (title, body, state, linked issues)
  kReview = 3,         // a pull request review (status: approved / changes_requested / ...)
  kReviewComment = 4,  // a review comment on a line of a file of a pull request
  kIssue = 5,          // a GitHub issue or a Jira issue
  kComment = 6,        // a comment on an issue or a pull request's conversation
  kChatMessage = 7,    // a chat message (Slack); replies carry their thread as parent
  kDoc = 8,            // a Markdown document; ADRs carry their status
  kOwnership = 9,      // a CODEOWNERS file
};
std::string_view to_string(DocumentKind kind) noexcept;

enum class ChunkKind : std::uint8_t {
  kFile = 0,      // the whole file (files with no recognised definitions)
  kClass = 1,     // class, struct, interface, enum, trait, impl block
  kFunction = 2,  // free function
  kMethod = 3,    // function defined inside a class-like chunk
  kBlock = 4,     // top-level code between definitions (imports, constants, ...)
};
std::string_view to_string(ChunkKind kind) noexcept;

// A span of a file. Lines are 1-based and inclusive.
struct Chunk {
  ChunkKind kind = ChunkKind::kBlock;
  std::string name{};            // "is_upper"; empty for blocks
  std::string qualified_name{};  // "MatrixProperties.is_upper"; empty for blocks
  int start_line = 1;
  int end_line = 1;
  // Last line of the signature (the header up to the body); == start_line for one-line
  // headers. Packing elides a chunk to lines [start_line, signature_end_line].
  int signature_end_line = 1;
};

// The principal everyone is; a document whose access list holds it is public.
inline constexpr std::string_view kEveryone = "*";

struct Document {
  DocumentKind kind = DocumentKind::kFile;
  // Files: the path relative to the tree root, '/'-separated. Commits: the full hash.
  std::string path{};
  // The commit the content was read at; empty when the tree is not a git work tree.
  std::string commit{};
  // Optional locator for humans (URL, absolute path); not used for identity.
  std::string uri{};
  // Files: the bytes. Commits: the full message.
  std::string content{};
  // Commits: the subject line. Files: empty.
  std::string title{};
  // Authors (commits: "Name <email>").
  std::vector<std::string> authors{};
  // Seconds since the epoch (commits: author time); 0 when unknown.
  std::int64_t timestamp = 0;
  // Commits: the paths the commit changed (against its first parent).
  std::vector<std::string> changed_paths{};
  // Principals allowed to read this document; kEveryone for public. An empty list means
  // nobody may read it (fail closed). Default: public, which suits a local code tree.
  std::vector<std::string> access{std::string(kEveryone)};
  // Systems of record: the item this one belongs to (a review's pull request, a reply's
  // thread, a comment's issue); "" when none.
  std::string parent{};
  // Systems of record: a state in the source's words, lowercased ("approved",
  // "changes_requested", "merged", "open", "done", "accepted", "superseded", "edited").
  std::string status{};
  // Systems of record: documents this one references ("github:o/r/issue/5" for "Fixes #5",
  // "jira:ABC-2" for an issue link, "adr:5" for "superseded by 5").
  std::vector<std::string> links{};
  // Systems of record: people who acted on the item besides its authors, as
  // "<relation>:<account>" ("reviewed:github:bob", "approved:github:bob").
  std::vector<std::string> participants{};
};

// A stable 64-bit content hash as 16 lowercase hex digits (the key of incremental re-ingest).
std::string content_hash(std::string_view bytes);

// The re-ingest key of a whole document: a stable 64-bit hash (16 hex digits) of every field
// the index keeps — kind, path, commit, content, title, authors, timestamp, changed paths,
// access list, parent, status, links and participants (not `uri`). A connector whose records
// can change without their text changing (a channel made private, a member removed, a
// review's approval, a ticket's status) passes this to IngestSink::unchanged(), so such a
// change is written (and a revoked reader loses access) on the next ingest.
std::string document_key(const Document& doc);

}  // namespace strata::context
