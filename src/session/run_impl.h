// The Run handle an agent writes through.
#pragma once

#include <atomic>

#include "hub_impl.h"

namespace strata::session::detail {

class RunImpl final : public Run {
 public:
  RunImpl(HubImpl* hub, std::shared_ptr<LiveSession> live, std::string run_id,
          std::string parent_run_id, std::string agent, std::chrono::milliseconds lease,
          std::shared_ptr<RunControl> control);

  const std::string& id() const override { return run_id_; }
  const std::string& session() const override { return live_->id; }
  CancellationToken token() const override { return control_->cancel.token(); }
  bool cancelled() const override { return control_->cancel.cancelled(); }

  Result<std::string> begin_message(std::string_view role, std::string_view message_id) override;
  Result<Offset> delta(std::string_view message_id, std::string_view text) override;
  Result<Offset> end_message(std::string_view message_id) override;
  Result<Offset> emit(EventDraft draft) override;
  Result<Offset> complete(std::string_view payload) override;
  Result<Offset> fail(std::string_view error) override;
  Status renew() override;
  std::optional<std::string> take_steering() override;

 private:
  Status check_writable() const;
  Status check_own_streaming_message(std::string_view message_id) const;
  Result<Offset> write(EventDraft draft);
  void end_lease();

  HubImpl* const hub_;
  const std::shared_ptr<LiveSession> live_;
  const std::string run_id_;
  const std::string parent_run_id_;
  const std::string agent_;
  const std::chrono::milliseconds lease_;
  const std::shared_ptr<RunControl> control_;
  std::atomic<std::int64_t> last_renewed_ms_;
};

}  // namespace strata::session::detail
