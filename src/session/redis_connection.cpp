#include "redis_connection.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <cerrno>
#include <ctime>

namespace strata::session::redis {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

bool starts_with_word(std::string_view message, std::string_view word) {
  return message.starts_with(word) &&
         (message.size() == word.size() || message[word.size()] == ' ');
}

// hiredis writes with write(2): a peer that went away raises SIGPIPE, which would kill the
// host process. A library must not change the process's signal dispositions, so SIGPIPE is
// blocked in this thread while hiredis writes, and one it raised is consumed before the
// mask is restored.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    pending_before_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    if (!pending_before_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{0, 0};
        while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool pending_before_ = false;
};

}  // namespace

void ReplyDeleter::operator()(redisReply* reply) const noexcept {
  if (reply != nullptr) freeReplyObject(reply);
}

std::string describe_address(const RedisStoreOptions& options) {
  if (!options.unix_socket.empty()) return "unix:" + options.unix_socket;
  return options.host + ":" + std::to_string(options.port);
}

Status error_reply_status(std::string_view message, std::string_view what) {
  std::string text = "redis store: " + std::string(what) + ": " + std::string(message);
  if (starts_with_word(message, "STRATA_DATALOSS") || starts_with_word(message, "WRONGTYPE")) {
    return data_loss_error(text + " (a key holds data this store did not write)");
  }
  if (starts_with_word(message, "NOAUTH") || starts_with_word(message, "WRONGPASS")) {
    return Status(StatusCode::kUnauthenticated, text);
  }
  if (starts_with_word(message, "NOPERM")) return permission_denied_error(text);
  if (starts_with_word(message, "OOM")) return resource_exhausted_error(text);
  if (starts_with_word(message, "LOADING") || starts_with_word(message, "BUSY") ||
      starts_with_word(message, "MASTERDOWN") || starts_with_word(message, "READONLY") ||
      starts_with_word(message, "TRYAGAIN") || starts_with_word(message, "CLUSTERDOWN") ||
      starts_with_word(message, "MOVED") || starts_with_word(message, "ASK") ||
      starts_with_word(message, "MISCONF")) {
    return unavailable_error(text);
  }
  return internal_error(text);
}

Result<std::unique_ptr<Connection>> Connection::open(const RedisStoreOptions& options) {
  const std::string address = describe_address(options);
  const timeval connect_timeout = to_timeval(options.connect_timeout);
  redisContext* context =
      options.unix_socket.empty()
          ? redisConnectWithTimeout(options.host.c_str(), options.port, connect_timeout)
          : redisConnectUnixWithTimeout(options.unix_socket.c_str(), connect_timeout);
  if (context == nullptr) {
    return unavailable_error("redis store " + address + ": cannot connect: out of memory");
  }
  if (context->err != 0) {
    std::string why = context->errstr;
    redisFree(context);
    return unavailable_error("redis store " + address + ": cannot connect: " + why);
  }
  std::unique_ptr<Connection> connection(new Connection(context, address));
  connection->set_timeout(options.command_timeout);
  auto check = [&](const Command& command, std::string_view what) -> Status {
    auto reply = connection->call(command);
    if (!reply.ok()) return reply.status();
    if ((*reply)->type == REDIS_REPLY_ERROR) {
      auto s = error_reply_status(std::string_view((*reply)->str, (*reply)->len), what);
      return Status(s.code(), "redis store " + address + ": " + s.message());
    }
    return {};
  };
  if (!options.password.empty()) {
    Command auth{"AUTH"};
    if (!options.username.empty()) auth.push_back(options.username);
    auth.push_back(options.password);
    auto s = check(auth, "AUTH");
    if (!s.ok()) {
      if (s.code() == StatusCode::kInternal) s = Status(StatusCode::kUnauthenticated, s.message());
      return s;
    }
  }
  if (options.database != 0) {
    const std::string db = std::to_string(options.database);
    STRATA_RETURN_IF_ERROR(check({"SELECT", db}, "SELECT"));
  }
  STRATA_RETURN_IF_ERROR(check({"PING"}, "PING"));
  return connection;
}

Connection::~Connection() { redisFree(context_); }

void Connection::append(const Command& command) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(command.size());
  lengths.reserve(command.size());
  for (auto arg : command) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(),
                             lengths.data()) != REDIS_OK) {
    broken_ = true;
  }
}

Status Connection::connection_error(std::string_view what) {
  broken_ = true;
  std::string why = context_->err != 0 ? context_->errstr : "connection lost";
  if (why.find("Resource temporarily unavailable") != std::string::npos) why = "timed out";
  return unavailable_error("redis store " + address_ + ": " + std::string(what) + ": " + why);
}

Result<Reply> Connection::read_reply() {
  if (broken_) return connection_error("connection broken");
  void* raw = nullptr;
  SigpipeGuard guard;  // redisGetReply writes what is queued first
  if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
    if (raw != nullptr) freeReplyObject(raw);
    return connection_error("no reply");
  }
  return Reply(static_cast<redisReply*>(raw));
}

Result<Reply> Connection::call(const Command& command) {
  append(command);
  return read_reply();
}

void Connection::set_timeout(std::chrono::milliseconds timeout) {
  if (redisSetTimeout(context_, to_timeval(timeout)) != REDIS_OK) broken_ = true;
}

Result<Pool::Lease> Pool::acquire() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !idle_.empty() || out_ < options_.pool_size; });
  if (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    ++out_;
    return Lease(this, std::move(connection));
  }
  ++out_;
  lock.unlock();
  auto connection = Connection::open(options_);
  if (!connection.ok()) {
    lock.lock();
    --out_;
    cv_.notify_one();
    return connection.status();
  }
  return Lease(this, std::move(*connection));
}

void Pool::give_back(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(mu_);
  --out_;
  if (!connection->broken()) idle_.push_back(std::move(connection));
  cv_.notify_one();
}

}  // namespace strata::session::redis
