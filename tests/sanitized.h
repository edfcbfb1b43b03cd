// Whether the tests run under a sanitizer, for the few long property and stress tests that
// do less of the same work there: a sanitizer finds a bad access or a race the first time the
// code runs, not on the thousandth random case, and ASan/TSan make each case 5-20x slower.
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
