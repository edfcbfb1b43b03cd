#!/bin/sh
# The strata-context command line end to end on a small repository: ingest with progress,
# query and pack, substring search (--substring-index, --substring), and its clear errors.
#   strata_context_cli_test.sh <path to strata-context>
set -u
cli=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }

mkdir -p "$work/repo/src"
cat > "$work/repo/src/list.c" <<'C'
void unlink_node(struct node* x) {
  x->next = NULL;
}
C
cat > "$work/repo/src/sale.py" <<'PY'
def banner():
    return "rate is 50% off_now"
PY
index="$work/ctx.db"

out=$("$cli" ingest "$work/repo" --index "$index" --quiet --no-history) || fail "ingest exited $?"
echo "$out" | grep -q "2 added" || fail "ingest did not report 2 added: $out"

out=$("$cli" query "unlink node" --index "$index") || fail "query exited $?"
echo "$out" | grep -q "src/list.c" || fail "query did not rank src/list.c: $out"

# Substring search needs the index built once.
err=$("$cli" query "banner" --index "$index" --substring "off_now" 2>&1 >/dev/null)
[ $? -eq 1 ] || fail "--substring without the index did not exit 1"
echo "$err" | grep -q "substring_index" || fail "the error does not say what to turn on: $err"

out=$("$cli" stats --index "$index" --substring-index) || fail "stats --substring-index exited $?"
out=$("$cli" query "banner" --index "$index" --substring "50% off_now") || fail "substring query exited $?"
echo "$out" | grep -q "src/sale.py" || fail "substring query missed src/sale.py: $out"
echo "$out" | grep -q "src/list.c" && fail "substring query returned a file without the text: $out"
echo "$out" | grep -q "substring" || fail "the signal is not shown: $out"

# The index keeps the substring index after an ingest without the flag.
printf 'def later():\n    return "x->prev"\n' > "$work/repo/src/later.py"
"$cli" ingest "$work/repo" --index "$index" --quiet --no-history > /dev/null || fail "second ingest exited $?"
out=$("$cli" query "later" --index "$index" --substring "x->prev") || fail "query after re-ingest exited $?"
echo "$out" | grep -q "src/later.py" || fail "the new file is not in the substring index: $out"

out=$("$cli" pack "unlink" --index "$index" --budget 400 --substring "x->next") || fail "pack exited $?"
echo "$out" | grep -q "src/list.c" || fail "the packet does not cite src/list.c: $out"

err=$("$cli" query "banner" --index "$index" --substring "ab" 2>&1 >/dev/null)
[ $? -eq 1 ] || fail "a 2-character substring was not refused"
echo "$err" | grep -q "INVALID_ARGUMENT\|invalid" || fail "no clear error for a short substring: $err"

"$cli" query "banner" --index "$index" --substring > /dev/null 2>&1
[ $? -eq 2 ] || fail "--substring without a value did not print usage (exit 2)"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "strata-context CLI: all checks passed"
