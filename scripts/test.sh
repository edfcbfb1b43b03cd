#!/usr/bin/env bash
# Runs every test: the dev build (gcc, warnings are errors) with the whole CTest suite, the
# AddressSanitizer+UBSan build (clang) with its tests and the libFuzzer targets it also builds,
# each fuzzed for a bounded time, and the ThreadSanitizer build (gcc) with its tests. The dev suite includes a smoke run of the benchmarks (--quick) and the find_package
# consumer test. Installs missing Debian packages first and
# starts/stops any service the tests need itself.
#
#   scripts/test.sh            everything
#   scripts/test.sh dev        only the dev build and its tests (quick iteration)
#
# Each build is a unity build (CMake's CMAKE_UNITY_BUILD: up to eight source files of a target
# compiled as one), which takes a cold build on 2 cores from 7 to 4 minutes; the presets
# themselves stay per-file, for quick incremental builds.
#
# Environment: STRATA_FUZZ_SECONDS (per fuzz target, default 15); STRATA_UNITY_BUILD=OFF builds
# file by file instead (slower cold, and it also checks that each source file includes what it
# uses).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-debian.sh
export STRATA_COMPILER_LAUNCHER="${STRATA_COMPILER_LAUNCHER:-$(command -v ccache || true)}"
jobs=$(nproc)
stages="${1:-all}"
started=$(date +%s)

unity="-DCMAKE_UNITY_BUILD=${STRATA_UNITY_BUILD:-ON}"

stage() { printf '\n=== %s (%ss elapsed)\n' "$1" "$(( $(date +%s) - started ))"; }

stage "dev build"
cmake --preset dev "$unity" >/dev/null
cmake --build --preset dev -j "$jobs"
stage "dev tests"
# Twice as many tests as cores: the interop, package and benchmark-smoke tests spend much of
# their time waiting on Node, Chromium, redis-server or a child build, and the stage took
# 176 s at -j2 against 134 s at -j4 (warm, on this 2-core machine). The sanitizer stages
# below are CPU-bound (ASan: 111 s at -j2, 101 s at -j4) and keep one test per core.
ctest --preset dev -j "$(( jobs * 2 ))"

if [[ "$stages" == "dev" ]]; then exit 0; fi

stage "asan+ubsan build"
cmake --preset asan "$unity" >/dev/null
cmake --build --preset asan -j "$jobs"
stage "asan+ubsan tests"
# The sanitizer runs cover the library's own tests; the package, benchmark smoke and
# third-party-client (interop) tests run once, in the dev build.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --preset asan -j "$jobs" -LE "package|bench|interop"

stage "fuzzing"
# The asan tree builds the fuzz targets too (one clang build serves both); the `fuzz` preset
# is an optimised build of the same targets for longer fuzzing sessions.
tests/fuzz/run_fuzzers.sh build/asan "${STRATA_FUZZ_SECONDS:-15}"

stage "tsan build"
cmake --preset tsan "$unity" >/dev/null
cmake --build --preset tsan -j "$jobs"
stage "tsan tests"
# The examples (and their smoke tests, label example) are built and run in the dev and ASan
# stages only (the tsan preset turns them off).
ctest --preset tsan -j "$jobs" -LE "package|bench|interop|example"

stage "all passed"
