// A small HTTP GET client over libcurl with the retry rules of strata/context/live.h.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include <strata/context/live.h>
#include <strata/status.h>

namespace strata::context::detail {

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lowercased; the last value wins
  std::string body;
};

// The URL of rel="next" in a Link header; "" when none.
std::string next_link(std::string_view link_header);

class HttpClient {
 public:
  explicit HttpClient(LiveHttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // GETs `url` (absolute, or a path appended to base_url) and returns a 2xx response.
  // Retries as documented; kUnavailable when attempts run out or a wait is too long,
  // kNotFound for 404, kPermissionDenied for 401/403 without rate-limit headers,
  // kResourceExhausted for an oversized body.
  Result<HttpResponse> get(const std::string& url);
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
