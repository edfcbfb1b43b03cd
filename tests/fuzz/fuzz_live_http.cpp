// fuzz_live_http — what the live connectors read from a server's headers and keep in their
// cursors (src/context/live/http_client.h, src/context/connectors/records.h), on arbitrary
// bytes: the whole input, and its two halves split at the first newline.
//
// Checks: no crash or hang; a next link is the text between a '<' and a '>' of the header;
// same_site gives the same answer twice and never accepts a URL with a user name (an '@'
// before the path) or a base libcurl refuses; Retry-After and X-RateLimit-Reset values are -1
// or more (Retry-After) when they parse; an access cursor splits back into what it was joined
// from; an access map formats to text that parses back to the same map (owners with a
// separator left out) and formats the same again.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "context/connectors/records.h"
#include "context/live/http_client.h"
#include "fuzz_util.h"

using namespace strata::context::detail;

using strata::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const std::string a = input.substr(0, newline);
  const std::string b = newline == std::string::npos ? std::string() : input.substr(newline + 1);

  const std::string link = next_link(input);
  if (!link.empty() && input.find("<" + link + ">") == std::string::npos) fail("a next link not between < and >", input);

  const bool same = same_site(a, b);
  if (same != same_site(a, b)) fail("same_site answered twice differently", input);
  if (same && b.find("://") != std::string::npos) {
    const auto scheme_end = b.find("://");
    const auto authority_end = b.find_first_of("/?#", scheme_end + 3);
    const std::string authority = b.substr(scheme_end + 3, authority_end - scheme_end - 3);
    if (authority.find('@') != std::string::npos) fail("same_site accepted a URL with a user name", input);
  }

  if (retry_after_seconds(a, 1'700'000'000) < -1) fail("a Retry-After below -1", input);
  (void)rate_limit_reset(a);

  const AclCursor cursor = split_acl_cursor(input);
  const AclCursor again = split_acl_cursor(join_acl_cursor(cursor.position, cursor.acl));
  if (again.position != cursor.position || again.acl != cursor.acl) fail("an access cursor did not split back", input);

  std::map<std::string, std::string> acl = parse_acl_map(input);
  const std::string text = format_acl_map(acl);
  const auto parsed = parse_acl_map(text);
  for (auto it = acl.begin(); it != acl.end();) {
    it = it->first.find_first_of(",:;") != std::string::npos ? acl.erase(it) : std::next(it);
  }
  if (parsed != acl) fail("an access map did not parse back from its text", input);
  if (format_acl_map(parsed) != text) fail("formatting an access map is not stable", input);
  return 0;
}
