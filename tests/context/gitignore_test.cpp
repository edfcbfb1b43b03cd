// .gitignore semantics (gitignore(5)).
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "context/gitignore.h"

using strata::context::detail::GitignoreMatcher;

namespace {
GitignoreMatcher make(const std::string& text) {
  GitignoreMatcher m;
  m.add_patterns(text);
  return m;
}
}  // namespace

TEST_CASE("gitignore: names match at any depth, anchored patterns from the file's dir", "[context][gitignore]") {
  auto m = make("*.o\nbuild/\n/top.txt\ndocs/*.html\n");
  CHECK(m.match("a.o", false) == std::optional<bool>(true));
  CHECK(m.match("src/deep/a.o", false) == std::optional<bool>(true));
  CHECK(m.match("a.c", false) == std::nullopt);
  CHECK(m.match("build", true) == std::optional<bool>(true));
  CHECK(m.match("src/build", true) == std::optional<bool>(true));
  CHECK(m.match("build", false) == std::nullopt);  // dir-only pattern, a file named build
  CHECK(m.match("top.txt", false) == std::optional<bool>(true));
  CHECK(m.match("sub/top.txt", false) == std::nullopt);
  CHECK(m.match("docs/a.html", false) == std::optional<bool>(true));
  CHECK(m.match("docs/sub/a.html", false) == std::nullopt);  // '*' does not cross '/'
  CHECK(m.match("other/docs/a.html", false) == std::nullopt);
}

TEST_CASE("gitignore: negation, last match wins", "[context][gitignore]") {
  auto m = make("*.log\n!keep.log\n");
  CHECK(m.match("a.log", false) == std::optional<bool>(true));
  CHECK(m.match("keep.log", false) == std::optional<bool>(false));
  auto m2 = make("!keep.log\n*.log\n");
  CHECK(m2.match("keep.log", false) == std::optional<bool>(true));
}

TEST_CASE("gitignore: double stars", "[context][gitignore]") {
  auto m = make("**/logs\nfoo/**/bar\nout/**\n");
  CHECK(m.match("logs", true) == std::optional<bool>(true));
  CHECK(m.match("a/b/logs", true) == std::optional<bool>(true));
  CHECK(m.match("foo/bar", false) == std::optional<bool>(true));
  CHECK(m.match("foo/x/y/bar", false) == std::optional<bool>(true));
  CHECK(m.match("foo/xbar", false) == std::nullopt);
  CHECK(m.match("out/a/b.txt", false) == std::optional<bool>(true));
  CHECK(m.match("out", true) == std::nullopt);
}

TEST_CASE("gitignore: comments, escapes, classes, trailing spaces", "[context][gitignore]") {
  auto m = make("# comment\n\\#hash\n\\!bang\nfile[0-9].txt\nx[!a]y\nspace\\ \ntrail   \r\n");
  CHECK(m.match("# comment", false) == std::nullopt);
  CHECK(m.match("#hash", false) == std::optional<bool>(true));
  CHECK(m.match("!bang", false) == std::optional<bool>(true));
  CHECK(m.match("file7.txt", false) == std::optional<bool>(true));
  CHECK(m.match("filex.txt", false) == std::nullopt);
  CHECK(m.match("xby", false) == std::optional<bool>(true));
  CHECK(m.match("xay", false) == std::nullopt);
  CHECK(m.match("space ", false) == std::optional<bool>(true));
  CHECK(m.match("trail", false) == std::optional<bool>(true));
  CHECK(m.match("a?", false) == std::nullopt);
}

TEST_CASE("gitignore: hostile patterns stay fast and never crash", "[context][gitignore]") {
  // Many stars against a long non-matching name: no exponential backtracking.
  auto m = make(std::string(200, '*') + "x\n[\n[]\n[!]\n\\\n!\n/\n**\n" + std::string(5000, 'a') + "\n");
  const std::string name(4000, 'a');
  CHECK(m.match(name, false) == std::optional<bool>(true));  // '**' alone matches everything
  auto m2 = make(std::string(300, '*') + "x\n");
  CHECK(m2.match(std::string(3000, 'a'), false) == std::nullopt);
  CHECK(make("[").match("[", false) == std::optional<bool>(true));
  CHECK(make("").empty());
}
