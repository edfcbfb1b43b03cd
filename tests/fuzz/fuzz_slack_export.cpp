// fuzz_slack_export — the Slack export parsers (conversation lists, users, day files) on
// arbitrary bytes.
//
// Checks: no crash or hang; messages stay under their conversation's namespace with exactly
// the access list given; a private conversation parsed without "members" has none.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "context/connectors/parsers.h"
#include "fuzz_util.h"

using namespace strata::context;
using namespace strata::context::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  RecordSink sink;
  SlackConversation conv;
  conv.id = "C1";
  conv.name = "general";
  SlackContext ctx;
  ctx.conversation = &conv;
  ctx.access = {"slack:U1"};
  ctx.max_record_bytes = 4096;
  ctx.file = "general/2024-01-01.json";
  sink.put = [&](Document d) {
    if (d.path.rfind("slack:C1/", 0) != 0 || d.access != ctx.access ||
        (!d.parent.empty() && d.parent.rfind("slack:C1/", 0) != 0)) {
      std::fprintf(stderr, "message %s escaped its conversation or access list\n", d.path.c_str());
      strata::fuzz::print_escaped(input);
      std::abort();
    }
  };
  sink.remove = [&](std::string_view key) {
    if (key.rfind("slack:C1/", 0) != 0) std::abort();
  };
  sink.skip = [](std::string_view, SkipReason, std::string_view) {};
  for (const auto& c : parse_slack_conversations(input, true, "groups.json", sink)) {
    if (c.id.empty() || (!c.members_known && !c.members.empty())) {
      std::fprintf(stderr, "a conversation without an id, or members when none were listed\n");
      strata::fuzz::print_escaped(input);
      std::abort();
    }
  }
  (void)parse_slack_users(input, "users.json", sink);
  parse_slack_day(input, ctx, sink);
  return 0;
}
