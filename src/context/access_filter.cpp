#include "context/access_filter.h"

#include "context/engine_impl.h"
#include "context/sqlite_util.h"

namespace strata::context::detail {

namespace {

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      static const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace

std::string access_clause(std::string_view table, int param) {
  return "EXISTS(SELECT 1 FROM json_each(?" + std::to_string(param) + ") AS who WHERE instr(" +
         std::string(table) + ".access, char(10) || who.value || char(10)) > 0)";
}

std::string principal_names_json(const Principal& principal) {
  std::string out = "[";
  append_json_string(out, kEveryone);
  auto add = [&](const std::string& name) {
    if (name.empty() || name.find('\n') != std::string::npos) return;
    out += ',';
    append_json_string(out, name);
  };
  add(principal.id);
  for (const auto& g : principal.groups) add(g);
  out += ']';
  return out;
}

VisibleFiles visible_files(const Catalog& catalog, const Principal& principal) {
  VisibleFiles v;
  v.lists.reserve(catalog.access_lists.size());
  for (const auto& list : catalog.access_lists) v.lists.push_back(may_read(list, principal) ? 1 : 0);
  for (const auto& f : catalog.files) {
    if (!v.may_read_file(f)) continue;
    ++v.count;
    v.tokens += f.tokens;
  }
  return v;
}

double visible_document_frequency(sqlite3* db, std::string_view term, const std::string& names_json,
                                  Corpus corpus) {
  const std::string sql =
      corpus == Corpus::kFiles
          ? "SELECT count(*) FROM files_fts JOIN files f ON f.id = files_fts.rowid"
            " WHERE files_fts MATCH ?1 AND " + access_clause("f", 2)
          : "SELECT count(*) FROM commits_fts JOIN commits c ON c.id = commits_fts.rowid"
            " WHERE commits_fts MATCH ?1 AND " + access_clause("c", 2);
  Stmt st(db, sql);
  if (!st.ok()) return -1;
  std::string q = "\"";
  for (char c : term) {
    if (c == '"') q += '"';
    q += c;
  }
  q += '"';
  st.bind(1, q).bind(2, names_json);
  if (st.step() != SQLITE_ROW) return -1;
  return static_cast<double>(st.int64(0));
}

}  // namespace strata::context::detail
