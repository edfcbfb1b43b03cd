// Packing: never over budget (property test across budgets, formats, tokenizers and tasks),
// spans before whole files, signatures when short of space, no duplicates, citations.
#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include <strata/context/code_tree.h>
#include <strata/context/engine.h>

#include "context/context_test_util.h"
#include "sanitized.h"

using namespace strata;
using namespace strata::context;
using strata::test::ContextTempDir;

namespace {

// A repository with long functions, a copy of one file, and small files.
void write_repo(const ContextTempDir& t, std::mt19937& rng) {
  std::string big = "class Engine:\n";
  for (int f = 0; f < 12; ++f) {
    big += "    def step_" + std::to_string(f) + "(self, budget, tokens):\n";
    big += "        \"\"\"Advance the engine by one step within the budget.\"\"\"\n";
    for (int l = 0; l < 30; ++l) {
      big += "        value_" + std::to_string(l) + " = budget * " + std::to_string(rng() % 1000) +
             " + tokens  # packing line\n";
    }
  }
  t.write("repo/engine.py", big);
  t.write("repo/copy/engine.py", big);  // a verbatim copy: must not be packed twice
  t.write("repo/util.py", "def clamp(budget, lo, hi):\n    return max(lo, min(budget, hi))\n");
  t.write("repo/notes.md", "Budget notes: the engine packs tokens within the budget.\n");
  std::string cpp = "namespace pk {\n";
  for (int f = 0; f < 8; ++f) {
    cpp += "int pack_budget_" + std::to_string(f) + "(int budget, int tokens) {\n";
    for (int l = 0; l < 20; ++l) cpp += "  budget -= tokens * " + std::to_string(l) + ";\n";
    cpp += "  return budget;\n}\n";
  }
  cpp += "}\n";
  t.write("repo/pack.cc", cpp);
}

}  // namespace

TEST_CASE("pack: never exceeds the budget, for any budget, format and tokenizer", "[context][pack]") {
  ContextTempDir t;
  std::mt19937 rng(42);
  write_repo(t, rng);
  auto engine = ContextEngine::open({.index_path = t.path("index.db")}).value();
  auto code = make_code_tree_connector({.root = t.path("repo")});
  REQUIRE(engine->ingest(*code).ok());

  const std::vector<std::shared_ptr<const Tokenizer>> tokenizers{
      estimate_tokenizer(), std::make_shared<test::ByteTokenizer>()};
  const std::vector<std::string> tasks{
      "Engine.step_3 exceeds the budget when tokens are negative",
      "pack_budget_5 returns the wrong value",
      "clamp(budget) is off by one",
      "budget tokens engine packing",
      "something entirely unrelated: zebra giraffe",
      std::string(3000, 'x') + " budget",
  };
  std::vector<std::size_t> budgets{0, 1, 2, 5, 10, 20, 50, 80, 100, 150, 200, 300, 500, 1000, 2000, 5000, 20000};
  // 40 random budgets more (8 under a sanitizer: see sanitized.h).
  const std::size_t random_budgets = strata::test::full_or_sanitized(40, 8);
  for (std::size_t i = 0; i < random_budgets; ++i) budgets.push_back(rng() % 8000);
  int checked = 0;
  int nonempty = 0;
  for (const auto& tok : tokenizers) {
    for (const auto& task : tasks) {
      for (auto format : {PacketFormat::kMarkdown, PacketFormat::kJson}) {
        for (std::size_t budget : budgets) {
          auto p = engine->pack({.text = task}, {.budget = budget, .tokenizer = tok, .format = format});
          REQUIRE(p.ok());
          const std::string rendered = p->render();
          INFO("budget " << budget << " tokenizer " << tok->name() << " task " << task.substr(0, 40));
          REQUIRE(tok->count(rendered) <= budget);
          CHECK(p->used_tokens == tok->count(rendered));
          CHECK(p->exact_counts == tok->exact());
          if (budget == 0) CHECK(rendered.empty());
          if (!p->items.empty()) ++nonempty;
          // No duplicate text, no overlapping spans of one file.
          std::set<std::string> texts;
          for (const auto& item : p->items) {
            CHECK(texts.insert(item.text).second);
            CHECK(item.start_line <= item.end_line);
            CHECK(item.citation().find(item.path + ":") == 0);
          }
          if (format == PacketFormat::kJson && !rendered.empty()) {
            auto j = nlohmann::json::parse(rendered, nullptr, false);
            CHECK_FALSE(j.is_discarded());
          }
          ++checked;
        }
      }
    }
  }
  CHECK(checked > static_cast<int>(strata::test::full_or_sanitized(1000, 500)));
  CHECK(nonempty > checked / 3);
}

TEST_CASE("pack: prefers the relevant span, elides to signatures, cites path:lines@commit", "[context][pack]") {
  ContextTempDir t;
  std::mt19937 rng(7);
  write_repo(t, rng);
  auto engine = ContextEngine::open({.index_path = t.path("index.db")}).value();
  auto code = make_code_tree_connector({.root = t.path("repo"), .commit = "0123456789abcdef0123456789abcdef01234567"});
  REQUIRE(engine->ingest(*code).ok());
  auto tok = std::make_shared<test::ByteTokenizer>();

  auto roomy = engine->pack({.text = "Engine.step_3 is wrong"}, {.budget = 6000, .tokenizer = tok});
  REQUIRE(roomy.ok());
  REQUIRE_FALSE(roomy->items.empty());
  const auto& first = roomy->items.front();
  CHECK(first.symbol == "Engine.step_3");
  CHECK(first.form == ItemForm::kSpan);
  CHECK(first.end_line - first.start_line < 40);  // the method, not the 400-line file
  CHECK(first.citation() == first.path + ":" + std::to_string(first.start_line) + "-" +
                                std::to_string(first.end_line) + "@0123456789ab");
  const std::string md = roomy->to_markdown();
  CHECK(md.find("## " + first.citation()) != std::string::npos);
  CHECK(md.find("```python") != std::string::npos);
  // The copy of engine.py never contributes the same text twice.
  int step3 = 0;
  for (const auto& item : roomy->items) step3 += item.symbol == "Engine.step_3" && item.form == ItemForm::kSpan;
  CHECK(step3 == 1);

  // Short of space, later items shrink to signatures.
  auto tight = engine->pack({.text = "pack_budget_1 pack_budget_2 pack_budget_3 pack_budget_4 budget"},
                            {.budget = 900, .tokenizer = tok});
  REQUIRE(tight.ok());
  bool signature = false;
  for (const auto& item : tight->items) {
    if (item.form == ItemForm::kSignature) {
      signature = true;
      CHECK(item.text.find("    ...") != std::string::npos);
      CHECK(item.end_line - item.start_line <= 1);
    }
  }
  CHECK(signature);
  CHECK(tight->used_tokens <= 900);

  // An empty index packs an empty packet with a header.
  ContextTempDir empty;
  auto e2 = ContextEngine::open({.index_path = empty.path("i.db")}).value();
  auto p = e2->pack({.text = "anything"}, {.budget = 1000});
  REQUIRE(p.ok());
  CHECK(p->items.empty());
  CHECK_FALSE(p->to_markdown().empty());
  CHECK_FALSE(p->exact_counts);
  CHECK(p->tokenizer == "estimate");
}
