// Language-aware chunking: definitions, spans and signatures per language family.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "context/chunker.h"

using strata::context::Chunk;
using strata::context::ChunkKind;
using namespace strata::context::detail;

namespace {

const Chunk* find(const std::vector<Chunk>& chunks, const std::string& qualified) {
  for (const auto& c : chunks) {
    if (c.qualified_name == qualified) return &c;
  }
  return nullptr;
}

void check_invariants(const std::vector<Chunk>& chunks, int lines) {
  for (const auto& c : chunks) {
    CHECK(c.start_line >= 1);
    CHECK(c.start_line <= c.signature_end_line);
    CHECK(c.signature_end_line <= c.end_line);
    CHECK(c.end_line <= lines);
  }
}

}  // namespace

TEST_CASE("chunker: Python classes, methods, decorators, docstrings", "[context][chunker]") {
  const std::string src =
      "import os\n"                      // 1
      "\n"                               // 2
      "class Matrix(Base):\n"            // 3
      "    \"\"\"A matrix.\n"            // 4
      "\n"                               // 5
      "def not_a_def():\n"               // 6  (inside the docstring)
      "    \"\"\"\n"                     // 7
      "    @property\n"                  // 8
      "    def is_upper(self):\n"        // 9
      "        return all(\n"            // 10
      "            x for x in self)\n"   // 11
      "\n"                               // 12
      "    def shape(self,\n"            // 13
      "              full=False):\n"     // 14
      "        pass\n"                   // 15
      "\n"                               // 16
      "async def fetch(url):\n"          // 17
      "    def inner():\n"               // 18
      "        pass\n"                   // 19
      "    return inner\n"               // 20
      "X = 1\n";                         // 21
  auto chunks = chunk_source(src, "python");
  check_invariants(chunks, 21);
  const Chunk* cls = find(chunks, "Matrix");
  REQUIRE(cls != nullptr);
  CHECK(cls->kind == ChunkKind::kClass);
  CHECK(cls->start_line == 3);
  CHECK(cls->end_line == 15);
  CHECK(find(chunks, "not_a_def") == nullptr);
  const Chunk* up = find(chunks, "Matrix.is_upper");
  REQUIRE(up != nullptr);
  CHECK(up->kind == ChunkKind::kMethod);
  CHECK(up->start_line == 8);  // the decorator belongs to it
  CHECK(up->signature_end_line == 9);
  CHECK(up->end_line == 11);
  const Chunk* shape = find(chunks, "Matrix.shape");
  REQUIRE(shape != nullptr);
  CHECK(shape->signature_end_line == 14);
  const Chunk* fetch = find(chunks, "fetch");
  REQUIRE(fetch != nullptr);
  CHECK(fetch->kind == ChunkKind::kFunction);
  CHECK(fetch->end_line == 20);
  CHECK(find(chunks, "fetch.inner") == nullptr);  // functions inside functions stay inside
  // Top-level code between definitions is a block: the import and the trailing assignment.
  int blocks = 0;
  for (const auto& c : chunks) blocks += c.kind == ChunkKind::kBlock;
  CHECK(blocks == 2);
}

