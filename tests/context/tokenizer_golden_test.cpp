// The real encodings against gpt-tokenizer's golden vectors and against gpt-tokenizer itself
// (run in Node), plus huge inputs, invalid UTF-8, threads and the estimator's bound. Tagged
// [tokenizer]: ctest runs them after the tokenizer_data fixture; without the data they FAIL
// with instructions.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <strata/context/tokenizer.h>

#include "context/tokenizer_test_util.h"
#include "sanitized.h"

using strata::StatusCode;
using strata::context::Encoding;
using strata::context::estimate_tokenizer;
using strata::context::Token;
using strata::context::Tokenizer;
using strata::context::test::load_test_plans;
using strata::context::test::real_tokenizer;
using strata::context::test::test_data_dir;

namespace {

const Encoding kEncodings[] = {Encoding::kCl100kBase, Encoding::kO200kBase};

const char* name_of(Encoding encoding) {
  return encoding == Encoding::kO200kBase ? "o200k_base" : "cl100k_base";
}

void check_round_trip(const Tokenizer& tokenizer, const std::string& text) {
  const auto tokens = tokenizer.encode(text);
  REQUIRE(tokenizer.count(text) == tokens.size());
  auto decoded = tokenizer.decode(tokens);
  REQUIRE(decoded.ok());
  REQUIRE(*decoded == text);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

// strata's own sources and docs: (path, content).
std::vector<std::pair<std::string, std::string>> strata_sources() {
  std::vector<std::pair<std::string, std::string>> files;
  const std::filesystem::path root = STRATA_SOURCE_DIR;
  for (const char* dir : {"include", "src", "tests", "bench", "docs", "examples", "scripts"}) {
    if (!std::filesystem::exists(root / dir)) continue;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root / dir)) {
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || entry.path().string().find("/corpus/") != std::string::npos) {
        continue;
      }
      if (ext == ".cpp" || ext == ".h" || ext == ".md" || ext == ".txt" || ext == ".sh" ||
          ext == ".py" || ext == ".cmake" || ext == ".mjs" || ext == ".json") {
        files.emplace_back(entry.path().string(), read_file(entry.path()));
      }
    }
  }
  for (const char* file : {"README.md", "CMakeLists.txt", "CMakePresets.json"}) {
    if (std::filesystem::exists(root / file)) files.emplace_back(file, read_file(root / file));
  }
  return files;
}

// Pieces of text that exercise the patterns: cases, marks, numbers of all kinds, white space,
// contractions, punctuation, emoji. All valid UTF-8 (Node strings cannot hold anything else).
const std::vector<std::string>& fragments() {
  static const std::vector<std::string> all = {
      "a", "b", "Z", "Q", "e", "x", "hello", "World", "HTTP", "'", "s", "t", "re", "ll", "ve",
      "D", "M", "'S", "'LL", " ", "  ", "   ", "\t", "\n", "\r", "\r\n", "\n\n",
      "\xc2\xa0", "\xe3\x80\x80", "\xe2\x80\x83", "0", "7", "123", "4567",
      "\xd9\xa1", "\xc2\xbd", "\xe2\x85\xa7", "\xc3\xa9", "\xc3\x89", "\xc7\x85", "\xca\xb0",
      "\xe4\xb8\xad", "\xe6\x96\x87", "\xe3\x81\x82", "\xcc\x81", "\xe0\xa4\x83", ".", ",",
      "!", "/", "//", "$", "<", ">", "{", "}", "-", "_", "\xf0\x9f\x99\x82",
      "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", "\xc3\x9f", "\xc4\xb0", "\xef\xac\x81", "<|", "|>",
      "\xd0\x9f\xd1\x80\xd0\xb8", "\xd7\xa9\xd7\x9c", "\xe0\xb8\x81\xe0\xb8\xb2"};
  return all;
}

std::string random_text(std::mt19937& random, std::size_t fragments_count) {
  std::string text;
  for (std::size_t i = 0; i < fragments_count; ++i) {
    text += fragments()[random() % fragments().size()];
  }
  return text;
}

