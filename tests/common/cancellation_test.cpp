#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <thread>

#include <strata/cancellation.h>
#include <strata/executor.h>

TEST_CASE("a cancellation token fires once and runs callbacks", "[common][cancellation]") {
  strata::CancellationSource source;
  auto token = source.token();
  int fired = 0;
  const auto id = token.on_cancel([&] { ++fired; });
  int removed_fired = 0;
  const auto removed = token.on_cancel([&] { ++removed_fired; });
  CHECK(token.unregister(removed));
  CHECK_FALSE(token.cancelled());
  CHECK(source.cancel("user pressed stop"));
  CHECK_FALSE(source.cancel("again"));
  CHECK(token.cancelled());
  CHECK(token.reason() == "user pressed stop");
  CHECK(fired == 1);
  CHECK(removed_fired == 0);
  CHECK_FALSE(token.unregister(id));
  int late = 0;
  token.on_cancel([&] { ++late; });  // already fired: runs immediately
  CHECK(late == 1);
  strata::CancellationToken never;
  CHECK_FALSE(never.cancelled());
}

TEST_CASE("the thread pool runs every task, never inline", "[common][executor]") {
  std::atomic<int> ran{0};
  const auto caller = std::this_thread::get_id();
  std::atomic<bool> inline_run{false};
  {
    auto pool = strata::make_thread_pool_executor(2);
    for (int i = 0; i < 1000; ++i) {
      pool->post([&] {
        if (std::this_thread::get_id() == caller) inline_run = true;
        ++ran;
      });
    }
  }  // destructor drains
  CHECK(ran == 1000);
  CHECK_FALSE(inline_run);
}
