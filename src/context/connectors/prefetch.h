// Warms the page cache for the files a connector's scan will read next (private to
// src/context). An export on a cold disk is otherwise read one small file at a time, each
// open and read waiting for the disk while the CPU idles (docs/benchmarks.md, eleventh pass).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace strata::context::detail {

// A thread that opens each of `paths` in order, asks the kernel to read it into the page
// cache (posix_fadvise POSIX_FADV_WILLNEED) and closes it, staying at most `ahead` paths in
// front of the reader. A path that does not exist costs only its lookup, which caches the
// directory the reader will look in. Nothing is read into this process's memory, and errors
// are ignored: the reader meets and reports them itself.
//
// The reader calls reached(i) when it is about to read paths[i]; the destructor stops the
// thread (at once: it waits only for the open or advice in progress). When no thread can be
// started the Prefetcher does nothing. reached() and the destructor are for one thread.
class Prefetcher {
 public:
  explicit Prefetcher(std::vector<std::string> paths, std::size_t ahead = 256);
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  void reached(std::size_t index);

  // How many paths the thread has warmed so far (for tests).
  [[nodiscard]] std::size_t warmed() const;

 private:
  void run();

  const std::vector<std::string> paths_;
  const std::size_t ahead_;
  const std::size_t step_;  // a quarter of ahead_, at least 1
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::size_t reader_ = 0;  // the index the reader reached
  std::size_t done_ = 0;    // paths warmed
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace strata::context::detail
