// JSON encodings shared by every transport (docs/protocol.md): events, snapshots, presence,
// session info and errors; and the mapping of status codes to wire codes and HTTP statuses.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <strata/session/event.h>
#include <strata/session/snapshot.h>
#include <strata/session/store.h>
#include <strata/status.h>

namespace strata::net::detail {

// Appends `s` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view s);
// Appends the wire object of an event (payload embedded as JSON).
void append_event_json(std::string& out, const session::Event& event);
std::string snapshot_json(const session::Snapshot& snapshot);
std::string presence_json(const std::vector<session::PresenceEntry>& presence);
std::string session_info_json(const session::SessionInfo& info);

// "invalid_argument", "not_found", ...
std::string wire_code(StatusCode code);
// HTTP status for a status code (docs/protocol.md, "Errors").
int http_status(StatusCode code) noexcept;
// {"error":{"code":...,"message":...}}
std::string error_body(const Status& status);

}  // namespace strata::net::detail
