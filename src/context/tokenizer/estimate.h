// The estimator's formula, callable without a Tokenizer object (see estimate_tokenizer.cpp).
#pragma once

#include <cstddef>
#include <string_view>

namespace strata::context {

// An upper-bound estimate of the cl100k_base / o200k_base token count of `text` (any bytes).
std::size_t estimate_token_count(std::string_view text) noexcept;

}  // namespace strata::context
