// Whether the tests run under a sanitizer, for the few long property and stress tests that
// run fewer random cases of the same kinds there. Their later cases mostly take code paths the
// earlier ones already took, and ASan or TSan make each case several times slower (the pack
// property test: 30 s in the dev build, 77 s under ASan, 121 s under TSan at full size).
// The dev build runs every such test at full size.
#pragma once

#include <cstddef>

namespace strata::test {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

// `full` in an unsanitized build, else `sanitized`.
constexpr std::size_t full_or_sanitized(std::size_t full, std::size_t sanitized) {
  return kSanitized ? sanitized : full;
}

}  // namespace strata::test
