// Reading a coding task: the identifiers, dotted names, paths, stack frames and words in it.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::context::detail {

struct StackFrame {
  std::string path;      // as written ("/usr/lib/python3/site-packages/sympy/core/basic.py")
  int line = 0;
  std::string function;  // "" when not given
};

struct WeightedTerm {
  std::string term;  // lowercase
  double weight = 1;
};

struct TaskAnalysis {
  // Index terms (as index_terms() makes them) with weights: code-like words and words of
  // the first line count more; English and language stop words are dropped.
  std::vector<WeightedTerm> terms;
  // Code identifiers (lowercase) with weights: words in backticks or code blocks, calls
  // `name(`, snake_case, camelCase, dotted names' parts.
  std::vector<WeightedTerm> identifiers;
  // Dotted names as written, lowercased ("sympy.printing.latex", "matrix.is_upper").
  std::vector<std::string> dotted;
  // Paths as written (with a '/' and an extension).
  std::vector<std::string> paths;
  std::vector<StackFrame> frames;
  // Import statements in the task's code ("from a.b import C, d", "import a.b as m"): the
  // modules (lowercase) and the (module, name) pairs they import.
  std::vector<std::string> imported_modules;
  std::vector<std::pair<std::string, std::string>> imported_names;
  // Names the task calls a class or object ("the Pow class", "Foo objects", and the class of
  // "AttributeError: 'Contains' object has no attribute ..."), lowercase.
  std::vector<std::string> class_words;
  // Capitalised words of the first line, lowercase ("Intersection should remove duplicates"
  // -> "intersection"); the ranking uses only those that name a class.
  std::vector<std::string> title_caps;
  // The task is about tests ("test", "pytest", "unit test" ...).
  bool about_tests = false;
};

TaskAnalysis analyze_task(std::string_view text);

}  // namespace strata::context::detail
