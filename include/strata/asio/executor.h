// strata/asio/executor.h — run strata's callbacks on a host's Asio event loop.
//
//   asio::io_context io;
//   strata::session::HubOptions options;
//   options.executor = strata::asio_executor(io.get_executor());
//
// Link strata::asio (it brings standalone Asio). Callbacks then run on whichever thread runs
// io.run(); with one such thread they never run concurrently with the host's handlers.
//
// Thread safety: post() is safe from any thread, as asio::post is.
#pragma once

#include <memory>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/post.hpp>

#include <strata/executor.h>

namespace strata {

class AsioExecutor final : public Executor {
 public:
  explicit AsioExecutor(asio::any_io_executor executor) : executor_(std::move(executor)) {}
  void post(std::function<void()> task) override { asio::post(executor_, std::move(task)); }

 private:
  asio::any_io_executor executor_;
};

inline std::shared_ptr<Executor> asio_executor(asio::any_io_executor executor) {
  return std::make_shared<AsioExecutor>(std::move(executor));
}

}  // namespace strata
