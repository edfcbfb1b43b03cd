// fuzz_ai_sdk_stream — the AI SDK route's inputs (docs/ai-sdk.md): the chat request body
// useChat POSTs, and the mapping of arbitrary strata events (types, payloads, message ids,
// order, a resume point) to UI message chunks.
//
// Input: the first byte picks the mode. 'R': the rest is a chat request body. Otherwise the
// rest is records separated by 0x00, each "type\nmessage id\npayload", mapped in order as
// events of one run, with the first byte as the resume point.
//
// Checks: no crash or sanitizer report; a parsed request has a valid session id and text;
// every chunk is a JSON object with a string "type"; nothing is emitted after the run's
// terminal chunk.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "net/ai_sdk_stream.h"

namespace {

void fail(std::string_view input, const char* why) {
  std::fprintf(stderr, "fuzz_ai_sdk_stream: %s\n", why);
  strata::fuzz::print_escaped(input);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (input.empty()) return 0;
  const char mode = input[0];
  input.remove_prefix(1);
  if (mode == 'R') {
    strata::net::detail::ChatRequest request;
    if (strata::net::detail::parse_chat_request(input, request).ok()) {
      if (!strata::session::validate_session_id(request.chat_id).ok()) fail(input, "accepted a bad chat id");
      if (request.text.empty()) fail(input, "accepted a request without text");
    }
    return 0;
  }
  const auto resume_after = static_cast<strata::session::Offset>(static_cast<unsigned char>(mode) % 16);
  strata::net::detail::UiChunkMapper mapper("run-1");
  strata::session::Offset offset = 0;
  std::size_t records = 0;
  while (!input.empty() && records++ < 64) {
    auto end = input.find('\0');
    std::string_view record = input.substr(0, end);
    input = end == std::string_view::npos ? std::string_view{} : input.substr(end + 1);
    strata::session::Event e;
    e.offset = ++offset;
    e.run_id = "run-1";
    auto nl = record.find('\n');
    e.type = std::string(record.substr(0, nl));
    if (nl != std::string_view::npos) {
      record.remove_prefix(nl + 1);
      auto nl2 = record.find('\n');
      e.message_id = std::string(record.substr(0, nl2));
      e.payload = nl2 == std::string_view::npos ? "{}" : std::string(record.substr(nl2 + 1));
    }
    const bool was_finished = mapper.finished();
    auto chunks = mapper.map(e, e.offset > resume_after);
    if (was_finished && !chunks.empty()) fail(e.type, "chunks after the run ended");
    for (const auto& c : chunks) {
      auto j = nlohmann::json::parse(c, nullptr, false);
      if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) fail(c, "a chunk is not an object with a type");
    }
  }
  return 0;
}
