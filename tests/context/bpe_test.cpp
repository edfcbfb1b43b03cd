// BPE merging, pre-tokenization and rank file parsing on small, hand-made tables (no test
// data needed). The real encodings are tested in tokenizer_golden_test.cpp.
#include <catch2/catch.hpp>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <strata/context/tokenizer.h>

#include "context/tokenizer/bpe.h"
#include "context/tokenizer/pretokenize.h"
#include "context/tokenizer/tiktoken_file.h"
#include "context/tokenizer_test_util.h"

using strata::StatusCode;
using strata::context::Encoding;
using strata::context::Token;
using strata::context::test::small_table;
namespace ctx = strata::context;

namespace {

std::vector<std::string> pieces(std::string_view text, Encoding encoding) {
  std::vector<std::string> out;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t end = ctx::piece_end(text, pos, encoding);
    REQUIRE(end > pos);
    REQUIRE(end <= text.size());
    out.emplace_back(text.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

std::string base64(std::string_view bytes) {
  static const char* alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 |
                       static_cast<unsigned char>(bytes[i + 1]) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(alphabet[v >> shift & 63]);
  }
  if (bytes.size() - i == 1) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    out += {alphabet[v >> 18 & 63], alphabet[v >> 12 & 63], '=', '='};
  } else if (bytes.size() - i == 2) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 |
                       static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += {alphabet[v >> 18 & 63], alphabet[v >> 12 & 63], alphabet[v >> 6 & 63], '='};
  }
  return out;
}

// A rank file of the 256 single bytes followed by `merges`.
std::string rank_file(const std::vector<std::string>& merges = {}) {
  std::string out;
  Token rank = 0;
  for (int byte = 0; byte < 256; ++byte) {
    out += base64(std::string(1, static_cast<char>(byte))) + " " + std::to_string(rank++) + "\n";
  }
  for (const auto& merge : merges) out += base64(merge) + " " + std::to_string(rank++) + "\n";
  return out;
}

strata::Result<ctx::RankTable> parse(std::string_view content, std::size_t expected = 0) {
  return ctx::parse_tiktoken(content, expected, "test.tiktoken");
}

}  // namespace

TEST_CASE("bpe: cl100k pre-tokenization splits like its pattern", "[context][bpe]") {
  using V = std::vector<std::string>;
  const Encoding e = Encoding::kCl100kBase;
  CHECK(pieces("Hello world", e) == V{"Hello", " world"});
  CHECK(pieces("I'm here, don't", e) == V{"I", "'m", " here", ",", " don", "'t"});
  CHECK(pieces("'S'LL'Ve're", e) == V{"'S", "'LL", "'Ve", "'re"});
  CHECK(pieces("  foo", e) == V{" ", " foo"});
  CHECK(pieces("a  \n\n b", e) == V{"a", "  \n\n", " b"});
  CHECK(pieces("x   ", e) == V{"x", "   "});
  CHECK(pieces("1234567", e) == V{"123", "456", "7"});
  CHECK(pieces("a1b", e) == V{"a", "1", "b"});
  CHECK(pieces(" !!!\n\nx", e) == V{" !!!\n\n", "x"});
  CHECK(pieces("$foo\tbar", e) == V{"$foo", "\tbar"});
  CHECK(pieces("\n\nfoo", e) == V{"\n\n", "foo"});
  CHECK(pieces("a \t b", e) == V{"a", " \t", " b"});
  CHECK(pieces("caf\xc3\xa9 \xe4\xb8\x96\xe7\x95\x8c", e) ==
        V{"caf\xc3\xa9", " \xe4\xb8\x96\xe7\x95\x8c"});
  // U+00A0 (no-break space) is white space, but only U+0020 may lead punctuation.
  CHECK(pieces("a\xc2\xa0\xc2\xa0!", e) == V{"a", "\xc2\xa0", "\xc2\xa0", "!"});
}

TEST_CASE("bpe: o200k pre-tokenization splits like its pattern", "[context][bpe]") {
  using V = std::vector<std::string>;
  const Encoding e = Encoding::kO200kBase;
  CHECK(pieces("helloWorld HTTPServer ABC", e) == V{"hello", "World", " HTTPServer", " ABC"});
  CHECK(pieces("Hello's they'RE", e) == V{"Hello's", " they'RE"});
  CHECK(pieces("foo/bar//\nx", e) == V{"foo", "/bar", "//\n", "x"});
  CHECK(pieces("\n\n  x", e) == V{"\n\n", " ", " x"});
  CHECK(pieces("x   ", e) == V{"x", "   "});
  CHECK(pieces("1234", e) == V{"123", "4"});
  CHECK(pieces("'s", e) == V{"'s"});
  // A combining mark (U+0301) counts as both cases: "E\u0301cole" is one word.
  CHECK(pieces("E\xcc\x81" "cole", e) == V{"E\xcc\x81" "cole"});
}

