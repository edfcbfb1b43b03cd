#include "context/live/http_client.h"

#include "context/connectors/records.h"

#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <mutex>
#include <optional>
#include <thread>

namespace strata::context::detail {

namespace {

struct Transfer {
  HttpResponse* response;
  std::size_t limit;
  bool oversized = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t bytes = size * n;
  if (t->response->body.size() + bytes > t->limit) {
    t->oversized = true;
    return 0;  // aborts the transfer
  }
  t->response->body.append(data, bytes);
  return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t bytes = size * n;
  std::string_view line(data, bytes);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.rfind("HTTP/", 0) == 0) {
    t->response->headers.clear();  // a new response (after a redirect or 100 Continue)
    return bytes;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return bytes;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  t->response->headers[name] = std::string(value);
  return bytes;
}

std::int64_t to_int(const std::string& s, std::int64_t fallback) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() ? v : fallback;
}

std::string header(const HttpResponse& r, const char* name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? "" : it->second;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct UrlParts {
  std::string scheme, host, port, path;
  bool userinfo = false;
};

// The parts of an absolute URL as libcurl reads them (dot segments removed, the scheme's
// default port filled in, the host lowercased); nullopt when libcurl refuses it.
std::optional<UrlParts> url_parts(const std::string& url) {
  CURLU* h = curl_url();
  if (!h) return std::nullopt;
  std::optional<UrlParts> out;
  if (curl_url_set(h, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    UrlParts p;
    bool ok = true;
    auto get = [&](CURLUPart part, std::string& into, unsigned flags) {
      char* v = nullptr;
      const CURLUcode rc = curl_url_get(h, part, &v, flags);
      if (rc == CURLUE_OK && v) into = v;
      curl_free(v);
      return rc;
    };
    ok = get(CURLUPART_SCHEME, p.scheme, 0) == CURLUE_OK && get(CURLUPART_HOST, p.host, 0) == CURLUE_OK &&
         get(CURLUPART_PORT, p.port, CURLU_DEFAULT_PORT) == CURLUE_OK && get(CURLUPART_PATH, p.path, 0) == CURLUE_OK;
    std::string ignored;
    p.userinfo = get(CURLUPART_USER, ignored, 0) == CURLUE_OK || get(CURLUPART_PASSWORD, ignored, 0) == CURLUE_OK;
    for (std::string* s : {&p.scheme, &p.host}) {
      for (char& c : *s) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
    }
    if (ok) out = std::move(p);
  }
  curl_url_cleanup(h);
  return out;
}

}  // namespace

bool same_site(const std::string& base_url, const std::string& url) {
  // libcurl reads C strings: a NUL would hide the rest of the URL from both this check and
  // the request. Such a URL is refused outright.
  if (base_url.find('\0') != std::string::npos || url.find('\0') != std::string::npos) return false;
  global_init();
  const auto base = url_parts(base_url);
  const auto other = url_parts(url);
  if (!base || !other || other->userinfo) return false;
  if (base->scheme != other->scheme || base->host != other->host || base->port != other->port) return false;
  // Under the base's path, at a segment boundary ("/jira" covers "/jira/rest", not "/jiraX").
  std::string_view prefix = base->path;
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  const std::string_view path = other->path;
  return path.substr(0, prefix.size()) == prefix && (path.size() == prefix.size() || path[prefix.size()] == '/');
}

Status too_many_pages(const std::string& listing, std::size_t max_pages) {
  return resource_exhausted_error(listing + ": more than max_pages (" + std::to_string(max_pages) +
                                  ") pages; the scan stops and keeps its cursor (raise LiveHttpOptions::max_pages)");
}

std::string url_component(std::string_view text, std::string_view keep) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~' || keep.find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string next_link(std::string_view h) {
  // <https://api.github.com/...&page=2>; rel="next", <...>; rel="last"
  std::size_t pos = 0;
  while (pos < h.size()) {
    const auto lt = h.find('<', pos);
    if (lt == std::string_view::npos) break;
    const auto gt = h.find('>', lt);
    if (gt == std::string_view::npos) break;
    auto end = h.find(',', gt);
    if (end == std::string_view::npos) end = h.size();
    const std::string_view params = h.substr(gt + 1, end - gt - 1);
    if (params.find("rel=\"next\"") != std::string_view::npos || params.find("rel=next") != std::string_view::npos) {
      return std::string(h.substr(lt + 1, gt - lt - 1));
    }
    pos = end + 1;
  }
  return "";
}

std::int64_t retry_after_seconds(const std::string& value, std::int64_t now) {
  if (value.empty()) return -1;
  const std::int64_t delta = to_int(value, -1);
  if (delta >= 0) return delta;
  const std::int64_t at = curl_getdate(value.c_str(), nullptr);  // "Wed, 21 Oct 2015 07:28:00 GMT"
  if (at < 0) return -1;
  return std::max<std::int64_t>(0, at - now);
}

std::int64_t response_date(const HttpResponse& response) {
  const auto date = response.headers.find("date");
  if (date == response.headers.end()) return -1;
  const auto t = curl_getdate(date->second.c_str(), nullptr);  // "Wed, 21 Oct 2015 07:28:00 GMT"
  return t > 0 ? static_cast<std::int64_t>(t) : -1;
}

std::int64_t rate_limit_reset(const std::string& value) {
  if (value.empty()) return -1;
  const std::int64_t epoch = to_int(value, -1);
  if (epoch >= 0) return epoch;
  return parse_iso8601(value);
}

HttpClient::HttpClient(LiveHttpOptions options) : options_(std::move(options)) {
  global_init();
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

void HttpClient::wait(std::chrono::milliseconds d) {
  if (d.count() <= 0) return;
  ++retries_;
  if (options_.sleep) {
    options_.sleep(d);
  } else {
    std::this_thread::sleep_for(d);
  }
}

Result<HttpResponse> HttpClient::attempt(const std::string& url, std::string& transport_error) {
  CURL* c = static_cast<CURL*>(curl_);
  if (!c) return internal_error("curl_easy_init failed");
  curl_easy_reset(c);
  HttpResponse response;
  Transfer t{&response, options_.max_response_bytes};
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, "User-Agent: strata-context");
  if (options_.credentials) {
    // Every URL here is under base_url (get() refuses the others), so the credentials go
    // nowhere else.
    std::string auth;
    try {
      auth = options_.credentials();
    } catch (...) {
      curl_slist_free_all(headers);
      return internal_error("the credentials callback threw");
    }
    if (!auth.empty()) headers = curl_slist_append(headers, ("Authorization: " + auth).c_str());
  }
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (t.oversized) {
    return resource_exhausted_error(url + ": response over " + std::to_string(options_.max_response_bytes) + " bytes");
  }
  if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM) {
    // Not retried: the next attempt would meet the same certificate.
    return failed_precondition_error(url + ": TLS: " + curl_easy_strerror(rc) +
                                     " (LiveHttpOptions::ca_file names the authorities to trust)");
  }
  if (rc != CURLE_OK) {
    transport_error = curl_easy_strerror(rc);
    return unavailable_error(url + ": " + transport_error);
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

Result<HttpResponse> HttpClient::get(const std::string& path_or_url) {
  return get(path_or_url, nullptr);
}

Result<HttpResponse> HttpClient::get(const std::string& path_or_url,
                                     const std::function<std::string(const HttpResponse&)>& check) {
  const bool absolute = path_or_url.rfind("http", 0) == 0;
  const std::string url = absolute ? path_or_url : options_.base_url + path_or_url;
  if (!same_site(options_.base_url, url)) {
    // A Link header (or any URL) naming another site: not followed, so neither the credentials
    // nor the index ever meet a host the host application did not configure. Paths are checked
    // too: "@evil.net/x" appended to "https://api.github.com" names evil.net.
    return invalid_argument_error(url + ": not under the configured base_url " + options_.base_url +
                                  " (a link to another site, or with a user name in it, is not followed)");
  }
  std::chrono::milliseconds backoff = options_.initial_backoff;
  std::string last = "no attempt";
  const int attempts = std::max(1, options_.max_attempts);
  for (int i = 0; i < attempts; ++i) {
    if (pending_wait_.count() > 0) {
      wait(pending_wait_);
      pending_wait_ = std::chrono::milliseconds(0);
    }
    std::string transport;
    auto r = attempt(url, transport);
    std::chrono::milliseconds delay = backoff;
    if (!r.ok()) {
      if (transport.empty()) return r.status();  // oversized, internal: not retried
      last = transport;  // refused, reset, timed out, truncated body (CURLE_PARTIAL_FILE)
    } else {
      const long s = r->status;
      const std::string remaining = header(*r, "x-ratelimit-remaining");
      const std::string reset = header(*r, "x-ratelimit-reset");
      const std::string retry_after = header(*r, "retry-after");
      const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch()).count();
      const std::int64_t reset_at = rate_limit_reset(reset);
      const std::int64_t retry_s = retry_after_seconds(retry_after, now);
      if (s >= 200 && s < 300) {
        if (remaining == "0" && reset_at >= 0) {
          const std::int64_t until = reset_at - now;
          pending_wait_ = std::min(options_.max_wait, std::chrono::milliseconds(std::max<std::int64_t>(0, until) * 1000));
        }
        std::string problem;
        if (check) {
          try {
            problem = check(*r);
          } catch (const std::exception& e) {
            problem = e.what();
          }
        }
        if (problem.empty()) return r;
        last = "a garbled body: " + problem;
        if (i + 1 < attempts) {
          wait(std::min(delay, options_.max_wait));
          backoff = std::min(backoff * 2, options_.max_wait);
        }
        continue;
      }
      const bool limited = s == 429 || (s == 403 && (remaining == "0" || !retry_after.empty()));
      if (limited) {
        if (retry_s >= 0) {
          delay = std::chrono::milliseconds(retry_s * 1000);
        } else if (reset_at >= 0) {
          delay = std::chrono::milliseconds(std::max<std::int64_t>(1, reset_at - now) * 1000);
        }
        if (delay > options_.max_wait) {
          return unavailable_error(url + ": rate limited for " + std::to_string(delay.count() / 1000) +
                                   " s, longer than max_wait");
        }
        last = "HTTP " + std::to_string(s) + " (rate limited)";
      } else if (s >= 500) {
        // A 503 may say when to come back; longer than max_wait is capped like a backoff.
        if (retry_s >= 0) delay = std::chrono::milliseconds(retry_s * 1000);
        last = "HTTP " + std::to_string(s);
      } else if (s == 404) {
        return not_found_error(url + ": HTTP 404");
      } else if (s == 401) {
        return Status(StatusCode::kUnauthenticated, url + ": HTTP 401 (the credentials were rejected)");
      } else if (s == 403) {
        return permission_denied_error(url + ": HTTP " + std::to_string(s));
      } else {
        return invalid_argument_error(url + ": HTTP " + std::to_string(s));
      }
    }
    if (i + 1 < attempts) {
      wait(std::min(delay, options_.max_wait));
      backoff = std::min(backoff * 2, options_.max_wait);
    }
  }
  return unavailable_error(url + ": failed after " + std::to_string(attempts) + " attempts (last: " + last + ")");
}

}  // namespace strata::context::detail
