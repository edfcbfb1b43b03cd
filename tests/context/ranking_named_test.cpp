// Ranking signals that resolve what a task names to the file defining it: `Class.member`,
// classes named in prose or in the first line, names imported from a package; and the task
// reader's parsing of import statements and exception messages.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <strata/context/code_tree.h>
#include <strata/context/engine.h>

#include "context/context_test_util.h"
#include "context/query.h"

using namespace strata;
using namespace strata::context;
using strata::test::ContextTempDir;
using strata::context::detail::analyze_task;

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The rank (1-based) of `path` in the result, 0 when absent.
int rank_of(const RetrieveResult& r, const std::string& path) {
  for (std::size_t i = 0; i < r.files.size(); ++i) {
    if (r.files[i].path == path) return static_cast<int>(i + 1);
  }
  return 0;
}

bool has_signal(const RetrieveResult& r, const std::string& path, const std::string& name) {
  for (const auto& f : r.files) {
    if (f.path != path) continue;
    for (const auto& w : f.why) {
      if (w.name == name) return true;
    }
  }
  return false;
}

// Filler code so that every file has some body for BM25.
std::string filler(const std::string& prefix, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += "def " + prefix + std::to_string(i) + "(a):\n    return a + " + std::to_string(i) + "\n\n";
  return s;
}

}  // namespace

TEST_CASE("task: import statements, exception classes, classes named in prose and title", "[context][ranking]") {
  const auto a = analyze_task(
      "Intersection should remove duplicates\n"
      "```\n"
      ">>> from sympy.physics.quantum import TensorProduct as tp, tensor_product_simp\n"
      "In [2]: import numpy as np, os.path\n"
      "AttributeError: 'Contains' object has no attribute 'as_relational'\n"
      "```\n"
      "The documentation of the Pow class says so; class Mul too. The object is odd.\n");
  CHECK(contains(a.imported_modules, "sympy.physics.quantum"));
  CHECK(contains(a.imported_modules, "numpy"));
  CHECK(contains(a.imported_modules, "os.path"));
  CHECK_FALSE(contains(a.imported_modules, "np"));  // an alias is not a module
  CHECK(a.imported_names.size() == 2);
  CHECK(std::find(a.imported_names.begin(), a.imported_names.end(),
                  std::make_pair(std::string("sympy.physics.quantum"), std::string("tensorproduct"))) !=
        a.imported_names.end());
  CHECK(contains(a.class_words, "contains"));
  CHECK(contains(a.class_words, "pow"));
  CHECK(contains(a.class_words, "mul"));
  CHECK_FALSE(contains(a.class_words, "the"));  // "The object": a stop word, not a class
  CHECK(a.title_caps == std::vector<std::string>{"intersection"});
}

TEST_CASE("task: hostile input to the import and class parsers", "[context][ranking]") {
  // Unterminated, oversized and degenerate lines must not crash or yield empty names.
  std::string text = "from\nfrom \nfrom x\nfrom x import\nimport\nimport ,,,()\n";
  text += "from " + std::string(5000, 'a') + " import " + std::string(5000, 'b') + "\n";
  text += "import " + std::string(20000, ',') + "\n";
  text += "Error: '\nError: 'x\nValueError: ''\nError:\n: object\nclass\n class \n";
  text += "In [1]" + std::string(100, ']') + "\n>>> >>> >>> ... from a import b\n";
  for (int i = 0; i < 2000; ++i) text += "Foo" + std::to_string(i) + " objects ";
  const auto a = analyze_task(text);
  for (const auto& m : a.imported_modules) CHECK_FALSE(m.empty());
  for (const auto& [m, n] : a.imported_names) {
    CHECK_FALSE(m.empty());
    CHECK_FALSE(n.empty());
  }
  for (const auto& c : a.class_words) CHECK_FALSE(c.empty());
  CHECK(contains(a.imported_modules, "a"));
  CHECK(a.class_words.size() == 2000);
}

