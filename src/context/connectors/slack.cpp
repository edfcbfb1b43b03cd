// Slack workspace export JSON -> documents (one per message). Formats: docs/connectors.md,
// "Slack".
#include <algorithm>

#include "context/connectors/fast_json.h"
#include "context/connectors/parsers.h"

namespace strata::context::detail {

namespace {

constexpr std::size_t kMaxConversationRecord = 16 << 20;

}  // namespace

std::vector<SlackConversation> parse_slack_conversations(std::string_view text, bool is_private,
                                                         const std::string& file, RecordSink& sink) {
  std::vector<SlackConversation> out;
  sj::for_each_record(text, file, kMaxConversationRecord, sink, [&](sj::Value j) -> std::string {
    SlackConversation c;
    if (!sj::str_checked(j, "id", c.id) || c.id.empty()) return "\"id\" is missing or not a string";
    if (c.id.find('/') != std::string::npos || c.id.find('\n') != std::string::npos) return "\"id\" has '/' or a newline";
    if (!sj::str_checked(j, "name", c.name)) return "\"name\" is not a string";
    c.is_private = is_private || sj::is_true(j, "is_private");
    // dms.json names the other party in "user" in some exports; with "members" absent the
    // member list is not known for sure, so access stays closed.
    if (const auto m = sj::member(j, "members")) {
      if (!m->is_array()) return "\"members\" is a " + sj::type_name(m) + ", not an array";
      c.members_known = true;
      sj::for_each_element(*m, [&](sj::Value u) {
        std::string_view id;
        if (u.get_string().get(id) == simdjson::SUCCESS) c.members.emplace_back(id);
      });
    }
    out.push_back(std::move(c));
    return "";
  });
  return out;
}

std::vector<SlackUser> parse_slack_users(std::string_view text, const std::string& file, RecordSink& sink) {
  std::vector<SlackUser> out;
  sj::for_each_record(text, file, 1 << 20, sink, [&](sj::Value j) -> std::string {
    SlackUser u;
    if (!sj::str_checked(j, "id", u.id) || u.id.empty()) return "\"id\" is missing or not a string";
    u.name = sj::str(j, "name");
    u.real_name = sj::str(j, "real_name");
    if (const auto p = sj::member(j, "profile"); p && p->is_object()) {
      u.email = sj::str(*p, "email");
      if (u.real_name.empty()) u.real_name = sj::str(*p, "real_name");
    }
    u.bot = sj::is_true(j, "is_bot");
    out.push_back(std::move(u));
    return "";
  });
  return out;
}

void parse_slack_day(std::string_view text, const SlackContext& c, RecordSink& sink) {
  const SlackConversation& conv = *c.conversation;
  const std::string prefix = "slack:" + conv.id + "/";
  const std::string title = "#" + (conv.name.empty() ? conv.id : conv.name);
  sj::for_each_record(text, c.file, c.max_record_bytes, sink, [&](sj::Value j) -> std::string {
    std::string_view type, subtype, ts, user, text_field, thread_ts;
    if (!sj::str_checked(j, "type", type)) return "\"type\" is not a string";
    if (!type.empty() && type != "message") return "";  // not a message: nothing to index
    if (!sj::str_checked(j, "subtype", subtype)) return "\"subtype\" is not a string";
    sj::Value msg = j;
    if (subtype == "message_deleted") {
      const std::string_view deleted = sj::str(j, "deleted_ts");
      if (parse_slack_ts(deleted) >= 0) sink.remove(prefix + std::string(deleted));
      return "";
    }
    if (subtype == "message_changed") {
      const auto changed = sj::member(j, "message");
      if (!changed || !changed->is_object()) return "\"message\" of a message_changed is not an object";
      msg = *changed;
    }
    if (subtype == "channel_join" || subtype == "channel_leave" || subtype == "group_join" ||
        subtype == "group_leave") {
      return "";
    }
    if (!sj::str_checked(msg, "ts", ts) || parse_slack_ts(ts) < 0) return "\"ts\" is missing or not a Slack timestamp";
    if (!sj::str_checked(msg, "user", user)) return "\"user\" is not a string";
    if (!sj::str_checked(msg, "text", text_field)) return "\"text\" is a " + sj::type_name(sj::member(msg, "text")) + ", not a string";
    if (!sj::str_checked(msg, "thread_ts", thread_ts)) return "\"thread_ts\" is not a string";
    if (!thread_ts.empty() && parse_slack_ts(thread_ts) < 0) return "\"thread_ts\" is not a Slack timestamp";
    if (subtype == "tombstone") {  // a deleted parent that keeps its thread
      sink.remove(prefix + std::string(ts));
      return "";
    }
    Document d;
    d.kind = DocumentKind::kChatMessage;
    d.path.reserve(prefix.size() + ts.size());
    d.path.append(prefix).append(ts);
    if (!thread_ts.empty() && thread_ts != ts) d.parent = prefix + std::string(thread_ts);
    if (!user.empty()) d.authors.push_back("slack:" + std::string(user));
    else if (const std::string_view bot = sj::str(msg, "bot_id"); !bot.empty()) d.authors.push_back("slack-bot:" + std::string(bot));
    d.timestamp = parse_slack_ts(ts);
    if (const auto e = sj::member(msg, "edited"); (e && e->is_object()) || subtype == "message_changed") {
      d.status = "edited";
    }
    // Attachments and files add searchable words.
    std::string extra;
    if (const auto files = sj::member(msg, "files")) {
      sj::for_each_element(*files, [&](sj::Value f) {
        const std::string_view name = sj::str(f, "name");
        if (!name.empty()) extra.append("\nfile: ").append(name);
      });
    }
    if (const auto reactions = sj::member(msg, "reactions")) {
      sj::for_each_element(*reactions, [&](sj::Value reaction) {
        const auto users = sj::member(reaction, "users");
        if (!users) return;
        sj::for_each_element(*users, [&](sj::Value u) {
          std::string_view id;
          if (u.get_string().get(id) == simdjson::SUCCESS) d.participants.push_back("reacted:slack:" + std::string(id));
        });
      });
    }
    d.title = title;
    d.access = c.access;
    d.content.reserve(title.size() + user.size() + text_field.size() + extra.size() + 5);
    d.content.append(title);
    if (!user.empty()) d.content.append(" <@").append(user).append(">");
    d.content.append("\n").append(text_field).append(extra);
    sink.put(std::move(d));
    return "";
  });
}

}  // namespace strata::context::detail