TEST_CASE("chunker: C and C++ functions, classes, namespaces, comments and strings", "[context][chunker]") {
  const std::string src =
      "#include <stdio.h>\n"                           // 1
      "// int commented(void) {\n"                     // 2
      "namespace app {\n"                              // 3
      "template <class T>\n"                           // 4
      "class Box : public Base {\n"                    // 5
      " public:\n"                                     // 6
      "  int size() const { return n_; }\n"            // 7
      "  const char* s = \"}{\";\n"                    // 8
      "};\n"                                           // 9
      "int Box::grow(int by) {\n"                      // 10
      "  if (by) { return by; }\n"                     // 11
      "  return 0;\n"                                  // 12
      "}\n"                                            // 13
      "}  // namespace app\n"                          // 14
      "static int add(int a,\n"                        // 15
      "               int b)\n"                        // 16
      "{\n"                                            // 17
      "  return a + b;\n"                              // 18
      "}\n"                                            // 19
      "struct point p = {1, 2};\n";                    // 20
  auto chunks = chunk_source(src, "cpp");
  check_invariants(chunks, 20);
  const Chunk* box = find(chunks, "app.Box");
  REQUIRE(box != nullptr);
  CHECK(box->kind == ChunkKind::kClass);
  CHECK(box->start_line == 4);
  CHECK(box->end_line == 9);
  const Chunk* size = find(chunks, "app.Box.size");
  REQUIRE(size != nullptr);
  CHECK(size->kind == ChunkKind::kMethod);
  CHECK(size->start_line == 6);  // the header starts after the previous statement
  CHECK(size->end_line == 7);
  const Chunk* grow = find(chunks, "app.Box.grow");
  REQUIRE(grow != nullptr);
  CHECK(grow->kind == ChunkKind::kMethod);
  CHECK(grow->start_line == 10);
  CHECK(grow->end_line == 13);
  const Chunk* add = find(chunks, "add");
  REQUIRE(add != nullptr);
  CHECK(add->kind == ChunkKind::kFunction);
  CHECK(add->start_line == 15);
  CHECK(add->signature_end_line == 17);
  CHECK(add->end_line == 19);
  CHECK(find(chunks, "commented") == nullptr);
  CHECK(find(chunks, "p") == nullptr);  // an initialiser is not a definition
}

TEST_CASE("chunker: JavaScript and TypeScript", "[context][chunker]") {
  const std::string src =
      "import x from 'y';\n"                          // 1
      "export class Store extends Base {\n"           // 2
      "  async load(id: string): Promise<void> {\n"   // 3
      "    const s = `${id}}`;\n"                     // 4
      "  }\n"                                         // 5
      "}\n"                                           // 6
      "export function render(el) {\n"                // 7
      "  return el;\n"                                // 8
      "}\n"                                           // 9
      "const handler = async (req, res) => {\n"       // 10
      "  res.end();\n"                                // 11
      "};\n"                                          // 12
      "describe('x', () => {\n"                       // 13
      "  it('works', () => {});\n"                    // 14
      "});\n"                                         // 15
      "interface Props { a: number }\n";              // 16
  auto chunks = chunk_source(src, "typescript");
  check_invariants(chunks, 16);
  REQUIRE(find(chunks, "Store") != nullptr);
  const Chunk* load = find(chunks, "Store.load");
  REQUIRE(load != nullptr);
  CHECK(load->kind == ChunkKind::kMethod);
  CHECK(load->end_line == 5);
  const Chunk* render = find(chunks, "render");
  REQUIRE(render != nullptr);
  CHECK(render->start_line == 7);
  const Chunk* handler = find(chunks, "handler");
  REQUIRE(handler != nullptr);
  CHECK(handler->kind == ChunkKind::kFunction);
  CHECK(handler->end_line == 12);
  CHECK(find(chunks, "describe") == nullptr);
  REQUIRE(find(chunks, "Props") != nullptr);
  CHECK(find(chunks, "Props")->kind == ChunkKind::kClass);
}

TEST_CASE("chunker: Go functions, methods and types", "[context][chunker]") {
  const std::string src =
      "package main\n"                                          // 1
      "type Server struct {\n"                                  // 2
      "  addr string\n"                                         // 3
      "}\n"                                                     // 4
      "func (s *Server) Handle(w Writer, r *Request) error {\n" // 5
      "  return nil\n"                                          // 6
      "}\n"                                                     // 7
      "func main() {\n"                                         // 8
      "  s := `raw { string`\n"                                 // 9
      "}\n";                                                    // 10
  auto chunks = chunk_source(src, "go");
  check_invariants(chunks, 10);
  const Chunk* server = find(chunks, "Server");
  REQUIRE(server != nullptr);
  CHECK(server->kind == ChunkKind::kClass);
  const Chunk* handle = find(chunks, "Server.Handle");
  REQUIRE(handle != nullptr);
  CHECK(handle->kind == ChunkKind::kMethod);
  CHECK(handle->start_line == 5);
  CHECK(handle->end_line == 7);
  const Chunk* main_fn = find(chunks, "main");
  REQUIRE(main_fn != nullptr);
  CHECK(main_fn->end_line == 10);
}

