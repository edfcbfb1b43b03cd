// One identity per person (strata/context/people.h): the mapping file and the conservative
// email heuristics.
#include <algorithm>
#include <functional>
#include <set>

#include <strata/context/people.h>

#include "context/connectors/json_util.h"

namespace strata::context {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
  return out;
}

std::string trim_email(std::string_view e) {
  while (!e.empty() && (e.front() == ' ' || e.front() == '<')) e.remove_prefix(1);
  while (!e.empty() && (e.back() == ' ' || e.back() == '>')) e.remove_suffix(1);
  return lower(e);
}

// "123+alice@users.noreply.github.com" or "alice@users.noreply.github.com" -> "alice".
std::string github_noreply_login(std::string_view email) {
  constexpr std::string_view kDomain = "@users.noreply.github.com";
  if (email.size() <= kDomain.size() || email.substr(email.size() - kDomain.size()) != kDomain) return "";
  std::string_view local = email.substr(0, email.size() - kDomain.size());
  if (const auto plus = local.find('+'); plus != std::string_view::npos) local = local.substr(plus + 1);
  if (local.empty() || local.find('[') != std::string_view::npos) return "";  // bots: "x[bot]"
  return std::string(local);
}

}  // namespace

bool Identities::weak_email(std::string_view email) {
  const std::string e = trim_email(email);
  const auto at = e.find('@');
  if (at == std::string::npos || at == 0 || at + 1 >= e.size() || e.find('@', at + 1) != std::string::npos) return true;
  const std::string local = e.substr(0, at);
  const std::string domain = e.substr(at + 1);
  static const std::set<std::string> kRole = {
      "noreply", "no-reply", "donotreply", "do-not-reply", "bot", "ci", "build", "builds", "admin", "root",
      "support", "help", "info", "team", "dev", "devs", "engineering", "git", "github", "jenkins", "deploy",
      "ops", "security", "notifications", "mailer-daemon", "postmaster", "nobody", "user", "test", "hello",
      "contact", "office", "all", "everyone"};
  if (kRole.count(local)) return true;
  if (local.find("[bot]") != std::string::npos || (local.size() >= 3 && local.compare(local.size() - 3, 3, "bot") == 0)) {
    return true;
  }
  if (local.rfind("noreply", 0) == 0 || local.rfind("no-reply", 0) == 0) return true;
  if (domain == "localhost" || domain.find('.') == std::string::npos || domain == "users.noreply.github.com") {
    return true;
  }
  return false;
}

Result<std::size_t> Identities::observe_slack_users(std::string_view json) {
  using detail::Json;
  std::string error;
  auto j = detail::parse_json(json, &error);
  if (!j) return invalid_argument_error("slack users: " + error);
  const Json* users = j->is_array() ? &*j : detail::member(*j, "members");
  if (!users || !users->is_array()) {
    return invalid_argument_error("slack users: expected an array (users.json) or {\"members\": [...]} (users.list)");
  }
  std::size_t with_email = 0;
  for (const auto& u : *users) {
    std::string id;
    if (!u.is_object() || !detail::str_checked(u, "id", id) || id.empty()) continue;
    std::string email, name = detail::str(u, "real_name");
    if (const Json* profile = detail::member(u, "profile"); profile && profile->is_object()) {
      email = detail::str(*profile, "email");
      if (name.empty()) name = detail::str(*profile, "real_name");
    }
    if (name.empty()) name = detail::str(u, "name");
    const Json* bot = detail::member(u, "is_bot");
    if (bot && bot->is_boolean() && bot->get<bool>()) email.clear();  // a bot is nobody's identity
    observe("slack:" + id, email, name);
    if (!email.empty()) ++with_email;
  }
  return with_email;
}

Result<std::size_t> Identities::observe_jira_users(std::string_view json) {
  using detail::Json;
  std::string error;
  auto j = detail::parse_json(json, &error);
  if (!j) return invalid_argument_error("jira users: " + error);
  std::size_t with_email = 0;
  std::vector<const Json*> todo{&*j};  // a walk with a stack: nesting depth costs no recursion
  while (!todo.empty()) {
    const Json* node = todo.back();
    todo.pop_back();
    if (node->is_array()) {
      for (const auto& v : *node) todo.push_back(&v);
      continue;
    }
    if (!node->is_object()) continue;
    std::string id = detail::str(*node, "accountId");
    if (id.empty()) id = detail::str(*node, "name");
    if (id.empty()) id = detail::str(*node, "key");
    const Json* email = detail::member(*node, "emailAddress");
    const Json* display = detail::member(*node, "displayName");
    // A user object: an id and an emailAddress or displayName (an issue's "key" alone is not).
    if (!id.empty() && ((email && email->is_string()) || (display && display->is_string()))) {
      const std::string e = email && email->is_string() ? email->get<std::string>() : "";
      observe("jira:" + id, e, display && display->is_string() ? display->get<std::string>() : "");
      if (!e.empty()) ++with_email;
    }
    for (const auto& [key, v] : node->items()) {
      if (v.is_object() || v.is_array()) todo.push_back(&v);
    }
  }
  return with_email;
}

