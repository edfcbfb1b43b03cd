// A real redis-server for tests: started in a temporary directory, listening on a unix socket
// and a free TCP port, stopped, killed and restarted on demand, always cleaned up. If the
// redis-server binary is missing the test fails with an install hint (never skips).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <strata/session/redis_store.h>

#include "session/test_util.h"

namespace strata::test {

struct RedisServerOptions {
  // appendonly yes (with appendfsync always when `fsync_always`). Default: no persistence at
  // all (no AOF, no RDB snapshots): a restart starts empty.
  bool append_only = false;
  bool fsync_always = true;
  // Extra redis.conf lines, e.g. "proto-max-bulk-len 1mb".
  std::vector<std::string> config{};
};

class RedisServer {
 public:
  explicit RedisServer(RedisServerOptions options = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts the server (again, with the same directory, socket and port) and waits until it
  // answers PING. Fails the test if it does not come up.
  void start();
  // SIGTERM and wait: a clean shutdown (the AOF is flushed).
  void stop();
  // SIGKILL and wait: a crash.
  void kill();
  [[nodiscard]] bool running() const { return pid_ > 0; }

  [[nodiscard]] const std::string& socket_path() const { return socket_; }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string directory() const { return dir_.path().string(); }
  // Options for open_redis_store on this server (unix socket).
  [[nodiscard]] session::RedisStoreOptions store_options(std::string prefix = "strata:") const;

  // Runs one command on a fresh connection and returns the reply as text: strings as they
  // are, integers in decimal, arrays as their elements joined by '\n', nil as "(nil)",
  // errors as "ERR: <message>"; "" if the server cannot be reached.
  std::string command(const std::vector<std::string>& args) const;

 private:
  RedisServerOptions options_;
  TempDir dir_;
  std::string socket_;
  std::string config_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// The process-wide server the conformance suite and light tests share (each user takes its
// own key prefix). Started on first use.
RedisServer& shared_redis_server();
// A key prefix no other test in this process uses: "t<n>:".
std::string unique_redis_prefix();

}  // namespace strata::test
