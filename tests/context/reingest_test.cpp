// Re-ingest fast path: files whose stat stamp (size, mtime, ctime, inode) is unchanged are not
// read; racy stamps (recorded too soon after the file changed) fall back to the content hash.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <strata/context/code_tree.h>
#include <strata/context/engine.h>

#include "context/context_test_util.h"

using namespace strata;
using namespace strata::context;
using strata::test::ContextTempDir;
using strata::test::open_engine;

namespace {

timespec mtime_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mtim;
}

// Sets the file's mtime (and atime) to exactly `when`.
void set_mtime(const std::string& path, timespec when) {
  const timespec times[2] = {when, when};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

// An mtime an hour ago: far from any racy window.
timespec an_hour_ago() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  now.tv_sec -= 3600;
  return now;
}

bool finds(ContextEngine& engine, const std::string& text, const std::string& path) {
  auto r = engine.retrieve({.text = text});
  REQUIRE(r.ok());
  return !r->files.empty() && r->files[0].path == path;
}

}  // namespace

TEST_CASE("reingest: an unchanged tree is re-ingested without reading any file", "[context][reingest]") {
  ContextTempDir t;
  constexpr int kFiles = 20;
  const timespec old = an_hour_ago();
  for (int i = 0; i < kFiles; ++i) {
    const std::string rel = "repo/pkg" + std::to_string(i % 3) + "/mod_" + std::to_string(i) + ".py";
    t.write(rel, "def function_number_" + std::to_string(i) + "():\n    return " + std::to_string(i) + "\n");
    set_mtime(t.path(rel), old);
  }
  auto engine = open_engine(t.path("index.db"));
  auto code = make_code_tree_connector({.root = t.path("repo")});
  auto first = engine->ingest(*code);
  REQUIRE(first.ok());
  CHECK(first->added == kFiles);
  CHECK(first->files_read == kFiles);
  CHECK(first->unchanged_by_stamp == 0);

  for (int round = 0; round < 2; ++round) {
    auto again = engine->ingest(*code);
    REQUIRE(again.ok());
    CHECK(again->files_read == 0);
    CHECK(again->unchanged == kFiles);
    CHECK(again->unchanged_by_stamp == kFiles);
    CHECK(again->added + again->updated + again->removed == 0);
  }

  // One edited file is the only one read.
  t.write("repo/pkg1/mod_4.py", "def renamed_function_four():\n    return 4\n");
  auto one = engine->ingest(*code);
  REQUIRE(one.ok());
  CHECK(one->files_read == 1);
  CHECK(one->updated == 1);
  CHECK(one->unchanged_by_stamp == kFiles - 1);
  CHECK(finds(*engine, "renamed_function_four", "pkg1/mod_4.py"));

  // A removed file is noticed without reading the others.
  std::filesystem::remove(t.path("repo/pkg0/mod_0.py"));
  auto removed = engine->ingest(*code);
  REQUIRE(removed.ok());
  CHECK(removed->removed == 1);
  CHECK(removed->files_read <= 1);  // mod_4.py may still be racy (written < 2 s ago)

  // A reopened engine keeps the stamps.
  engine.reset();
  auto reopened = open_engine(t.path("index.db"));
  auto after = reopened->ingest(*code);
  REQUIRE(after.ok());
  CHECK(after->unchanged == kFiles - 1);
  CHECK(after->files_read <= 1);
}