TEST_CASE("chunker: Rust items, impls, lifetimes and attributes", "[context][chunker]") {
  const std::string src =
      "#[derive(Debug)]\n"                                  // 1
      "pub struct Token<'a> {\n"                            // 2
      "    text: &'a str,\n"                                // 3
      "}\n"                                                 // 4
      "impl<'a> Display for Token<'a> {\n"                  // 5
      "    fn fmt(&self, f: &mut Formatter) -> Result {\n"  // 6
      "        let c = '{';\n"                              // 7
      "        Ok(())\n"                                    // 8
      "    }\n"                                             // 9
      "}\n"                                                 // 10
      "pub fn parse<'a>(s: &'a str) -> Vec<Token<'a>>\n"    // 11
      "where\n"                                             // 12
      "    'a: 'static,\n"                                  // 13
      "{\n"                                                 // 14
      "    vec![]\n"                                        // 15
      "}\n"                                                 // 16
      "mod tests {\n"                                       // 17
      "    fn helper() {}\n"                                // 18
      "}\n";                                                // 19
  auto chunks = chunk_source(src, "rust");
  check_invariants(chunks, 19);
  const Chunk* token = find(chunks, "Token");
  REQUIRE(token != nullptr);
  CHECK(token->kind == ChunkKind::kClass);
  CHECK(token->start_line == 1);
  CHECK(token->end_line == 4);
  const Chunk* fmt = find(chunks, "Token.fmt");
  REQUIRE(fmt != nullptr);
  CHECK(fmt->kind == ChunkKind::kMethod);
  CHECK(fmt->end_line == 9);
  const Chunk* parse = find(chunks, "parse");
  REQUIRE(parse != nullptr);
  CHECK(parse->signature_end_line == 14);
  CHECK(parse->end_line == 16);
  CHECK(find(chunks, "tests.helper") != nullptr);
}

TEST_CASE("chunker: Java classes, annotations, methods", "[context][chunker]") {
  const std::string src =
      "package a;\n"                                          // 1
      "@Entity(name = \"x\")\n"                               // 2
      "public class UserService implements Service {\n"      // 3
      "  @Override\n"                                         // 4
      "  public List<User> findAll(int limit) throws IOException {\n"  // 5
      "    for (int i = 0; i < limit; i++) { }\n"            // 6
      "    return null;\n"                                    // 7
      "  }\n"                                                 // 8
      "  private static final int MAX = 3;\n"                 // 9
      "  public UserService() { }\n"                          // 10
      "}\n";                                                  // 11
  auto chunks = chunk_source(src, "java");
  check_invariants(chunks, 11);
  const Chunk* cls = find(chunks, "UserService");
  REQUIRE(cls != nullptr);
  CHECK(cls->kind == ChunkKind::kClass);
  CHECK(cls->end_line == 11);
  const Chunk* find_all = find(chunks, "UserService.findAll");
  REQUIRE(find_all != nullptr);
  CHECK(find_all->start_line == 4);
  CHECK(find_all->end_line == 8);
  REQUIRE(find(chunks, "UserService.UserService") != nullptr);
}

TEST_CASE("chunker: degenerate input never crashes and keeps spans inside the file", "[context][chunker]") {
  for (const char* lang : {"python", "c", "cpp", "javascript", "typescript", "go", "rust", "java", ""}) {
    CHECK(chunk_source("", lang).empty());
    for (const std::string& src :
         {std::string("{{{{{{"), std::string("}}}}"), std::string("def\n"), std::string("class"),
          std::string("\"unterminated\n{"), std::string("/* open comment {"),
          std::string(100000, '{'), std::string(5000, '(') + "{", std::string("fn ("),
          std::string("func (\n"), std::string("'''\ndef x():\n"), std::string("\xff\xfe{\x00}", 5),
          std::string("a\nb\nc")}) {
      auto chunks = chunk_source(src, lang);
      check_invariants(chunks, count_lines(src));
    }
  }
  // A file without definitions is one file chunk.
  auto whole = chunk_source("just text\nmore\n", "");
  REQUIRE(whole.size() == 1);
  CHECK(whole[0].kind == ChunkKind::kFile);
  CHECK(whole[0].end_line == 2);
}
