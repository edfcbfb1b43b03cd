// Helpers shared by the context tests: temporary trees, an engine opener and a simple test tokenizer.
#pragma once

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <strata/context/engine.h>
#include <strata/context/tokenizer.h>

namespace strata::test {

// An engine on the index at `path` (created when missing), with the default options.
inline std::unique_ptr<context::ContextEngine> open_engine(const std::string& path) {
  auto e = context::ContextEngine::open({.index_path = path});
  REQUIRE(e.ok());
  return std::move(*e);
}

// A connector that puts `docs` in order on every scan. `complete`: the scan says it listed
// every document (the engine removes the connector's other documents).
class DocsConnector final : public context::Connector {
 public:
  explicit DocsConnector(std::string id = "docs") : id_(std::move(id)) {}
  std::string id() const override { return id_; }
  Result<context::ScanResult> scan(std::string_view, context::IngestSink& sink) override {
    for (const auto& d : docs) STRATA_RETURN_IF_ERROR(sink.put(d));
    context::ScanResult r;
    r.complete = complete;
    return r;
  }
  std::vector<context::Document> docs;
  bool complete = false;

 private:
  std::string id_;
};

// A fresh directory, removed at scope exit.
class ContextTempDir {
 public:
  ContextTempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("strata-ctx-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~ContextTempDir() {
    std::error_code ec;
    // Restore permissions so removal works after unreadable-file tests.
    for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_symlink()) ::chmod(it->path().c_str(), 0755);
    }
    std::filesystem::remove_all(path_, ec);
  }
  ContextTempDir(const ContextTempDir&) = delete;
  ContextTempDir& operator=(const ContextTempDir&) = delete;
  std::string path(const std::string& rel = "") const { return rel.empty() ? path_.string() : (path_ / rel).string(); }
  void write(const std::string& rel, const std::string& content) const {
    auto p = path_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
  }

 private:
  std::filesystem::path path_;
};

// Counts one token per byte: a deterministic, simple, exact-by-definition test tokenizer.
class ByteTokenizer final : public context::Tokenizer {
 public:
  std::string_view name() const noexcept override { return "bytes"; }
  bool exact() const noexcept override { return true; }
  std::size_t count(std::string_view text) const override { return text.size(); }
  std::vector<context::Token> encode(std::string_view text) const override {
    return std::vector<context::Token>(text.begin(), text.end());
  }
  Result<std::string> decode(const std::vector<context::Token>& tokens) const override {
    std::string out;
    for (auto t : tokens) {
      if (t > 255) return invalid_argument_error("bad token");
      out.push_back(static_cast<char>(t));
    }
    return out;
  }
};

// Runs a shell command line built from fixed strings (test repositories only).
inline int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

}  // namespace strata::test
