// fuzz_tiktoken_load — the .tiktoken rank file parser on arbitrary bytes.
//
// Checks: parsing never crashes; failures are DATA_LOSS or INVALID_ARGUMENT with a message;
// a file accepted as a rank table maps every rank to non-empty bytes and back; a tokenizer
// built from it round-trips text (the input itself) and counts what it encodes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <strata/context/tokenizer.h>

#include "context/tokenizer/bpe.h"
#include "context/tokenizer/tiktoken_file.h"
#include "fuzz_util.h"

using strata::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace ctx = strata::context;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // With the size check of a real encoding: almost always INVALID_ARGUMENT or DATA_LOSS.
  auto sized = ctx::parse_tiktoken(input, ctx::expected_token_count(ctx::Encoding::kCl100kBase),
                                   "fuzz");
  if (sized.ok()) fail("a tiny input passed for cl100k_base", input);

  auto table = ctx::parse_tiktoken(input, 0, "fuzz");
  if (!table.ok()) {
    const auto code = table.status().code();
    if (code != strata::StatusCode::kDataLoss && code != strata::StatusCode::kInvalidArgument) {
      fail("unexpected error code", input);
    }
    if (table.status().message().empty()) fail("error without a message", input);
    return 0;
  }
  for (ctx::Token rank = 0; rank < table->size(); ++rank) {
    const std::string_view bytes = table->bytes(rank);
    if (bytes.empty()) fail("a rank without bytes", input);
    if (table->rank(bytes) != rank) fail("bytes do not map back to their rank", input);
  }
  if (!table->bytes(static_cast<ctx::Token>(table->size())).empty()) {
    fail("bytes for a rank past the end", input);
  }
  auto tokenizer = ctx::make_bpe_tokenizer("fuzz", ctx::Encoding::kO200kBase,
                                           std::move(table).value());
  const auto tokens = tokenizer->encode(input);
  if (tokenizer->count(input) != tokens.size()) fail("count() != encode().size()", input);
  auto decoded = tokenizer->decode(tokens);
  if (!decoded.ok() || *decoded != input) fail("decode(encode(x)) != x", input);
  return 0;
}
