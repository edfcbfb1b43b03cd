// strata/session/redis_store.h — a session store on Redis Streams, shared by many nodes.
//
// Every session lives under keys that share one hash tag, `<prefix>{<session>}:...`, so a
// session maps to one Redis Cluster slot: its stream of events (`:log`, entry id
// `<offset>-0`), its metadata (`:meta`: epoch, head, trimmed_through, counts, retention), its
// producers' idempotency state (`:producers`) and its leased entries (`:leased:<kind>`).
// Appends, trims, compactions and removals run as Lua scripts, so offsets are assigned
// atomically together with the idempotency and fencing checks: several stores (several server
// nodes) may append to one session concurrently and never reorder or duplicate its events.
// docs/redis.md describes the layout, the scripts and what each persistence setting of the
// Redis server means for durability.
//
// Durability: an append is durable when it returns as far as the Redis server's persistence
// makes it (appendonly yes + appendfsync always: survives a crash of the server; no
// persistence: lost when Redis restarts — the session then gets a new epoch, so resuming
// clients are told with kDataLoss, never given a wrong stream).
//
// Errors: Redis unreachable or gone → kUnavailable (the store reconnects on later calls; an
// append that failed this way may or may not have been written — retry it with the same
// producer sequence to find out). Data in Redis that is not what this store wrote →
// kDataLoss. Requires Redis 7.0 or later.
//
// Thread safety: safe for concurrent calls on one object (a small pool of connections).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <strata/session/store.h>

namespace strata::session {

struct RedisStoreOptions {
  // Where Redis listens: a unix socket path (used when not empty), else host and port.
  // Default: 127.0.0.1:6379.
  std::string unix_socket{};
  std::string host = "127.0.0.1";
  int port = 6379;
  // AUTH: a password alone (requirepass) or an ACL user with its password. Default: none.
  std::string username{};
  std::string password{};
  // The logical database (SELECT). Default: 0. Redis Cluster has only database 0.
  int database = 0;
  // Prepended to every key; must not contain '{' or '}'. Default: "strata:".
  std::string key_prefix = "strata:";
  // Time allowed to connect, and for one command to be answered. Default: 2 s, 5 s.
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{5000};
  // Redis Cluster (or a proxy in front of one): every script call touches the keys of one
  // session only (one slot). Default: false — a group commit's sessions share script calls,
  // which is faster on a standalone server. Following (wait_for_events) needs one endpoint
  // that holds every followed session either way (see docs/redis.md).
  bool cluster = false;
  // Connections kept for commands (the blocking follow connection comes on top). Default: 4.
  int pool_size = 4;
  // The largest append request (sum of its events' Event::byte_size()); larger ones are
  // refused with kInvalidArgument and nothing is written. Default: 64 MiB.
  std::size_t max_request_bytes = 64u << 20;
};

// Parses a Redis URL into options; what the URL does not say keeps its default.
//   redis://[[username]:password@]host[:port][/database][?key_prefix=P]
//   unix://[[username]:password@]/path/to/redis.sock[?db=N][&key_prefix=P]
// User names, passwords and values may be percent-encoded. kInvalidArgument naming what is
// wrong (bad scheme, port, database, unknown parameter); rediss:// (TLS) is refused as not
// supported rather than silently connecting in the clear.
Result<RedisStoreOptions> parse_redis_url(std::string_view url);

// Connects to Redis, checks it (PING, version, AUTH, SELECT) and loads the scripts.
// kUnavailable naming the address if Redis cannot be reached; kInvalidArgument for bad
// options; kUnauthenticated if AUTH is refused.
Result<std::shared_ptr<SessionStore>> open_redis_store(const RedisStoreOptions& options);

}  // namespace strata::session
