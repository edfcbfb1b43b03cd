// A small HTTP GET client over libcurl with the retry rules of strata/context/live.h.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <cstdint>

#include <strata/context/live.h>
#include <strata/status.h>

namespace strata::context::detail {

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lowercased; the last value wins
  std::string body;
};

// Percent-encodes `text` for a URL query value or path segment: unreserved characters
// (RFC 3986) and the characters in `keep` pass through, everything else becomes %XX.
std::string url_component(std::string_view text, std::string_view keep = {});

// True when `url` (absolute) is on the site `base_url` names: the same scheme, host and port
// (the scheme's default port when none is given), a path at or under base_url's path after
// dot segments are removed, and no user name or password in it; false for any URL holding a
// NUL byte. HttpClient::get refuses any other URL, so credentials reach only the configured
// site.
bool same_site(const std::string& base_url, const std::string& url);

// The URL of rel="next" in a Link header; "" when none.
std::string next_link(std::string_view link_header);

// A Retry-After value (delta seconds or an HTTP date) as seconds from `now` (epoch seconds),
// at least 0; -1 when it parses as neither.
std::int64_t retry_after_seconds(const std::string& value, std::int64_t now);
// An X-RateLimit-Reset value (epoch seconds, GitHub; ISO 8601, Jira Cloud) as epoch seconds;
// -1 when it parses as neither.
std::int64_t rate_limit_reset(const std::string& value);
// The server's clock when it answered: the response's Date header as epoch seconds; -1 when
// it is missing or not an HTTP date.
std::int64_t response_date(const HttpResponse& response);

// kResourceExhausted for a listing with more than `max_pages` pages: a scan stops there
// without moving its cursor (what the later pages hold would otherwise be skipped for good).
Status too_many_pages(const std::string& listing, std::size_t max_pages);

class HttpClient {
 public:
  explicit HttpClient(LiveHttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // GETs `url` (absolute, or a path appended to base_url) and returns a 2xx response.
  // Retries as documented; kUnavailable when attempts run out or a wait is too long,
  // kNotFound for 404, kUnauthenticated for 401, kPermissionDenied for 403 without rate-limit
  // headers, kResourceExhausted for an oversized body, kInvalidArgument (no request made) for
  // a URL (absolute, or base_url + path) that is not same_site(base_url, url), kFailedPrecondition (not retried)
  // for a server certificate that does not verify.
  Result<HttpResponse> get(const std::string& url);
  // As get(), and a 2xx response for which `check` returns a non-empty problem (a garbled or
  // cut body) is retried with backoff like a 5xx; the last problem is in the kUnavailable
  // message when attempts run out.
  Result<HttpResponse> get(const std::string& url, const std::function<std::string(const HttpResponse&)>& check);
  // Waits recorded so far (for reports and tests).
  std::size_t retries() const { return retries_; }

 private:
  Result<HttpResponse> attempt(const std::string& url, std::string& transport_error);
  void wait(std::chrono::milliseconds d);

  LiveHttpOptions options_;
  void* curl_ = nullptr;
  std::size_t retries_ = 0;
  std::chrono::milliseconds pending_wait_{0};
};

}  // namespace strata::context::detail