TEST_CASE("ranking: the file defining a named Class.member and a named class", "[context][ranking]") {
  ContextTempDir t;
  // The entry point the user called; it mentions everything and is named in the task.
  t.write("repo/pkg/simplify.py",
          "from pkg.sets import Contains\n\n"
          "def simplify(expr):\n    # simplify calls as_set on Contains and intersection\n"
          "    return expr.as_set()\n\n" + filler("simp_", 10));
  // The class whose method is wrong.
  t.write("repo/pkg/sets.py",
          "class Contains:\n    def as_set(self):\n        return self\n\n"
          "class Intersection:\n    def __new__(cls, *args):\n        return args\n\n" + filler("set_", 10));
  t.write("repo/pkg/other.py", "class Other:\n    def as_set(self):\n        return 1\n\n" + filler("o_", 10));
  auto engine = ContextEngine::open({.index_path = t.path("index.db")});
  REQUIRE(engine.ok());
  auto code = make_code_tree_connector({.root = t.path("repo")});
  REQUIRE((*engine)->ingest(*code).ok());

  auto r = (*engine)->retrieve({.text = "Wrong result\n\nThe bug is in Contains.as_set: it returns itself.",
                                 .max_files = 10});
  REQUIRE(r.ok());
  CHECK(has_signal(*r, "pkg/sets.py", "member"));
  CHECK_FALSE(has_signal(*r, "pkg/other.py", "member"));  // defines as_set, not Contains
  CHECK(rank_of(*r, "pkg/sets.py") == 1);

  auto r2 = (*engine)->retrieve({.text = "Intersection should remove duplicates\n\nThe result keeps both copies.",
                                 .max_files = 10});
  REQUIRE(r2.ok());
  CHECK(has_signal(*r2, "pkg/sets.py", "member"));
  CHECK_FALSE(has_signal(*r2, "pkg/simplify.py", "member"));  // mentions it, does not define it
  CHECK(rank_of(*r2, "pkg/sets.py") == 1);

  // A capitalised title word that is no class credits nothing.
  auto r3 = (*engine)->retrieve({.text = "Wrong Result for simplify", .max_files = 10});
  REQUIRE(r3.ok());
  for (const auto& f : r3->files) CHECK_FALSE(has_signal(*r3, f.path, "member"));
}

TEST_CASE("ranking: a name imported from a package credits the file defining it", "[context][ranking]") {
  ContextTempDir t;
  t.write("repo/lib/quantum/__init__.py", "from lib.quantum.tensorproduct import TensorProduct\n");
  t.write("repo/lib/quantum/tensorproduct.py",
          "class TensorProduct:\n    def _eval_power(self, e):\n        return None\n\n" + filler("tp_", 10));
  t.write("repo/lib/quantum/other.py", filler("other_", 10));
  t.write("repo/lib/pauli.py", "class Pauli:\n    pass\n\n" + filler("pauli_", 10));
  auto engine = ContextEngine::open({.index_path = t.path("index.db")});
  REQUIRE(engine.ok());
  auto code = make_code_tree_connector({.root = t.path("repo")});
  REQUIRE((*engine)->ingest(*code).ok());
  auto r = (*engine)->retrieve({.text = "Powers are not evaluated\n```\n"
                                       "from lib.quantum import TensorProduct as tp\nfrom lib.pauli import Pauli\n"
                                       "tp(1, Pauli(3)) ** 2\n```\n",
                                .max_files = 10});
  REQUIRE(r.ok());
  bool imported = false;
  for (const auto& f : r->files) {
    if (f.path != "lib/quantum/tensorproduct.py") continue;
    for (const auto& w : f.why) imported |= w.name == "path" && w.detail.find("imports tensorproduct") != std::string::npos;
  }
  CHECK(imported);
  // The defining file outranks the package the import names (it only re-exports).
  CHECK(rank_of(*r, "lib/quantum/tensorproduct.py") < rank_of(*r, "lib/quantum/__init__.py"));
  bool half = false;  // the imported module lib.pauli gets half the credit of a named module
  for (const auto& f : r->files) {
    if (f.path != "lib/pauli.py") continue;
    for (const auto& w : f.why) {
      if (w.name == "path" && w.detail.find("module lib.pauli") != std::string::npos) half = w.score < 1.5 * 0.9;
    }
  }
  CHECK(half);
}
