// The AI SDK UI message stream: the chat request parser (bad and hostile input) and the
// mapping of strata events to UI message chunks, including a resume part-way through a run.
// The ai package's own client code runs against the server in tests/interop/ai_sdk/.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/ai_sdk_stream.h"

using namespace strata;
using namespace strata::net::detail;
using nlohmann::json;

namespace {

session::Event event(session::Offset offset, std::string type, std::string payload = "{}", std::string message_id = {}) {
  session::Event e;
  e.offset = offset;
  e.type = std::move(type);
  e.run_id = "run-1";
  e.message_id = std::move(message_id);
  e.payload = std::move(payload);
  return e;
}

// A run: reasoning, a tool call and result, a two-delta answer, completion.
std::vector<session::Event> run_events() {
  return {
      event(1, "run.started", R"({"agent":"a"})"),
      event(2, "message.started", R"({"role":"reasoning"})", "m-r"),
      event(3, "message.delta", R"({"text":"think"})", "m-r"),
      event(4, "message.completed", R"({"role":"reasoning","text":"think"})", "m-r"),
      event(5, "tool.call", R"({"tool_call_id":"c1","tool_name":"lookup","input":{"q":1}})"),
      event(6, "tool.result", R"({"tool_call_id":"c1","output":{"ok":true}})"),
      event(7, "message.started", R"({"role":"assistant"})", "m-a"),
      event(8, "message.delta", R"({"text":"Hello"})", "m-a"),
      event(9, "message.delta", R"({"text":" world"})", "m-a"),
      event(10, "message.completed", R"({"role":"assistant","text":"Hello world"})", "m-a"),
      event(11, "run.completed"),
  };
}

std::vector<json> map_all(UiChunkMapper& m, const std::vector<session::Event>& events, session::Offset resume_after = 0) {
  std::vector<json> out;
  for (const auto& e : events) {
    for (const auto& c : m.map(e, e.offset > resume_after)) out.push_back(json::parse(c));
  }
  return out;
}

std::vector<std::string> types(const std::vector<json>& chunks) {
  std::vector<std::string> out;
  for (const auto& c : chunks) out.push_back(c["type"]);
  return out;
}

}  // namespace

TEST_CASE("ai sdk: chat requests need an id, messages and a user text part", "[net][ai_sdk]") {
  ChatRequest r;
  REQUIRE(parse_chat_request(
              R"({"id":"chat-1","trigger":"submit-message","messages":[{"id":"a","role":"assistant","parts":[]},
                 {"id":"u","role":"user","parts":[{"type":"text","text":"hi "},{"type":"file","url":"x"},{"type":"text","text":"there"}]}]})",
              r)
              .ok());
  CHECK(r.chat_id == "chat-1");
  CHECK(r.text == "hi there");
  CHECK(json::parse(r.last_message)["id"] == "u");
  for (const char* bad : {"", "[]", "{", R"({"messages":[]})", R"({"id":"c","messages":[]})",
                          R"({"id":"../x","messages":[{"role":"user","parts":[{"type":"text","text":"a"}]}]})",
                          R"({"id":"","messages":[{"role":"user","parts":[{"type":"text","text":"a"}]}]})",
                          R"({"id":7,"messages":[{"role":"user","parts":[{"type":"text","text":"a"}]}]})",
                          R"({"id":"c","messages":[{"role":"assistant","parts":[{"type":"text","text":"a"}]}]})",
                          R"({"id":"c","messages":[{"role":"user","parts":[{"type":"text"}]}]})",
                          R"({"id":"c","messages":[{"role":"user","parts":"text"}]})", R"({"id":"c","messages":[5]})"}) {
    INFO(bad);
    CHECK_FALSE(parse_chat_request(bad, r).ok());
  }
  CHECK_FALSE(parse_chat_request(std::string(50000, '[') + std::string(50000, ']'), r).ok());
}

TEST_CASE("ai sdk: a run maps to start, reasoning, tool, text and finish chunks", "[net][ai_sdk]") {
  UiChunkMapper m("run-1");
  auto chunks = map_all(m, run_events());
  CHECK(types(chunks) == std::vector<std::string>{"start", "reasoning-start", "reasoning-delta", "reasoning-end",
                                                  "tool-input-available", "tool-output-available", "text-start",
                                                  "text-delta", "text-delta", "text-end", "finish"});
  CHECK(chunks[0]["messageId"] == "run-1");
  CHECK(chunks[4]["toolName"] == "lookup");
  CHECK(chunks[4]["input"]["q"] == 1);
  CHECK(chunks[5]["output"]["ok"] == true);
  CHECK(chunks[8]["delta"] == " world");
  CHECK(m.finished());
  CHECK(m.map(event(12, "message.delta", R"({"text":"late"})", "m-a"), true).empty());
}

TEST_CASE("ai sdk: a resume part-way re-opens the open parts and sends only the rest", "[net][ai_sdk]") {
  UiChunkMapper m("run-1");
  auto chunks = map_all(m, run_events(), /*resume_after=*/8);
  CHECK(types(chunks) == std::vector<std::string>{"start", "text-start", "text-delta", "text-end", "finish"});
  CHECK(chunks[1]["id"] == "m-a");
  CHECK(chunks[2]["delta"] == " world");
}

TEST_CASE("ai sdk: compacted deltas, cancel, failure and hostile payloads", "[net][ai_sdk]") {
  {
    // Compaction removed the deltas: message.completed carries the text still owed.
    UiChunkMapper m("run-1");
    auto chunks = map_all(m, {event(1, "run.started"), event(2, "message.started", R"({"role":"assistant"})", "m"),
                              event(5, "message.completed", R"({"text":"whole"})", "m"), event(6, "run.completed")});
    CHECK(types(chunks) == std::vector<std::string>{"start", "text-start", "text-delta", "text-end", "finish"});
    CHECK(chunks[2]["delta"] == "whole");
  }
  {
    UiChunkMapper m("run-1");
    auto chunks = map_all(m, {event(1, "run.started"), event(2, "message.started", "{}", "m"),
                              event(3, "message.delta", R"({"text":"a"})", "m"),
                              event(4, "run.cancelled", R"({"reason":"stopped by user"})")});
    CHECK(types(chunks) == std::vector<std::string>{"start", "text-start", "text-delta", "text-end", "abort"});
    CHECK(chunks.back()["reason"] == "stopped by user");
  }
  {
    UiChunkMapper m("run-1");
    auto chunks = map_all(m, {event(1, "run.started"), event(2, "run.failed", R"({"error":"boom"})")});
    CHECK(types(chunks) == std::vector<std::string>{"start", "error"});
    CHECK(chunks.back()["errorText"] == "boom");
  }
  {
    // Payloads that are not what the mapping expects produce valid chunks or nothing.
    UiChunkMapper m("run-1");
    auto chunks = map_all(m, {event(1, "run.started"), event(2, "message.started", "[1]", "m"),
                              event(3, "message.delta", R"({"text":5})", "m"), event(4, "tool.call", "\"x\""),
                              event(5, "message.delta", "{}", "unknown"), event(6, "user.message", R"({"text":"q"})"),
                              event(7, "message.started", R"({"role":"user"})", "u"),
                              event(8, "message.delta", R"({"text":"question"})", "u")});
    CHECK(types(chunks) == std::vector<std::string>{"start", "text-start", "text-delta", "tool-input-available"});
    CHECK(chunks[2]["delta"] == "");
  }
}
