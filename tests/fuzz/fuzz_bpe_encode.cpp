// fuzz_bpe_encode — pre-tokenization and BPE on arbitrary bytes with a small rank table.
//
// The first input byte picks the pattern (cl100k_base or o200k_base); the rest is the text.
// Checks: the pieces tile the text; decode(encode(x)) == x; count(x) == encode(x).size();
// the scan and heap merge algorithms give the same tokens for every piece.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <strata/context/tokenizer.h>

#include "context/tokenizer/bpe.h"
#include "context/tokenizer/pretokenize.h"
#include "context/tokenizer/rank_table.h"
#include "fuzz_util.h"

namespace {

namespace ctx = strata::context;

using strata::fuzz::fail;

// The 256 bytes, then merges that overlap in many ways: pairs of common letters, runs of
// spaces and newlines, words, and multi-byte UTF-8 fragments.
ctx::RankTable build_table() {
  std::vector<std::string> tokens;
  for (int byte = 0; byte < 256; ++byte) tokens.emplace_back(1, static_cast<char>(byte));
  const std::string common = "etaoinshrdl ";
  for (char a : common) {
    for (char b : common) tokens.push_back(std::string{a, b});
  }
  for (const char* merge :
       {"  ", "    ", "        ", "\n\n", " \n", "the", " the", "in", "ing", "tion", "ation",
        "st", "str", "ct", "const", "int", "(){", "();", "->", "::", "//", "/*", "*/", "12",
        "123", "00", "000", "'s", "'t", "\xc3\xa9", "\xe4\xb8", "\xe4\xb8\xad", "\xf0\x9f",
        "\xff\xff", "aa", "aaa", "aaaa", "ab", "abab", "ba", "bab", "'re", "He", "Hello",
        "\t\t", "\r\n"}) {
    tokens.emplace_back(merge);
  }
  std::string blob;
  std::vector<ctx::RankEntry> entries;
  std::vector<std::string> seen;
  for (const std::string& token : tokens) {
    bool duplicate = false;
    for (const std::string& other : seen) duplicate = duplicate || other == token;
    if (duplicate) continue;
    seen.push_back(token);
    entries.push_back({static_cast<std::uint32_t>(blob.size()),
                       static_cast<std::uint32_t>(token.size()),
                       static_cast<ctx::Token>(entries.size()), 0});
    blob += token;
  }
  auto table = ctx::RankTable::build(std::move(blob), std::move(entries));
  if (!table.ok()) {
    std::fprintf(stderr, "fuzz_bpe_encode: bad table: %s\n", table.status().to_string().c_str());
    std::abort();
  }
  return std::move(table).value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::shared_ptr<const ctx::RankTable> table =
      std::make_shared<const ctx::RankTable>(build_table());
  static const std::shared_ptr<const ctx::Tokenizer> tokenizers[2] = {
      ctx::make_bpe_tokenizer("cl", ctx::Encoding::kCl100kBase, build_table()),
      ctx::make_bpe_tokenizer("o", ctx::Encoding::kO200kBase, build_table())};
  if (size == 0) return 0;
  const bool o200k = (data[0] & 1) != 0;
  const ctx::Encoding encoding = o200k ? ctx::Encoding::kO200kBase : ctx::Encoding::kCl100kBase;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t end = ctx::piece_end(text, pos, encoding);
    if (end <= pos || end > text.size()) fail("piece_end out of range", text);
    const std::string_view piece = text.substr(pos, end - pos);
    std::vector<ctx::Token> scan;
    std::vector<ctx::Token> heap;
    ctx::bpe_merge_scan(*table, piece, scan);
    ctx::bpe_merge_heap(*table, piece, heap);
    if (scan != heap) fail("scan and heap merges differ", piece);
    pos = end;
  }
  const ctx::Tokenizer& tokenizer = *tokenizers[o200k ? 1 : 0];
  const auto tokens = tokenizer.encode(text);
  if (tokenizer.count(text) != tokens.size()) fail("count() != encode().size()", text);
  auto decoded = tokenizer.decode(tokens);
  if (!decoded.ok() || *decoded != text) fail("decode(encode(x)) != x", text);
  return 0;
}
