#include <catch2/catch.hpp>

#include <asio/io_context.hpp>

#include <strata/asio/executor.h>
#include <strata/session/hub.h>

#include "session/test_util.h"

TEST_CASE("hub callbacks can run on the host's io_context", "[common][asio]") {
  asio::io_context io;
  strata::session::HubOptions options;
  options.store = strata::session::open_memory_store();
  options.executor = strata::asio_executor(io.get_executor());
  options.maintenance_interval = std::chrono::milliseconds(0);
  auto hub = strata::session::Hub::open(options).value();
  REQUIRE(hub->append("s", strata::test::draft("app.note"), strata::test::producer("p")).ok());
  std::vector<strata::session::Offset> seen;
  auto sub = hub->subscribe("s", {}, [&](const strata::session::Event& e) {
    seen.push_back(e.offset);
    io.stop();
  });
  REQUIRE(sub.ok());
  CHECK(seen.empty());  // nothing runs until the host runs its loop
  io.run_for(std::chrono::seconds(5));
  CHECK(seen == std::vector<strata::session::Offset>{1});
  (*sub)->close();
  io.restart();
  io.poll();
}
