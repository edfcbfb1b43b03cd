// parse_git_log: the records of `git log` output (src/context/git.h).
#include <catch2/catch.hpp>

#include <string>

#include "context/git.h"

using strata::context::detail::parse_git_log;

namespace {

// One record in the format git.cpp asks git for: \x1e hash \x1f author \x1f email \x1f time
// \x1f message \x1f, then NUL-separated paths.
std::string record(const std::string& hash, const std::string& time, const std::string& message) {
  return "\x1e" + hash + "\x1f" + "Ada\x1f" + "ada@example.com\x1f" + time + "\x1f" + message + "\x1f" +
         std::string("\0\nsrc/a.py\0", 11);
}

}  // namespace

TEST_CASE("git log: a record with an impossible time is malformed, the others parse", "[context][git]") {
  const std::string good(40, 'a'), other(40, 'b'), third(40, 'c');
  // 18 digits is the longest time taken; 19 or more (here 23) could overflow and is refused.
  const std::string out = record(good, "1795700557", "first") + record(other, "17957005570000000000000", "second") +
                          record(third, "179570055700000000", "third");
  std::size_t malformed = 0;
  const auto commits = parse_git_log(out, &malformed);
  CHECK(malformed == 1);
  REQUIRE(commits.size() == 2);
  CHECK(commits[0].hash == good);
  CHECK(commits[0].time == 1795700557);
  CHECK(commits[0].message == "first");
  CHECK(commits[0].paths == std::vector<std::string>{"src/a.py"});
  CHECK(commits[1].hash == third);
  CHECK(commits[1].time == 179570055700000000);
}
