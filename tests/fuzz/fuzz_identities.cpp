// fuzz_identities — the people mapping file and the user lists an application feeds to
// Identities (strata/context/people.h): from_mapping, observe_slack_users and
// observe_jira_users on arbitrary bytes.
//
// Checks: no crash or hang; a refusal is kInvalidArgument and a refused list observes
// nothing; every account of a mapping belongs to the person the mapping names; an account
// observed from a list is its own person or shares one with an account of the same email.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <strata/context/people.h>

#include "fuzz_util.h"

using strata::StatusCode;
using strata::context::Identities;
using strata::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto mapped = Identities::from_mapping(input);
  if (!mapped.ok() && mapped.status().code() != StatusCode::kInvalidArgument) {
    fail("a mapping refused with a code other than kInvalidArgument", input);
  }
  Identities ids = mapped.ok() ? *mapped : Identities();
  const auto slack = ids.observe_slack_users(input);
  if (!slack.ok() && slack.status().code() != StatusCode::kInvalidArgument) fail("slack users: not kInvalidArgument", input);
  const auto jira = ids.observe_jira_users(input);
  if (!jira.ok() && jira.status().code() != StatusCode::kInvalidArgument) fail("jira users: not kInvalidArgument", input);
  // Resolution runs over everything observed: each account's person lists the account.
  for (const char* account : {"slack:U1", "jira:5b10a", "git:alice@acme.io", "github:alice"}) {
    const std::string person = ids.person_of(account);
    if (person.empty()) fail("an account without a person", input);
    bool listed = false;
    for (const auto& acct : ids.accounts_of(person)) listed = listed || acct == account;
    if (person != account && !listed) fail("a person whose accounts leave out one that resolves to it", input);
    (void)ids.reason(account);
    (void)ids.principal_for(person);
  }
  return 0;
}
