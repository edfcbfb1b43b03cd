// Streams of one connection: a WebSocket channel (many sessions, requests in both
// directions) and an SSE channel (one session). Both follow sessions through Taps, which
// handle back-pressure: past the queue limit a tap pauses and later resumes from the hub at
// the last offset it queued (catch-up from the store), so a slow client costs bounded memory
// and never holds up anyone else.
#pragma once

#include <memory>

#include <strata/net/handler.h>

#include "net/handler_core.h"

namespace strata::net::detail {

std::shared_ptr<Channel> make_websocket_channel(std::shared_ptr<HandlerCore> core,
                                                Principal principal,
                                                std::shared_ptr<OutputSink> sink);

// `from`/`epoch` already resolved from Last-Event-ID / query. Subscribes before returning so
// that errors (not found, data loss, out of range) become the HTTP response.
Result<std::shared_ptr<Channel>> make_event_stream_channel(std::shared_ptr<HandlerCore> core,
                                                           Principal principal,
                                                           std::shared_ptr<OutputSink> sink,
                                                           std::string session,
                                                           session::Offset from,
                                                           std::string epoch);

}  // namespace strata::net::detail
