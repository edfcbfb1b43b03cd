// A recording IngestSink for connector tests, and helpers shared by the connector tests.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <strata/context/connector.h>
#include <strata/context/document.h>

namespace strata::test {

// Keeps what a connector reported. unchanged() answers from the keys it stored with the
// documents (the engine's contract: the key asked about is stored with the put() that
// follows), so two scans through the same sink behave like two ingests.
class RecordingSink final : public context::IngestSink {
 public:
  struct Skip {
    std::string path;
    context::SkipReason reason;
    std::string detail;
  };
  bool unchanged(std::string_view path, std::string_view hash) override {
    asked_path_.assign(path);
    asked_key_.assign(hash);
    auto it = keys.find(std::string(path));
    return it != keys.end() && it->second == hash;
  }
  Status put(context::Document d) override {
    ++puts;
    std::string path = d.path;
    keys[path] = asked_path_ == path ? asked_key_ : context::content_hash(d.content);
    asked_path_.clear();
    docs[path] = std::move(d);
    return ok_status();
  }
  Status remove(std::string_view path) override {
    removed.emplace_back(path);
    docs.erase(std::string(path));
    keys.erase(std::string(path));
    return ok_status();
  }
  void skipped(std::string_view path, context::SkipReason reason, std::string_view detail) override {
    skips.push_back({std::string(path), reason, std::string(detail)});
  }
  bool cancelled() const override { return false; }

  const context::Document& at(const std::string& path) const { return docs.at(path); }
  bool has(const std::string& path) const { return docs.count(path) != 0; }
  // The skips whose path contains `fragment`.
  std::vector<Skip> skips_for(const std::string& fragment) const {
    std::vector<Skip> out;
    for (const auto& s : skips) {
      if (s.path.find(fragment) != std::string::npos) out.push_back(s);
    }
    return out;
  }

  std::map<std::string, context::Document> docs;
  std::map<std::string, std::string> keys;  // path -> the re-ingest key stored with it
  std::vector<Skip> skips;
  std::vector<std::string> removed;
  std::size_t puts = 0;

 private:
  std::string asked_path_, asked_key_;
};

}  // namespace strata::test