// Random code points from all planes (valid UTF-8, no surrogates).
std::string random_unicode(std::mt19937& random, std::size_t code_points) {
  std::string text;
  for (std::size_t i = 0; i < code_points; ++i) {
    char32_t cp = 0;
    switch (random() % 4) {
      case 0: cp = random() % 0x80; break;
      case 1: cp = random() % 0x800; break;
      case 2: cp = random() % 0x10000; break;
      default: cp = random() % 0x110000; break;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
    if (cp < 0x80) {
      text += static_cast<char>(cp);
    } else if (cp < 0x800) {
      text += static_cast<char>(0xC0 | cp >> 6);
      text += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      text += static_cast<char>(0xE0 | cp >> 12);
      text += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      text += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      text += static_cast<char>(0xF0 | cp >> 18);
      text += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
      text += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      text += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return text;
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", c);
      out += escape;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// gpt-tokenizer's encodings of `samples` (run in Node), one vector per sample.
std::vector<std::vector<Token>> gpt_tokenizer_encode(Encoding encoding,
                                                     const std::vector<std::string>& samples) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string stamp = std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  const auto input = dir / ("strata_samples_" + stamp + ".json");
  const auto output = dir / ("strata_samples_" + stamp + ".out");
  {
    std::ofstream file(input, std::ios::binary);
    file << "[";
    for (std::size_t i = 0; i < samples.size(); ++i) {
      file << (i == 0 ? "" : ",") << json_string(samples[i]);
    }
    file << "]";
  }
  const std::string command = std::string("node ") + STRATA_SOURCE_DIR +
                              "/tests/context/gpt_tokenizer_encode.mjs " + test_data_dir() +
                              "/npm/node_modules/gpt-tokenizer " + name_of(encoding) + " " +
                              input.string() + " > " + output.string();
  const int status = std::system(command.c_str());
  std::filesystem::remove(input);
  if (status != 0) {
    std::filesystem::remove(output);
    FAIL("node could not run gpt-tokenizer (" << command
                                              << "); fetch the data with "
                                                 "tests/context/fetch_tokenizer_data.sh");
  }
  std::ifstream file(output);
  std::vector<std::vector<Token>> encoded;
  std::string line;
  while (std::getline(file, line)) {
    std::istringstream ids(line);
    std::vector<Token> tokens;
    Token id = 0;
    while (ids >> id) tokens.push_back(id);
    encoded.push_back(std::move(tokens));
  }
  std::filesystem::remove(output);
  return encoded;
}

}  // namespace

TEST_CASE("tokenizer: golden vectors: cl100k_base and o200k_base match gpt-tokenizer's TestPlans",
          "[tokenizer]") {
  const auto plans = load_test_plans();
  std::size_t checked = 0;
  for (Encoding encoding : kEncodings) {
    auto tokenizer = real_tokenizer(encoding);
    CHECK(tokenizer->name() == name_of(encoding));
    CHECK(tokenizer->exact());
    for (const auto& plan : plans) {
      if (plan.encoding != name_of(encoding)) continue;
      INFO(plan.encoding << ": " << plan.sample);
      CHECK(tokenizer->encode(plan.sample) == plan.tokens);
      CHECK(tokenizer->count(plan.sample) == plan.tokens.size());
      auto decoded = tokenizer->decode(plan.tokens);
      REQUIRE(decoded.ok());
      CHECK(*decoded == plan.sample);
      ++checked;
    }
  }
  CHECK(checked == 64 + 57);
}

TEST_CASE("tokenizer: differential: random mixed text encodes exactly as gpt-tokenizer does",
          "[tokenizer]") {
  std::mt19937 random(20261126);
  std::vector<std::string> samples;
  for (int i = 0; i < 1500; ++i) samples.push_back(random_text(random, 1 + random() % 24));
  for (int i = 0; i < 300; ++i) samples.push_back(random_unicode(random, 1 + random() % 16));
  for (Encoding encoding : kEncodings) {
    auto tokenizer = real_tokenizer(encoding);
    const auto expected = gpt_tokenizer_encode(encoding, samples);
    REQUIRE(expected.size() == samples.size());
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < samples.size(); ++i) {
      if (tokenizer->encode(samples[i]) != expected[i]) {
        ++mismatches;
        UNSCOPED_INFO(name_of(encoding) << " differs on " << json_string(samples[i]));
      }
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("tokenizer: differential: strata's own sources count exactly as gpt-tokenizer does",
          "[tokenizer]") {
  std::vector<std::string> samples;
  for (const auto& [path, content] : strata_sources()) samples.push_back(content);
  REQUIRE(samples.size() > 20);
  for (Encoding encoding : kEncodings) {
    auto tokenizer = real_tokenizer(encoding);
    const auto expected = gpt_tokenizer_encode(encoding, samples);
    REQUIRE(expected.size() == samples.size());
    for (std::size_t i = 0; i < samples.size(); ++i) {
      REQUIRE(tokenizer->encode(samples[i]) == expected[i]);
    }
  }
}

TEST_CASE("tokenizer: a rank file of the other encoding is INVALID_ARGUMENT", "[tokenizer]") {
  for (Encoding encoding : kEncodings) {
    const Encoding other =
        encoding == Encoding::kO200kBase ? Encoding::kCl100kBase : Encoding::kO200kBase;
    auto loaded = strata::context::load_tiktoken(
        test_data_dir() + "/" + name_of(encoding) + ".tiktoken", other);
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.status().code() == StatusCode::kInvalidArgument);
    CHECK(loaded.status().message().find("another encoding") != std::string::npos);
  }
}

TEST_CASE("tokenizer: special tokens are counted as the text they are", "[tokenizer]") {
  for (Encoding encoding : kEncodings) {
    auto tokenizer = real_tokenizer(encoding);
    for (const char* text : {"<|endoftext|>", "a<|fim_prefix|>b<|endofprompt|>",
                                   "<|im_start|>user\nhi<|im_end|>"}) {
      const auto tokens = tokenizer->encode(text);
      CHECK(tokens.size() > 1);
      for (Token token : tokens) {
        CHECK(token < (encoding == Encoding::kO200kBase ? 199998u : 100256u));
      }
      check_round_trip(*tokenizer, text);
    }
    const Token past_end = encoding == Encoding::kO200kBase ? 199998 : 100256;
    CHECK(tokenizer->decode({past_end}).status().code() == StatusCode::kInvalidArgument);
    CHECK(tokenizer->decode({past_end - 1}).ok());
  }
}

TEST_CASE("tokenizer: huge inputs: megabytes, and pieces of 256 KiB", "[tokenizer]") {
  std::string corpus;
  for (const auto& [path, content] : strata_sources()) corpus += content;
  // 2 MiB (1 MiB under a sanitizer: see sanitized.h).
  const std::size_t megabytes = strata::test::full_or_sanitized(2, 1);
  while (corpus.size() < (megabytes << 20)) corpus += corpus;
  const std::string letters = [] {
    std::string text;
    std::mt19937 random(5);
    for (int i = 0; i < (1 << 18); ++i) text += static_cast<char>('a' + random() % 26);
    return text;
  }();
  for (Encoding encoding : kEncodings) {
    auto tokenizer = real_tokenizer(encoding);
    const auto started = std::chrono::steady_clock::now();
    check_round_trip(*tokenizer, corpus);
    check_round_trip(*tokenizer, letters);
    check_round_trip(*tokenizer, std::string(1 << 18, ' '));
    check_round_trip(*tokenizer, std::string(1 << 18, '7'));
    check_round_trip(*tokenizer, std::string(1 << 18, '\n'));
    const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
    INFO("took " << seconds.count() << " s");
    CHECK(seconds.count() < 120);  // no quadratic blow-up (generous for sanitizer builds)
    // The counts of concatenated pieces add up when the split points are newlines.
    CHECK(tokenizer->count(std::string(1 << 18, '7')) == ((1 << 18) + 2) / 3);
  }
}

TEST_CASE("tokenizer: invalid UTF-8 round-trips through the real encodings", "[tokenizer]") {
  std::mt19937 random(99);
  for (Encoding encoding : kEncodings) {
    auto tokenizer = real_tokenizer(encoding);
    for (int round = 0; round < 300; ++round) {
      std::string text(random() % 200, '\0');
      for (char& c : text) c = static_cast<char>(random());
      check_round_trip(*tokenizer, text);
    }
    for (const std::string& text :
         {std::string("\xff\xfe"), std::string("caf\xc3"), std::string("\xed\xa0\x80x"),
          std::string("\xc0\x80"), std::string("\xf4\x90\x80\x80"), std::string("a\0b", 3)}) {
      check_round_trip(*tokenizer, text);
    }
  }
}

TEST_CASE("tokenizer: concurrent use from several threads gives the single-threaded results",
          "[tokenizer]") {
  std::vector<std::string> texts;
  for (const auto& [path, content] : strata_sources()) texts.push_back(content);
  // Under a sanitizer, 40 of the files: still 77-80 count/encode/decode rounds per thread on
  // the shared tokenizer, overlapping the other three threads' rounds.
  texts.resize(std::min(texts.size(), strata::test::full_or_sanitized(texts.size(), 40)));
  for (Encoding encoding : kEncodings) {
    auto tokenizer = real_tokenizer(encoding);
    std::vector<std::size_t> expected;
    for (const auto& text : texts) expected.push_back(tokenizer->encode(text).size());
    constexpr int kThreads = 4;
    std::vector<int> mismatches(kThreads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (std::size_t i = static_cast<std::size_t>(t); i < texts.size() * 2; ++i) {
          const std::size_t k = i % texts.size();
          if (tokenizer->count(texts[k]) != expected[k]) ++mismatches[t];
          auto decoded = tokenizer->decode(tokenizer->encode(texts[k]));
          if (!decoded.ok() || *decoded != texts[k]) ++mismatches[t];
        }
      });
    }
    for (auto& thread : threads) thread.join();
    for (int t = 0; t < kThreads; ++t) CHECK(mismatches[t] == 0);
  }
}

TEST_CASE("tokenizer: the estimator never undercounts the real tokenizers", "[tokenizer]") {
  auto estimate = estimate_tokenizer();
  std::vector<std::string> corpus;
  // strata's own files, whole and line by line.
  for (const auto& [path, content] : strata_sources()) {
    corpus.push_back(content);
    std::istringstream lines(content);
    std::string line;
    while (std::getline(lines, line)) corpus.push_back(line);
  }
  // The golden-vector texts: prose in many languages, emoji, random ASCII.
  for (const auto& plan : load_test_plans()) corpus.push_back(plan.sample);
  // Random Unicode and random mixes of the pattern's edge cases.
  std::mt19937 random(17);
  // 2000 of each (500 under a sanitizer: see sanitized.h).
  const std::size_t randoms = strata::test::full_or_sanitized(2000, 500);
  for (std::size_t i = 0; i < randoms; ++i) corpus.push_back(random_unicode(random, 1 + random() % 64));
  for (std::size_t i = 0; i < randoms; ++i) corpus.push_back(random_text(random, 1 + random() % 64));
  for (Encoding encoding : kEncodings) {
    auto tokenizer = real_tokenizer(encoding);
    std::size_t undercounts = 0;
    std::size_t total_real = 0;
    std::size_t total_estimate = 0;
    for (const auto& text : corpus) {
      const std::size_t real = tokenizer->count(text);
      const std::size_t estimated = estimate->count(text);
      total_real += real;
      total_estimate += estimated;
      if (estimated < real) {
        ++undercounts;
        UNSCOPED_INFO(name_of(encoding) << ": estimate " << estimated << " < " << real
                                        << " for " << json_string(text.substr(0, 200)));
      }
    }
    CHECK(undercounts == 0);
    WARN(name_of(encoding) << ": estimate/real = "
                           << static_cast<double>(total_estimate) / total_real << " over "
                           << corpus.size() << " texts");
  }
}
