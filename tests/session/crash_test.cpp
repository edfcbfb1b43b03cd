// Every acknowledged append survives kill -9 of the writing process (SQLite store).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <sstream>

#include "session/test_util.h"

using namespace strata;
using namespace strata::session;

namespace {

struct Ack {
  int session;
  Offset offset;
  int i;
};

// Runs the writer until `acks_wanted` acknowledgements arrived, kills it with SIGKILL, and
// returns every acknowledgement it printed.
std::vector<Ack> run_and_kill(const std::string& db, const char* durability, std::size_t acks_wanted) {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    ::execl(STRATA_CRASH_WRITER, STRATA_CRASH_WRITER, db.c_str(), durability, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::vector<Ack> acks;
  std::string buffer;
  char chunk[4096];
  bool killed = false;
  for (;;) {
    const ssize_t n = ::read(pipe_fds[0], chunk, sizeof chunk);
    if (n <= 0) break;  // EOF once the child is dead and the pipe drained
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t newline;
    while ((newline = buffer.find('\n')) != std::string::npos) {
      std::istringstream line(buffer.substr(0, newline));
      buffer.erase(0, newline + 1);
      std::string word;
      Ack a{};
      line >> word >> a.session >> a.offset >> a.i;
      if (word == "ack") acks.push_back(a);
    }
    if (!killed && acks.size() >= acks_wanted) {
      ::kill(pid, SIGKILL);  // mid-stream: other writers are inside append() right now
      killed = true;
    }
  }
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(killed);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  return acks;
}

void check_survived(const std::string& db, const std::vector<Ack>& acks) {
  auto store = open_sqlite_store(db).value();
  std::map<std::pair<int, Offset>, std::string> stored;
  for (int s = 0; s < 2; ++s) {
    const std::string name = "crash/session-" + std::to_string(s);
    Offset after = 0;
    Offset expected = 1;
    for (;;) {
      auto page = store->read(name, after, 1000, 8 << 20);
      REQUIRE(page.ok());
      if (page->events.empty()) break;
      for (const auto& e : page->events) {
        REQUIRE(e.offset == expected++);  // no hole in the committed log
        stored[{s, e.offset}] = e.payload;
        after = e.offset;
      }
    }
  }
  for (const auto& a : acks) {
    auto it = stored.find({a.session, a.offset});
    INFO("acknowledged offset " << a.offset << " of session " << a.session);
    REQUIRE(it != stored.end());
    CHECK(it->second.find("\"i\":" + std::to_string(a.i) + "}") != std::string::npos);
  }
}

}  // namespace

TEST_CASE("kill -9: acknowledged appends survive (durability: process crash)", "[sqlite][crash]") {
  test::TempDir dir;
  const auto db = dir.file("crash.db");
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < 3; ++round) {
    const std::size_t wanted = 200 + rng() % 1500;
    auto acks = run_and_kill(db, "process", wanted);
    INFO("round " << round << ": " << acks.size() << " acknowledged");
    check_survived(db, acks);  // the same file is reopened and appended to next round
  }
}

TEST_CASE("kill -9: acknowledged appends survive (durability: full)", "[sqlite][crash]") {
  test::TempDir dir;
  const auto db = dir.file("crash.db");
  auto acks = run_and_kill(db, "full", 300);
  check_survived(db, acks);
}