Result<Identities> Identities::from_mapping(std::string_view json) {
  using detail::Json;
  std::string error;
  auto j = detail::parse_json(json, &error);
  if (!j) return invalid_argument_error("people mapping: " + error);
  const Json* people = detail::member(*j, "people");
  if (!people || !people->is_array()) return invalid_argument_error("people mapping: \"people\" must be an array");
  Identities ids;
  std::size_t index = 0;
  for (const auto& p : *people) {
    const std::string where = "people mapping: person " + std::to_string(index++);
    std::string id;
    if (!p.is_object() || !detail::str_checked(p, "id", id) || id.empty()) return invalid_argument_error(where + " has no \"id\"");
    const std::string name = detail::str(p, "name");
    if (!name.empty()) ids.names_[id] = name;
    const Json* accounts = detail::member(p, "accounts");
    if (!accounts || !accounts->is_array()) return invalid_argument_error(where + " (" + id + ") has no \"accounts\" array");
    for (const auto& a : *accounts) {
      if (!a.is_string() || a.get<std::string>().find(':') == std::string::npos) {
        return invalid_argument_error(where + " (" + id + "): accounts are \"<system>:<id>\" strings");
      }
      std::string acct = a.get<std::string>();
      if (acct.rfind("git:", 0) == 0) acct = "git:" + trim_email(acct.substr(4));
      auto [it, inserted] = ids.mapped_.emplace(acct, id);
      if (!inserted && it->second != id) {
        return invalid_argument_error("people mapping: account " + acct + " is given to both " + it->second + " and " + id);
      }
    }
  }
  return ids;
}

void Identities::observe(std::string_view account, std::string_view email, std::string_view name) {
  if (account.empty()) return;
  std::string acct(account);
  if (acct.rfind("git:", 0) == 0) acct = "git:" + trim_email(acct.substr(4));
  if (!email.empty()) emails_[acct] = trim_email(email);
  else if (acct.rfind("git:", 0) == 0) emails_[acct] = acct.substr(4);
  else emails_.emplace(acct, "");
  if (!name.empty()) names_.emplace(acct, std::string(name));
  dirty_ = true;
}

void Identities::resolve() const {
  if (!dirty_) return;
  person_.clear();
  why_.clear();
  // Every account with its email (mapped git: accounts carry theirs).
  std::map<std::string, std::string> email_of = emails_;
  for (const auto& [acct, person] : mapped_) {
    if (acct.rfind("git:", 0) == 0) email_of.emplace(acct, acct.substr(4));
    else email_of.emplace(acct, "");
  }
  // Union-find over accounts.
  std::map<std::string, std::string> parent;
  std::function<std::string(const std::string&)> find = [&](const std::string& a) -> std::string {
    auto it = parent.find(a);
    if (it == parent.end() || it->second == a) return a;
    std::string root = find(it->second);
    parent[a] = root;
    return root;
  };
  auto unite = [&](const std::string& a, const std::string& b) {
    parent.emplace(a, a);
    parent.emplace(b, b);
    const std::string ra = find(a), rb = find(b);
    if (ra != rb) parent[std::max(ra, rb)] = std::min(ra, rb);
  };
  std::map<std::string, std::vector<std::string>> by_email;
  std::map<std::string, std::string> link_reason;
  for (const auto& [acct, email] : email_of) {
    parent.emplace(acct, acct);
    if (email.empty()) continue;
    if (const std::string login = github_noreply_login(email); !login.empty()) {
      unite(acct, "github:" + login);
      link_reason[acct] = "github noreply";
      continue;
    }
    if (!weak_email(email)) by_email[email].push_back(acct);
  }
  for (const auto& [email, accts] : by_email) {
    for (std::size_t i = 1; i < accts.size(); ++i) unite(accts[0], accts[i]);
    if (accts.size() > 1) {
      for (const auto& a : accts) link_reason.emplace(a, "email " + email);
    }
  }
  // Components; a component with two mapped people is not merged (conflicting signals).
  std::map<std::string, std::vector<std::string>> components;
  for (const auto& [acct, p] : parent) components[find(acct)].push_back(acct);
  for (const auto& [root, accts] : components) {
    std::set<std::string> persons;
    for (const auto& a : accts) {
      if (auto m = mapped_.find(a); m != mapped_.end()) persons.insert(m->second);
    }
    for (const auto& a : accts) {
      if (auto m = mapped_.find(a); m != mapped_.end()) {
        person_[a] = m->second;
        why_[a] = "mapping";
      } else if (persons.size() == 1) {
        person_[a] = *persons.begin();
        why_[a] = link_reason.count(a) ? link_reason[a] : "self";
      } else if (persons.empty()) {
        person_[a] = accts.size() > 1 ? *std::min_element(accts.begin(), accts.end()) : a;
        why_[a] = accts.size() > 1 && link_reason.count(a) ? link_reason[a] : "self";
      } else {
        person_[a] = a;
        why_[a] = "self (conflicting links)";
      }
    }
  }
  dirty_ = false;
}

std::string Identities::person_of(std::string_view account) const {
  resolve();
  std::string acct(account);
  if (acct.rfind("git:", 0) == 0) acct = "git:" + trim_email(acct.substr(4));
  auto it = person_.find(acct);
  return it == person_.end() ? acct : it->second;
}

std::vector<std::string> Identities::accounts_of(std::string_view person) const {
  resolve();
  std::vector<std::string> out;
  for (const auto& [acct, p] : person_) {
    if (p == person) out.push_back(acct);
  }
  if (out.empty() && person.find(':') != std::string_view::npos) out.emplace_back(person);
  std::sort(out.begin(), out.end());
  return out;
}

std::string Identities::reason(std::string_view account) const {
  resolve();
  auto it = why_.find(std::string(account));
  return it == why_.end() ? "self" : it->second;
}

Principal Identities::principal_for(std::string_view person) const {
  return Principal{std::string(person), accounts_of(person)};
}

std::string Identities::name_of(std::string_view person) const {
  resolve();
  if (auto it = names_.find(std::string(person)); it != names_.end()) return it->second;
  for (const auto& a : accounts_of(person)) {
    if (auto it = names_.find(a); it != names_.end()) return it->second;
  }
  return "";
}

}  // namespace strata::context
