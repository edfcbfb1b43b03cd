// The estimate tokenizer without a rank file. Its bound against the real tokenizers is tested
// in tokenizer_estimate_golden_test.cpp (which needs the test data).
#include <catch2/catch.hpp>

#include <string>

#include <strata/context/tokenizer.h>

using strata::StatusCode;
using strata::context::estimate_tokenizer;

TEST_CASE("estimate tokenizer: identity and empty input", "[context][estimate]") {
  auto tokenizer = estimate_tokenizer();
  REQUIRE(tokenizer != nullptr);
  CHECK(tokenizer->name() == "estimate");
  CHECK_FALSE(tokenizer->exact());
  CHECK(tokenizer->count("") == 0);
  CHECK(tokenizer->encode("hello").empty());
  auto empty = tokenizer->decode({});
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  CHECK(tokenizer->decode({1, 2}).status().code() == StatusCode::kInvalidArgument);
  CHECK(estimate_tokenizer() == tokenizer);
}

TEST_CASE("estimate tokenizer: the formula per character class", "[context][estimate]") {
  auto tokenizer = estimate_tokenizer();
  // Letters: ceil(m / 2) per part of one case; a leading space joins the run.
  CHECK(tokenizer->count("the") == 2);
  CHECK(tokenizer->count("the cat") == 2 + 2);
  CHECK(tokenizer->count("getHTTPValue") == 2 + 2 + 1 + 2);
  // Digits: groups of three.
  CHECK(tokenizer->count("1234567") == 3);
  // Whitespace: 1 + changes + length / 4.
  CHECK(tokenizer->count("\n        ") == 1 + 1 + 2);
  // Punctuation: one per character.
  CHECK(tokenizer->count("();") == 3);
  // Non-ASCII: one per byte, valid or not.
  CHECK(tokenizer->count("\xc3\xa9") == 2);
  CHECK(tokenizer->count("\xff\xfe\x80") == 3);
}

TEST_CASE("estimate tokenizer: never more than one token per byte, never zero for text",
          "[context][estimate]") {
  auto tokenizer = estimate_tokenizer();
  std::string text;
  for (int i = 0; i < 4096; ++i) {
    text.push_back(static_cast<char>((i * 7919 + 13) % 256));
    const std::size_t count = tokenizer->count(text);
    REQUIRE(count >= 1);
    REQUIRE(count <= text.size());
  }
}
