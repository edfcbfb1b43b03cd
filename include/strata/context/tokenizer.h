// strata/context/tokenizer.h — counting tokens the way the model will.
//
// Packing (ContextEngine::pack) must never exceed a token budget, so it measures text with a
// Tokenizer. The real one is byte-pair encoding loaded from a `.tiktoken` rank file
// (cl100k_base, o200k_base); strata ships no third-party data, the host supplies the file.
// Without one, estimate_tokenizer() gives a documented, deliberately pessimistic estimate and
// every packet built with it says so.
//
// Thread safety: Tokenizer implementations are safe for concurrent calls on one object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <strata/status.h>

namespace strata::context {

using Token = std::uint32_t;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // "cl100k_base", "o200k_base", "estimate", ...
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  // True when counts are exact for the named encoding; false for estimates.
  [[nodiscard]] virtual bool exact() const noexcept = 0;
  // Number of tokens `text` encodes to. Any bytes are accepted (invalid UTF-8 included).
  [[nodiscard]] virtual std::size_t count(std::string_view text) const = 0;
  // The token ids (an estimator may return an empty vector and only count).
  [[nodiscard]] virtual std::vector<Token> encode(std::string_view text) const = 0;
  // The bytes of `tokens`. kInvalidArgument for an id the encoding does not have.
  [[nodiscard]] virtual Result<std::string> decode(const std::vector<Token>& tokens) const = 0;
};

// The encodings strata knows the pre-tokenization pattern and special tokens of.
enum class Encoding { kCl100kBase, kO200kBase };

// Loads a `.tiktoken` rank file (one "base64(token bytes) rank" per line; blank lines and a
// trailing "\r" are ignored) into an exact byte-level BPE tokenizer with the pre-tokenization
// pattern of `encoding`. Its counts and ids equal tiktoken's for any valid UTF-8 text.
// Invalid UTF-8 is accepted: each invalid byte is a character of no class, encoded by its
// single-byte token, so decode(encode(x)) == x for any bytes. Special tokens
// ("<|endoftext|>", ...) are encoded as the ordinary text they are: strata counts text and
// never injects specials.
// Errors: kNotFound / kPermissionDenied (file), kDataLoss (malformed line, duplicate rank or
// token, ranks not 0..N-1, a byte without a single-byte token; the message names the line),
// kInvalidArgument (a rank file that does not match `encoding`, detected by its size, or a
// file over 256 MiB).
Result<std::shared_ptr<const Tokenizer>> load_tiktoken(const std::string& path,
                                                       Encoding encoding);

// A tokenizer that needs no data: an upper-bound estimate (documented in its .cpp and in
// docs/context.md) meant never to undercount real BPE counts for source code and prose.
// It overcounts about 2.5x on code and English prose. encode() returns an empty vector;
// decode() accepts only an empty vector. The same object is returned on every call.
std::shared_ptr<const Tokenizer> estimate_tokenizer();

}  // namespace strata::context