TEST_CASE("reingest: a same-size rewrite within the mtime granularity is still picked up",
          "[context][reingest]") {
  ContextTempDir t;
  const std::string file = t.path("repo/config.py");
  // ctime is not compared here: only size, mtime and inode remain, as on a file system with
  // coarse timestamps or with core.trustctime off.
  auto code = make_code_tree_connector({.root = t.path("repo"), .trust_ctime = false});

  SECTION("racy: the stamp was recorded right after the write, so the content is hashed") {
    t.write("repo/config.py", "alpha_setting = 1\n");
    const timespec written = mtime_of(file);
    auto engine = open_engine(t.path("index.db"));
    REQUIRE(engine->ingest(*code).ok());
    // Same size, same mtime (to the nanosecond), same inode: only the bytes differ.
    t.write("repo/config.py", "omega_setting = 2\n");
    set_mtime(file, written);
    auto again = engine->ingest(*code);
    REQUIRE(again.ok());
    CHECK(again->updated == 1);
    CHECK(again->unchanged_by_stamp == 0);
    CHECK(again->files_read == 1);
    CHECK(finds(*engine, "omega_setting", "config.py"));
  }

  SECTION("control: an old, trusted stamp hides such a rewrite when ctime is not compared") {
    // Documents what the racy rule protects against: with the stamp trusted (mtime an hour
    // before the ingest) the same rewrite is indistinguishable by size, mtime and inode.
    t.write("repo/config.py", "alpha_setting = 1\n");
    const timespec old = an_hour_ago();
    set_mtime(file, old);
    auto engine = open_engine(t.path("index.db"));
    REQUIRE(engine->ingest(*code).ok());
    t.write("repo/config.py", "omega_setting = 2\n");
    set_mtime(file, old);
    auto again = engine->ingest(*code);
    REQUIRE(again.ok());
    CHECK(again->unchanged_by_stamp == 1);
    CHECK(again->updated == 0);

    // With ctime compared (the default) the rewrite changes the stamp and is read.
    auto with_ctime = make_code_tree_connector({.root = t.path("repo")});
    auto checked = engine->ingest(*with_ctime);
    REQUIRE(checked.ok());
    CHECK(checked->updated == 1);
    CHECK(finds(*engine, "omega_setting", "config.py"));
  }

  SECTION("a replaced file (new inode) with the old size and mtime is read") {
    t.write("repo/config.py", "alpha_setting = 1\n");
    const timespec old = an_hour_ago();
    set_mtime(file, old);
    auto engine = open_engine(t.path("index.db"));
    REQUIRE(engine->ingest(*code).ok());
    t.write("repo/config.py.new", "omega_setting = 2\n");
    set_mtime(t.path("repo/config.py.new"), old);
    REQUIRE(std::rename(t.path("repo/config.py.new").c_str(), file.c_str()) == 0);
    auto again = engine->ingest(*code);
    REQUIRE(again.ok());
    CHECK(again->updated == 1);
    CHECK(finds(*engine, "omega_setting", "config.py"));
  }
}

TEST_CASE("reingest: a new commit re-stamps unchanged files without rewriting them",
          "[context][reingest][git]") {
  ContextTempDir t;
  const std::string repo = t.path("repo");
  const std::string git = "git -C " + repo + " -c user.name=Tester -c user.email=t@example.com ";
  REQUIRE(test::sh("git init -q " + repo) == 0);
  t.write("repo/cache.py", "def evict_entries(): pass\n");
  t.write("repo/server.py", "def serve_requests(): pass\n");
  REQUIRE(test::sh(git + "add -A && " + git + "commit -qm one") == 0);
  auto engine = open_engine(t.path("index.db"));
  auto code = make_code_tree_connector({.root = repo});
  auto first = engine->ingest(*code);
  REQUIRE(first.ok());
  REQUIRE(first->commit.size() == 40);

  t.write("repo/server.py", "def serve_requests():\n    return 'tls'\n");
  REQUIRE(test::sh(git + "commit -qam two") == 0);
  auto second = engine->ingest(*code);
  REQUIRE(second.ok());
  CHECK(second->updated == 1);
  CHECK(second->commit != first->commit);
  for (const char* q : {"evict_entries", "serve_requests"}) {
    auto r = engine->retrieve({.text = q});
    REQUIRE(r.ok());
    REQUIRE_FALSE(r->files.empty());
    CHECK(r->files[0].commit == second->commit);
  }
  auto st = engine->stats();
  REQUIRE(st.ok());
  CHECK(st->commit == second->commit);

  // Back to the first commit: every file says so again.
  REQUIRE(test::sh(git + "checkout -q HEAD~1") == 0);
  auto third = engine->ingest(*code);
  REQUIRE(third.ok());
  auto r = engine->retrieve({.text = "evict_entries"});
  REQUIRE(r.ok());
  REQUIRE_FALSE(r->files.empty());
  CHECK(r->files[0].commit == first->commit);
}
