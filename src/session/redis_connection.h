// A hiredis connection with RAII, pipelining and error mapping, and a small pool of them.
// Internal to the Redis store.
//
// Thread safety: a Connection is used by one thread at a time (the pool hands it out);
// the Pool is safe from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <strata/session/redis_store.h>
#include <strata/status.h>

struct redisContext;
struct redisReply;

namespace strata::session::redis {

struct ReplyDeleter {
  void operator()(redisReply* reply) const noexcept;
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// "unix:/path" or "host:port", for messages.
std::string describe_address(const RedisStoreOptions& options);

// One command's arguments. The views must stay valid until Connection::send returns.
using Command = std::vector<std::string_view>;

// Maps an error reply ("NOSCRIPT ...", "WRONGTYPE ...") to a Status.
Status error_reply_status(std::string_view message, std::string_view what);

class Connection {
 public:
  // Connects, authenticates and selects the database. kUnavailable if Redis cannot be
  // reached, kUnauthenticated if AUTH is refused.
  static Result<std::unique_ptr<Connection>> open(const RedisStoreOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues `command` (nothing is sent yet).
  void append(const Command& command);
  // Flushes what is queued and reads the next reply. A connection error breaks the
  // connection for good (broken() is then true) and returns kUnavailable.
  Result<Reply> read_reply();
  // append + read_reply.
  Result<Reply> call(const Command& command);

  // Sets the time allowed for a reply (a blocking command needs more than usual).
  void set_timeout(std::chrono::milliseconds timeout);
  [[nodiscard]] bool broken() const noexcept { return broken_; }
  [[nodiscard]] const std::string& address() const noexcept { return address_; }

 private:
  Connection(redisContext* context, std::string address)
      : context_(context), address_(std::move(address)) {}
  Status connection_error(std::string_view what);

  redisContext* context_;
  std::string address_;
  bool broken_ = false;
};

// Up to `options.pool_size` connections, made when first needed and replaced when broken.
class Pool {
 public:
  explicit Pool(RedisStoreOptions options) : options_(std::move(options)) {}

  // A connection, returned to the pool when the lease ends (dropped if it broke).
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> c) : pool_(pool), connection_(std::move(c)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_ != nullptr && connection_) pool_->give_back(std::move(connection_));
    }
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  Result<Lease> acquire();
  const RedisStoreOptions& options() const { return options_; }

 private:
  void give_back(std::unique_ptr<Connection> connection);

  const RedisStoreOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int out_ = 0;  // connections handed out or being made
};

}  // namespace strata::session::redis
