// A strata session served as the Vercel AI SDK's UI message stream (docs/ai-sdk.md): SSE with
// `x-vercel-ai-ui-message-stream: v1`, one JSON chunk per `data:` line, `data: [DONE]` last.
// Each SSE event carries `id: <strata offset>`, so a client that kept the last id resumes
// with exactly the rest (Last-Event-ID or ?after=).
//
// Thread safety: AiSdkStreams is safe to use from any number of threads. UiChunkMapper is not
// (one per stream).
#pragma once

#include <map>
#include <optional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <strata/net/server.h>
#include <strata/session/event.h>
#include <strata/status.h>

#include "net/durable_streams.h"

namespace strata::session {
class Hub;
}

namespace strata::net::detail {

// The body useChat's transport POSTs: {"id": chat id, "messages": [UI messages], "trigger",
// "messageId"}. `text` is the text parts of the last message joined; `last_message` its JSON.
struct ChatRequest {
  std::string chat_id{};
  std::string text{};
  std::string last_message{};
};
// kInvalidArgument for malformed JSON, a missing/invalid id, or no user message with text.
Status parse_chat_request(std::string_view body, ChatRequest& out);

// Turns one run's strata events into UI message chunks (JSON texts). Mapping:
//   run.started                        -> start {messageId: run id}
//   message.started role assistant     -> text-start {id: message id}
//   message.started role reasoning     -> reasoning-start
//   message.delta                      -> text-delta / reasoning-delta {id, delta}
//   message.completed                  -> (any text compaction removed, as a delta) text-end / reasoning-end
//   tool.call {tool_call_id, tool_name, input} -> tool-input-available
//   tool.result {tool_call_id, output}         -> tool-output-available
//   tool.error {tool_call_id, error}           -> tool-output-error
//   run.completed -> finish; run.failed / run.agent_lost -> error; run.cancelled -> abort
// Messages of other roles (the user's question) and other event types are not part of the
// answer and produce nothing.
class UiChunkMapper {
 public:
  explicit UiChunkMapper(std::string run_id) : run_id_(std::move(run_id)) {}
  // Chunks for `event` (of this run). `emit` false: only track state (events a resuming
  // client already has). After a run of suppressed events, the first emitted call starts with
  // `start` and re-opens the parts still open.
  std::vector<std::string> map(const session::Event& event, bool emit);
  // True once a terminal run event was mapped.
  [[nodiscard]] bool finished() const noexcept { return finished_; }

 private:
  enum class Kind { kText, kReasoning, kSkip };
  struct Part {
    Kind kind = Kind::kSkip;
    std::size_t emitted = 0;  // bytes of text sent as deltas
    bool open = false;
  };
  void resume_preamble(std::vector<std::string>& out);
  std::string run_id_;
  std::map<std::string, Part> parts_;
  std::vector<std::string> open_order_;
  bool started_ = false;       // `start` sent on this connection
  bool suppressed_ = false;    // events were tracked without being sent
  bool finished_ = false;
};

class AiSdkStreams {
 public:
  // `auth`: when set, requests need a capability token for the chat's session: append to send
  // a message, subscribe to resume, cancel to stop. kInvalidArgument for bad token options.
  static Result<std::shared_ptr<AiSdkStreams>> create(session::Hub& hub, AiSdkOptions options,
                                                      const std::optional<TokenOptions>& auth = std::nullopt);
  virtual ~AiSdkStreams() = default;
  [[nodiscard]] virtual bool matches(std::string_view target) const = 0;
  virtual RouteOutcome handle(const HttpRequest& request, const std::shared_ptr<OutputSink>& sink) = 0;
  virtual void shutdown() = 0;
};

}  // namespace strata::net::detail
