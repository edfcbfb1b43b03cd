// parse_redis_url: the URL forms users write in configuration, and every way one can be wrong.
#include <catch2/catch.hpp>

#include <strata/session/redis_store.h>

using namespace strata;
using strata::session::parse_redis_url;

TEST_CASE("redis url: the forms a deployment writes", "[redis-url]") {
  SECTION("host, port and database") {
    auto o = parse_redis_url("redis://redis.internal:6380/2").value();
    CHECK(o.host == "redis.internal");
    CHECK(o.port == 6380);
    CHECK(o.database == 2);
    CHECK(o.unix_socket.empty());
    CHECK(o.key_prefix == "strata:");  // untouched defaults stay
  }
  SECTION("defaults when the URL says little") {
    auto o = parse_redis_url("redis://").value();
    CHECK(o.host == "127.0.0.1");
    CHECK(o.port == 6379);
    CHECK(o.database == 0);
    auto slash = parse_redis_url("redis://cache/").value();
    CHECK(slash.host == "cache");
    CHECK(slash.database == 0);
  }
  SECTION("password alone, ACL user and password, percent-encoded") {
    auto a = parse_redis_url("redis://:s3cr%40t@h:1").value();
    CHECK(a.username.empty());
    CHECK(a.password == "s3cr@t");
    auto b = parse_redis_url("redis://app%20user:p%2Fw@h").value();
    CHECK(b.username == "app user");
    CHECK(b.password == "p/w");
    // An '@' inside the password, unencoded: the last '@' before the path ends it.
    auto c = parse_redis_url("redis://u:a@b@h:2/1").value();
    CHECK(c.password == "a@b");
    CHECK(c.host == "h");
  }
  SECTION("IPv6") {
    auto o = parse_redis_url("redis://[::1]:7000").value();
    CHECK(o.host == "::1");
    CHECK(o.port == 7000);
  }
  SECTION("unix socket with db and key prefix") {
    auto o = parse_redis_url("unix:///run/redis/redis.sock?db=3&key_prefix=app%3Aprod:").value();
    CHECK(o.unix_socket == "/run/redis/redis.sock");
    CHECK(o.database == 3);
    CHECK(o.key_prefix == "app:prod:");
    auto auth = parse_redis_url("unix://:pw@/tmp/r.sock").value();
    CHECK(auth.password == "pw");
    CHECK(auth.unix_socket == "/tmp/r.sock");
  }
}

TEST_CASE("redis url: bad URLs are refused with a reason", "[redis-url][bad-input]") {
  const std::pair<const char*, const char*> cases[] = {
      {"http://h:1", "scheme"},
      {"", "scheme"},
      {"rediss://h:6380", "TLS"},
      {"redis://h:0", "port"},
      {"redis://h:65536", "port"},
      {"redis://h:12x", "port"},
      {"redis://h:", "port"},
      {"redis://h/abc", "database"},
      {"redis://h/-1", "database"},
      {"redis://[::1", "unclosed"},
      {"redis://[::1]x", "junk"},
      {"redis://h?key_prefix=a{b}", "key_prefix"},
      {"redis://h?db=1", "unknown parameter"},
      {"redis://h?color=red", "unknown parameter"},
      {"redis://h?flag", "without a value"},
      {"redis://u:%zz@h", "percent"},
      {"redis://u:%4@h", "percent"},
      {"redis://u:%00@h", "NUL"},
      {"unix://relative.sock", "absolute"},
      {"unix:///s.sock?db=x", "db"},
  };
  for (const auto& [url, why] : cases) {
    INFO(url);
    auto r = parse_redis_url(url);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().message().find(why) != std::string::npos);
  }
  CHECK_FALSE(parse_redis_url(std::string(5000, 'a')).ok());
  // The password never appears in an error message.
  auto r = parse_redis_url("redis://user:hunter2@h:99999");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("hunter2") == std::string::npos);
}