TEST_CASE("bpe: pre-tokenization tiles any bytes, invalid UTF-8 included", "[context][bpe]") {
  std::mt19937 random(7);
  for (int round = 0; round < 2000; ++round) {
    std::string text(random() % 40, '\0');
    for (char& c : text) c = static_cast<char>(random());
    for (Encoding e : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
      std::string joined;
      for (const auto& piece : pieces(text, e)) joined += piece;
      REQUIRE(joined == text);
    }
  }
  // Invalid sequences are characters of their own, like punctuation.
  using V = std::vector<std::string>;
  CHECK(pieces("a\xff" "b", Encoding::kCl100kBase) == V{"a", "\xff" "b"});
  CHECK(pieces("\xc0\x80\xed\xa0\x80", Encoding::kCl100kBase) ==
        V{"\xc0\x80\xed\xa0\x80"});
  CHECK(pieces("x\xe2\x82", Encoding::kO200kBase) == V{"x", "\xe2\x82"});
}

TEST_CASE("bpe: BPE merges the lowest rank first, leftmost on ties", "[context][bpe]") {
  // ranks: 256 "aa", 257 "bc", 258 "ab", 259 "abc"
  const ctx::RankTable table = small_table({"aa", "bc", "ab", "abc"});
  auto tokenizer = ctx::make_bpe_tokenizer("small", Encoding::kCl100kBase, small_table(
      {"aa", "bc", "ab", "abc"}));
  CHECK(tokenizer->encode("aaa") == std::vector<Token>{256, 'a'});
  // bc (257) merges before ab (258); then a + bc = abc (259).
  CHECK(tokenizer->encode("xabcx") == std::vector<Token>{'x', 259, 'x'});
  CHECK(tokenizer->encode("abc") == std::vector<Token>{259});
  CHECK(tokenizer->count("xabcx aaa") == 3 + 3);
  auto decoded = tokenizer->decode({'x', 259, 'x'});
  REQUIRE(decoded.ok());
  CHECK(*decoded == "xabcx");
  CHECK(tokenizer->decode({260}).status().code() == StatusCode::kInvalidArgument);
  CHECK(tokenizer->exact());
  CHECK(tokenizer->name() == "small");
  std::vector<Token> out;
  ctx::bpe_merge_heap(table, "xabcxaaa", out);
  CHECK(out == std::vector<Token>{'x', 259, 'x', 256, 'a'});
}

TEST_CASE("bpe: the scan and the heap merge identically", "[context][bpe]") {
  const ctx::RankTable table = small_table({"ab", "ba", "aa", "abb", "bab", "abab", "bb",
                                            "bba", "aab", "ca", "cab", "ababab"});
  std::mt19937 random(11);
  for (int round = 0; round < 5000; ++round) {
    std::string piece(1 + random() % ctx::kSmallPieceBytes, 'a');
    for (char& c : piece) c = "abc"[random() % 3];
    std::vector<Token> scan;
    std::vector<Token> heap;
    ctx::bpe_merge_scan(table, piece, scan);
    ctx::bpe_merge_heap(table, piece, heap);
    REQUIRE(scan == heap);
    std::string joined;
    for (Token t : heap) joined += table.bytes(t);
    REQUIRE(joined == piece);
  }
}

TEST_CASE("bpe: BPE round-trips any bytes", "[context][bpe]") {
  auto tokenizer = ctx::make_bpe_tokenizer("small", Encoding::kO200kBase,
                                           small_table({"\xff\xff", "\xc3\xa9", "ab", " a"}));
  std::mt19937 random(3);
  for (int round = 0; round < 500; ++round) {
    std::string text(random() % 300, '\0');
    for (char& c : text) c = static_cast<char>(random() % 4 == 0 ? 0xff : random());
    const auto tokens = tokenizer->encode(text);
    REQUIRE(tokenizer->count(text) == tokens.size());
    auto decoded = tokenizer->decode(tokens);
    REQUIRE(decoded.ok());
    REQUIRE(*decoded == text);
  }
}

