// Ranking signals added for issue 5's accuracy target: chunk evidence (the best single
// function or method of a candidate file).
#include <catch2/catch.hpp>

#include <string>

#include <strata/context/code_tree.h>
#include <strata/context/engine.h>

#include "context/context_test_util.h"

using namespace strata;
using namespace strata::context;
using strata::test::ContextTempDir;

TEST_CASE("ranking: a function holding the task's terms outranks scattered mentions", "[context][ranking]") {
  ContextTempDir t;
  // A long module that mentions every term of the task, each in a different function, many
  // times (file-level BM25 likes it) ...
  std::string big;
  const char* words[] = {"tolerance", "residual", "converge", "iteration"};
  for (int i = 0; i < 40; ++i) {
    const std::string w = words[i % 4];
    big += "def helper_" + std::to_string(i) + "(x):\n";
    big += "    # " + w + " " + w + " " + w + "\n";
    big += "    value = x + " + std::to_string(i) + "\n";
    big += "    return value\n\n";
  }
  t.write("repo/pkg/utilities.py", big);
  // ... and a module whose one function is about all of them together.
  std::string focused = "import math\n\n";
  focused += "def advance(state):\n";
  focused += "    # one iteration: stop when the residual is below the tolerance, else converge further\n";
  focused += "    residual = state.residual()\n";
  focused += "    if residual < state.tolerance:\n";
  focused += "        return state\n";
  focused += "    return state.converge(iteration=state.iteration + 1)\n\n";
  for (int i = 0; i < 30; ++i) focused += "def unrelated_" + std::to_string(i) + "(a, b):\n    return a * b + " + std::to_string(i) + "\n\n";
  t.write("repo/pkg/stepper.py", focused);
  t.write("repo/pkg/other.py", "def nothing():\n    return None\n");

  auto engine = ContextEngine::open({.index_path = t.path("index.db")});
  REQUIRE(engine.ok());
  auto code = make_code_tree_connector({.root = t.path("repo")});
  REQUIRE((*engine)->ingest(*code).ok());
  auto r = (*engine)->retrieve({.text = "The iteration stops although the residual is above the tolerance, so it does not converge"});
  REQUIRE(r.ok());
  REQUIRE(r->files.size() >= 2);
  CHECK(r->files[0].path == "pkg/stepper.py");
  double chunk_top = 0, chunk_big = 0;
  for (const auto& f : r->files) {
    for (const auto& w : f.why) {
      if (w.name != "chunk") continue;
      if (f.path == "pkg/stepper.py") chunk_top = w.score;
      if (f.path == "pkg/utilities.py") chunk_big = w.score;
    }
  }
  CHECK(chunk_top > 0);  // the best chunk among the candidates gets the full weight
  CHECK(chunk_big < chunk_top);
}
