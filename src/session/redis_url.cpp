// parse_redis_url: redis:// and unix:// URLs into RedisStoreOptions.
#include <charconv>
#include <optional>

#include <strata/session/redis_store.h>

namespace strata::session {
namespace {

Status bad(std::string_view what) {
  return invalid_argument_error("redis URL: " + std::string(what));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> percent_decode(std::string_view in, std::string_view what) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    const int hi = i + 2 < in.size() ? hex_value(in[i + 1]) : -1;
    const int lo = i + 2 < in.size() ? hex_value(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) return bad("bad percent-encoding in the " + std::string(what));
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  if (out.find('\0') != std::string::npos) return bad(std::string(what) + " holds a NUL byte");
  return out;
}

Result<int> parse_int(std::string_view text, int min, int max, std::string_view what) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min ||
      value > max) {
    return bad(std::string(what) + " must be a number from " + std::to_string(min) + " to " +
               std::to_string(max));
  }
  return value;
}

Status apply_query(std::string_view query, bool allow_db, RedisStoreOptions& options) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) return bad("parameter without a value");
    const std::string_view name = pair.substr(0, eq);
    auto value = percent_decode(pair.substr(eq + 1), "parameter value");
    if (!value.ok()) return value.status();
    if (name == "key_prefix") {
      if (value->find_first_of("{}") != std::string::npos) {
        return bad("key_prefix may not contain '{' or '}'");
      }
      options.key_prefix = std::move(*value);
    } else if (name == "db" && allow_db) {
      auto db = parse_int(*value, 0, 1 << 20, "db");
      if (!db.ok()) return db.status();
      options.database = *db;
    } else {
      return bad("unknown parameter (known: key_prefix" + std::string(allow_db ? ", db" : "") +
                 ")");
    }
  }
  return {};
}

// "[[user]:password@]" at the start of `rest`; removes it.
Status take_userinfo(std::string_view& rest, RedisStoreOptions& options) {
  const auto at = rest.rfind('@', rest.find('/'));
  if (at == std::string_view::npos) return {};
  const std::string_view info = rest.substr(0, at);
  rest.remove_prefix(at + 1);
  const auto colon = info.find(':');
  auto user = percent_decode(info.substr(0, colon), "user name");
  if (!user.ok()) return user.status();
  options.username = std::move(*user);
  if (colon != std::string_view::npos) {
    auto password = percent_decode(info.substr(colon + 1), "password");
    if (!password.ok()) return password.status();
    options.password = std::move(*password);
  }
  return {};
}

}  // namespace

Result<RedisStoreOptions> parse_redis_url(std::string_view url) {
  RedisStoreOptions options;
  if (url.size() > 4096) return bad("longer than 4096 bytes");
  std::string_view query;
  if (const auto q = url.find('?'); q != std::string_view::npos) {
    query = url.substr(q + 1);
    url = url.substr(0, q);
  }
  if (url.starts_with("rediss://")) {
    return bad("rediss:// (TLS) is not supported; put a TLS tunnel in front, or use redis:// on "
               "a trusted network");
  }
  if (url.starts_with("unix://")) {
    std::string_view rest = url.substr(7);
    STRATA_RETURN_IF_ERROR(take_userinfo(rest, options));
    if (!rest.starts_with('/')) return bad("unix:// needs an absolute socket path");
    auto path = percent_decode(rest, "socket path");
    if (!path.ok()) return path.status();
    options.unix_socket = std::move(*path);
    STRATA_RETURN_IF_ERROR(apply_query(query, /*allow_db=*/true, options));
    return options;
  }
  if (!url.starts_with("redis://")) return bad("the scheme must be redis:// or unix://");
  std::string_view rest = url.substr(8);
  STRATA_RETURN_IF_ERROR(take_userinfo(rest, options));
  std::string_view hostport = rest.substr(0, rest.find('/'));
  std::string_view path = rest.substr(hostport.size());
  std::string_view host = hostport;
  std::optional<std::string_view> port;
  if (hostport.starts_with('[')) {  // [IPv6]:port
    const auto close = hostport.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in the host");
    host = hostport.substr(1, close - 1);
    const std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return bad("junk after the IPv6 address");
      port = after.substr(1);
    }
  } else if (const auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  if (!host.empty()) options.host = std::string(host);
  if (port) {
    auto p = parse_int(*port, 1, 65535, "port");
    if (!p.ok()) return p.status();
    options.port = *p;
  }
  if (path.size() > 1) {
    auto db = parse_int(path.substr(1), 0, 1 << 20, "database");
    if (!db.ok()) return db.status();
    options.database = *db;
  }
  STRATA_RETURN_IF_ERROR(apply_query(query, /*allow_db=*/false, options));
  return options;
}

}  // namespace strata::session