TEST_CASE("bpe: rank files: a valid file parses", "[context][bpe]") {
  auto table = parse(rank_file({"ab", "abc"}));
  REQUIRE(table.ok());
  CHECK(table->size() == 258);
  CHECK(table->rank("ab") == 256);
  CHECK(table->rank("abc") == 257);
  CHECK(table->rank("abd") == ctx::kNoRank);
  CHECK(table->bytes(257) == "abc");
  CHECK(table->bytes(258).empty());
  // CRLF line ends and blank lines are accepted.
  std::string crlf;
  for (char c : rank_file()) {
    if (c == '\n') crlf += "\r\n\r\n";
    else crlf += c;
  }
  CHECK(parse(crlf).ok());
}

TEST_CASE("bpe: rank files: malformed content is DATA_LOSS naming the line", "[context][bpe]") {
  const auto expect_error = [](const std::string& content, const std::string& part) {
    auto table = parse(content);
    INFO(content.substr(content.size() > 60 ? content.size() - 60 : 0));
    REQUIRE_FALSE(table.ok());
    CHECK(table.status().code() == StatusCode::kDataLoss);
    INFO(table.status().message());
    CHECK(table.status().message().find(part) != std::string::npos);
  };
  const std::string valid = rank_file({"ab"});
  expect_error("", "no tokens");
  expect_error("\n\n", "no tokens");
  // Truncated: the last line lost its rank, or half its base64.
  expect_error(valid + "YWJj", "line 258: expected");
  expect_error(valid + "YWJj ", "line 258: rank is not");
  expect_error(valid + "YWJ 257", "line 258: token is not valid base64");
  expect_error(valid + "Y!Jj 257", "line 258: token is not valid base64");
  expect_error(valid + "YW=j 257", "line 258: token is not valid base64");
  expect_error(valid + "YWJj 25x", "line 258: rank is not a decimal number");
  expect_error(valid + "YWJj -1", "line 258: rank is not a decimal number");
  expect_error(valid + "YWJj 99999999", "line 258: rank is not below");
  expect_error(valid + "YWJj  257", "line 258: expected");
  expect_error(valid + "YWJj 257 1", "line 258: expected");
  expect_error(valid + base64(std::string(2000, 'x')) + " 257", "line 258: token is longer");
  // Duplicates and gaps.
  expect_error(valid + "YWJj 256", "rank 256 is also the rank of line 257");
  expect_error(valid + "YWI= 257", "line 258: token is also the token of line 257");
  expect_error(valid + "YWJj 300", "rank 257 is missing");
  // A byte without a token.
  std::string no_newline_byte = rank_file();
  no_newline_byte.replace(no_newline_byte.find("Cg== 10\n"), 8, "");
  no_newline_byte += "Cgo= 10\n";
  expect_error(no_newline_byte, "no token for the single byte 0x0A");
}

TEST_CASE("bpe: rank files: the wrong size is INVALID_ARGUMENT", "[context][bpe]") {
  auto table = parse(rank_file({"ab"}), ctx::expected_token_count(Encoding::kCl100kBase));
  REQUIRE_FALSE(table.ok());
  CHECK(table.status().code() == StatusCode::kInvalidArgument);
  CHECK(table.status().message().find("257 tokens where 100256 were expected") !=
        std::string::npos);
}

TEST_CASE("bpe: load_tiktoken: missing and unreadable files", "[context][bpe]") {
  auto missing = ctx::load_tiktoken("/nonexistent/strata/cl100k_base.tiktoken",
                                    Encoding::kCl100kBase);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
  auto directory = ctx::load_tiktoken(std::filesystem::temp_directory_path().string(),
                                      Encoding::kCl100kBase);
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.status().code() == StatusCode::kNotFound);
  // A small valid rank file is refused for its size, naming the encoding's expectation.
  const auto path = std::filesystem::temp_directory_path() / "strata_small.tiktoken";
  {
    std::ofstream file(path, std::ios::binary);
    file << rank_file({"ab"});
  }
  auto small = ctx::load_tiktoken(path.string(), Encoding::kO200kBase);
  std::filesystem::remove(path);
  REQUIRE_FALSE(small.ok());
  CHECK(small.status().code() == StatusCode::kInvalidArgument);
  CHECK(small.status().message().find("199998") != std::string::npos);
}
