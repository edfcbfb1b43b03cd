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
};

// A stable 64-bit content hash as 16 lowercase hex digits (the key of incremental re-ingest).
std::string content_hash(std::string_view bytes);

}  // namespace strata::context
