#!/usr/bin/env bash
# run_fuzzers.sh <build-dir> <seconds-per-target>
#
# Runs every strata_fuzz_* binary in <build-dir>/tests/fuzz for <seconds-per-target> seconds
# on a temporary copy of its seed corpus (tests/fuzz/corpus/<name>/, so the repository is not
# modified), with its dictionary (tests/fuzz/<name>.dict) and extra libFuzzer flags
# (tests/fuzz/<name>.options: one flag a line, '#' starts a comment) when present. Prints one
# summary line per target and exits non-zero if any fuzzer found a crash, a sanitizer report,
# a timeout or an out-of-memory. The crashing inputs and logs of failed targets are kept and
# their paths printed.
#
#   cmake --preset fuzz && cmake --build build/fuzz -j2 && tests/fuzz/run_fuzzers.sh build/fuzz 20
#
# Environment: STRATA_FUZZ_JOBS, how many targets run at once (default: the number of cores).
set -uo pipefail

if [[ $# -ne 2 || ! "$2" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 <build-dir> <seconds-per-target>" >&2
  exit 2
fi
build_dir=$1
seconds=$2
fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin_dir="$build_dir/tests/fuzz"

shopt -s nullglob
binaries=()
for b in "$bin_dir"/strata_fuzz_*; do
  [[ -f "$b" && -x "$b" ]] && binaries+=("$b")
done
if [[ ${#binaries[@]} -eq 0 ]]; then
  echo "no strata_fuzz_* binaries in $bin_dir (configure with the fuzz preset and build)" >&2
  exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/strata-fuzz.XXXXXX")"
# Recoverable UBSan checks stop the run too, so libFuzzer reports them as crashes.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1"

# run_one <binary>: runs one fuzzer and writes its summary line(s) to $work/<name>.summary
# and "ok" or "failed" to $work/<name>.result.
run_one() {
  local bin=$1 name corpus artifacts log seeds args start rc fpid elapsed execs corpus_now found
  name="$(basename "$bin")"
  name="${name#strata_fuzz_}"
  corpus="$work/corpus/$name"
  artifacts="$work/artifacts/$name"
  log="$work/$name.log"
  mkdir -p "$corpus" "$artifacts"
  if [[ -d "$fuzz_dir/corpus/$name" ]]; then
    cp -R "$fuzz_dir/corpus/$name/." "$corpus/"
  fi
  seeds=$(find "$corpus" -type f | wc -l)
  args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
        -artifact_prefix="$artifacts/")
  [[ -f "$fuzz_dir/$name.dict" ]] && args+=(-dict="$fuzz_dir/$name.dict")
  if [[ -f "$fuzz_dir/$name.options" ]]; then
    while read -r flag; do
      [[ -n "$flag" && "$flag" != \#* ]] && args+=("$flag")
    done <"$fuzz_dir/$name.options"
  fi

  start=$SECONDS
  "$bin" "${args[@]}" "$corpus" >"$log" 2>&1 &
  fpid=$!
  wait "$fpid"
  rc=$?
  # fuzz_sqlite_open's scratch file, left behind when an input crashed it.
  rm -f "/tmp/strata_fuzz_sqlite_$fpid.db" "/tmp/strata_fuzz_sqlite_$fpid.db-"*
  elapsed=$((SECONDS - start))

  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n1)
  [[ -z "$execs" ]] && execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n1)
  [[ -z "$execs" ]] && execs="?"
  corpus_now=$(find "$corpus" -type f | wc -l)
  found=("$artifacts"/*)
  if [[ $rc -eq 0 && ${#found[@]} -eq 0 ]]; then
    printf '%-16s ok      %10s executions in %4ds, corpus %d -> %d inputs\n' \
      "$name" "$execs" "$elapsed" "$seeds" "$corpus_now" >"$work/$name.summary"
    echo ok >"$work/$name.result"
  else
    {
      printf '%-16s FAILED  %10s executions in %4ds, exit code %d\n' "$name" "$execs" "$elapsed" "$rc"
      for a in "${found[@]}"; do printf '    crashing input: %s\n' "$a"; done
      printf '    log: %s\n' "$log"
      grep -E '^(==[0-9]+== ?ERROR|SUMMARY|invariant violated|terminate called|  what\(\)|.*runtime error|.*disagrees|.*(accepts|rejects) )' "$log" \
        | head -n 8 | awk '{ print "    " $0 }'
    } >"$work/$name.summary"
    echo failed >"$work/$name.result"
  fi
}

# The targets run STRATA_FUZZ_JOBS at a time (default: one per core); each summary is printed
# as its target finishes.
jobs="${STRATA_FUZZ_JOBS:-$(nproc)}"
trap 'kill $(jobs -p) 2>/dev/null; echo "interrupted; work dir $work" >&2; exit 130' INT TERM
running=0
report() {
  local name
  for name in "$@"; do
    if [[ -f "$work/$name.result" && ! -f "$work/$name.reported" ]]; then
      cat "$work/$name.summary"
      touch "$work/$name.reported"
    fi
  done
}
names=()
for bin in "${binaries[@]}"; do
  name="$(basename "$bin")"
  names+=("${name#strata_fuzz_}")
  if (( running >= jobs )); then
    wait -n
    running=$((running - 1))
    report "${names[@]}"
  fi
  run_one "$bin" &
  running=$((running + 1))
done
wait
report "${names[@]}"

failed=0
for name in "${names[@]}"; do
  [[ "$(cat "$work/$name.result" 2>/dev/null)" == ok ]] || failed=1
done

if [[ $failed -eq 0 ]]; then
  rm -rf "$work"
  exit 0
fi
echo "some fuzzers failed; inputs and logs kept in $work" >&2
exit 1
