#include "context/connectors/prefetch.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>
#include <utility>

namespace strata::context::detail {

Prefetcher::Prefetcher(std::vector<std::string> paths, std::size_t ahead)
    : paths_(std::move(paths)), ahead_(std::max<std::size_t>(ahead, 1)), step_(std::max<std::size_t>(ahead_ / 4, 1)) {
  if (paths_.empty()) return;
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error&) {
    // No thread: the scan reads as it would without a prefetcher.
  }
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Prefetcher::reached(std::size_t index) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (index <= reader_) return;
    reader_ = index;
    wake = done_ + step_ <= reader_ + ahead_;  // the condition run() sleeps on
  }
  if (wake) wake_.notify_one();
}

std::size_t Prefetcher::warmed() const {
  std::lock_guard lock(mu_);
  return done_;
}

void Prefetcher::run() {
  for (std::size_t i = 0; i < paths_.size(); ++i) {
    {
      std::unique_lock lock(mu_);
      // A full lead: sleep until the reader has used up a quarter of it (one wake-up per
      // step_ files, not one per file).
      if (i >= reader_ + ahead_) wake_.wait(lock, [&] { return stop_ || i + step_ <= reader_ + ahead_; });
      if (stop_) return;
    }
    const int fd = ::open(paths_[i].c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd >= 0) {
      (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
      ::close(fd);
    }
    std::lock_guard lock(mu_);
    done_ = i + 1;
  }
}

}  // namespace strata::context::detail
