#include "session/redis_server.h"

#include <catch2/catch.hpp>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace strata::test {
namespace {

std::string find_redis_server() {
  if (const char* env = std::getenv("STRATA_REDIS_SERVER"); env != nullptr && *env != '\0') {
    return env;
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/usr/local/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = dir + "/redis-server";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  for (const char* fallback : {"/usr/bin/redis-server", "/usr/sbin/redis-server"}) {
    if (::access(fallback, X_OK) == 0) return fallback;
  }
  return {};
}

int free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::string reply_text(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return std::string(r->str, r->len);
    case REDIS_REPLY_ERROR:
      return "ERR: " + std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_NIL:
      return "(nil)";
    case REDIS_REPLY_ARRAY: {
      std::string out;
      for (std::size_t i = 0; i < r->elements; ++i) {
        if (i > 0) out += '\n';
        out += reply_text(r->element[i]);
      }
      return out;
    }
    default:
      return "?";
  }
}

std::string log_tail(const std::string& path) {
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

}  // namespace

RedisServer::RedisServer(RedisServerOptions options) : options_(std::move(options)) {
  socket_ = dir_.file("redis.sock");
  config_ = dir_.file("redis.conf");
  port_ = free_tcp_port();
  std::ofstream conf(config_);
  conf << "port " << port_ << "\n"
       << "bind 127.0.0.1\n"
       << "unixsocket " << socket_ << "\n"
       << "unixsocketperm 700\n"
       << "dir " << dir_.path().string() << "\n"
       << "logfile " << dir_.file("redis.log") << "\n"
       << "daemonize no\n"
       << "save \"\"\n"
       << "appendonly " << (options_.append_only ? "yes" : "no") << "\n"
       << "appendfsync " << (options_.fsync_always ? "always" : "everysec") << "\n";
  for (const auto& line : options_.config) conf << line << "\n";
  conf.close();
  start();
}

RedisServer::~RedisServer() {
  if (pid_ > 0) kill();
}

void RedisServer::start() {
  if (pid_ > 0) return;
  const std::string binary = find_redis_server();
  if (binary.empty()) {
    FAIL("redis-server not found on PATH: the Redis tests need a real server. Install it with "
         "`apt-get install -y redis-server` (scripts/setup-debian.sh does), or point "
         "STRATA_REDIS_SERVER at the binary.");
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test process
    if (::getppid() != parent) ::_exit(1);
    ::execl(binary.c_str(), binary.c_str(), config_.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL("redis-server exited at start; its log:\n" << log_tail(dir_.file("redis.log")));
    }
    // PONG, or NOAUTH with requirepass: it is up; LOADING: still reading its AOF.
    const auto pong = command({"PING"});
    if (!pong.empty() && !pong.starts_with("ERR: LOADING")) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill();
  FAIL("redis-server did not answer PING within 15 s; its log:\n" << log_tail(dir_.file("redis.log")));
}

void RedisServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void RedisServer::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

session::RedisStoreOptions RedisServer::store_options(std::string prefix) const {
  session::RedisStoreOptions o;
  o.unix_socket = socket_;
  o.key_prefix = std::move(prefix);
  o.connect_timeout = std::chrono::milliseconds(1000);
  o.command_timeout = std::chrono::milliseconds(5000);
  return o;
}

std::string RedisServer::command(const std::vector<std::string>& args) const {
  timeval tv{1, 0};
  redisContext* c = redisConnectUnixWithTimeout(socket_.c_str(), tv);
  if (c == nullptr) return {};
  if (c->err != 0) {
    redisFree(c);
    return {};
  }
  redisSetTimeout(c, timeval{10, 0});
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  std::string out = reply != nullptr ? reply_text(reply) : std::string();
  if (reply != nullptr) freeReplyObject(reply);
  redisFree(c);
  return out;
}

RedisServer& shared_redis_server() {
  static RedisServer server;
  return server;
}

std::string unique_redis_prefix() {
  static std::atomic<int> next{0};
  return "t" + std::to_string(next.fetch_add(1)) + ":";
}

}  // namespace strata::test
