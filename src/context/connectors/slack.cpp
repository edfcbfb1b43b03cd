// Slack workspace export JSON -> documents (one per message). Formats: docs/connectors.md,
// "Slack".
#include <algorithm>

#include "context/connectors/json_util.h"
#include "context/connectors/parsers.h"

namespace strata::context::detail {

namespace {

constexpr std::size_t kMaxConversationRecord = 16 << 20;

}  // namespace

std::vector<SlackConversation> parse_slack_conversations(std::string_view text, bool is_private,
                                                         const std::string& file, RecordSink& sink) {
  std::vector<SlackConversation> out;
  for_each_record(text, file, kMaxConversationRecord, sink, [&](const Json& j) -> std::string {
    SlackConversation c;
    if (!str_checked(j, "id", c.id) || c.id.empty()) return "\"id\" is missing or not a string";
    if (c.id.find('/') != std::string::npos || c.id.find('\n') != std::string::npos) return "\"id\" has '/' or a newline";
    if (!str_checked(j, "name", c.name)) return "\"name\" is not a string";
    c.is_private = is_private || (member(j, "is_private") && member(j, "is_private")->is_boolean() &&
                                  member(j, "is_private")->get<bool>());
    if (const Json* m = member(j, "members")) {
      if (!m->is_array()) return "\"members\" is a " + type_name(m) + ", not an array";
      c.members_known = true;
      for (const auto& u : *m) {
        if (u.is_string()) c.members.push_back(u.get<std::string>());
      }
    } else if (const Json* u = member(j, "user"); u && u->is_string()) {
      // dms.json names the other party in "user" in some exports; with "members" absent the
      // member list is not known for sure, so access stays closed.
    }
    out.push_back(std::move(c));
    return "";
  });
  return out;
}

std::vector<SlackUser> parse_slack_users(std::string_view text, const std::string& file, RecordSink& sink) {
  std::vector<SlackUser> out;
  for_each_record(text, file, 1 << 20, sink, [&](const Json& j) -> std::string {
    SlackUser u;
    if (!str_checked(j, "id", u.id) || u.id.empty()) return "\"id\" is missing or not a string";
    u.name = str(j, "name");
    u.real_name = str(j, "real_name");
    if (const Json* p = member(j, "profile"); p && p->is_object()) {
      u.email = str(*p, "email");
      if (u.real_name.empty()) u.real_name = str(*p, "real_name");
    }
    const Json* bot = member(j, "is_bot");
    u.bot = bot && bot->is_boolean() && bot->get<bool>();
    out.push_back(std::move(u));
    return "";
  });
  return out;
}

void parse_slack_day(std::string_view text, const SlackContext& c, RecordSink& sink) {
  const SlackConversation& conv = *c.conversation;
  const std::string prefix = "slack:" + conv.id + "/";
  for_each_record(text, c.file, c.max_record_bytes, sink, [&](const Json& j) -> std::string {
    std::string type, subtype, ts, user, text_field, thread_ts;
    if (!str_checked(j, "type", type)) return "\"type\" is not a string";
    if (!type.empty() && type != "message") return "";  // not a message: nothing to index
    if (!str_checked(j, "subtype", subtype)) return "\"subtype\" is not a string";
    const Json* msg = &j;
    if (subtype == "message_deleted") {
      const std::string deleted = str(j, "deleted_ts");
      if (parse_slack_ts(deleted) >= 0) sink.remove(prefix + deleted);
      return "";
    }
    if (subtype == "message_changed") {
      msg = member(j, "message");
      if (!msg || !msg->is_object()) return "\"message\" of a message_changed is not an object";
    }
    if (subtype == "channel_join" || subtype == "channel_leave" || subtype == "group_join" ||
        subtype == "group_leave") {
      return "";
    }
    if (!str_checked(*msg, "ts", ts) || parse_slack_ts(ts) < 0) return "\"ts\" is missing or not a Slack timestamp";
    if (!str_checked(*msg, "user", user)) return "\"user\" is not a string";
    if (!str_checked(*msg, "text", text_field)) return "\"text\" is a " + type_name(member(*msg, "text")) + ", not a string";
    if (!str_checked(*msg, "thread_ts", thread_ts)) return "\"thread_ts\" is not a string";
    if (!thread_ts.empty() && parse_slack_ts(thread_ts) < 0) return "\"thread_ts\" is not a Slack timestamp";
    if (subtype == "tombstone") {  // a deleted parent that keeps its thread
      sink.remove(prefix + ts);
      return "";
    }
    Document d;
    d.kind = DocumentKind::kChatMessage;
    d.path = prefix + ts;
    if (!thread_ts.empty() && thread_ts != ts) d.parent = prefix + thread_ts;
    if (!user.empty()) d.authors.push_back("slack:" + user);
    else if (const std::string bot = str(*msg, "bot_id"); !bot.empty()) d.authors.push_back("slack-bot:" + bot);
    d.timestamp = parse_slack_ts(ts);
    if (const Json* e = member(*msg, "edited"); (e && e->is_object()) || subtype == "message_changed") {
      d.status = "edited";
    }
    // Attachments and files add searchable words.
    std::string extra;
    if (const Json* files = member(*msg, "files"); files && files->is_array()) {
      for (const auto& f : *files) {
        const std::string name = f.is_object() ? str(f, "name") : "";
        if (!name.empty()) extra += "\nfile: " + name;
      }
    }
    if (const Json* r = member(*msg, "reactions"); r && r->is_array()) {
      for (const auto& reaction : *r) {
        if (!reaction.is_object()) continue;
        if (const Json* users = member(reaction, "users"); users && users->is_array()) {
          for (const auto& u : *users) {
            if (u.is_string()) d.participants.push_back("reacted:slack:" + u.get<std::string>());
          }
        }
      }
    }
    d.title = "#" + (conv.name.empty() ? conv.id : conv.name);
    d.access = c.access;
    d.content = d.title + (user.empty() ? "" : " <@" + user + ">") + "\n" + text_field + extra;
    sink.put(std::move(d));
    return "";
  });
}

}  // namespace strata::context::detail
