#!/usr/bin/env bash
# Installs what strata needs on Debian 12, only what is missing. Safe to run repeatedly.
#   scripts/setup-debian.sh          build + test dependencies
#   scripts/setup-debian.sh --build  only what building the library and demo needs
set -euo pipefail

build_packages=(build-essential cmake ninja-build pkg-config
  libasio-dev libfmt-dev nlohmann-json3-dev libsimdjson-dev libsqlite3-dev libssl-dev
  libhiredis-dev)
# libcurl: the Context Engine's live connectors (strata/context/live.h).
build_packages+=(libcurl4-openssl-dev)
# git: the Context Engine's history connector and its tests run the git command.
test_packages=(catch2 clang libclang-rt-14-dev sqlite3 openssl git
  redis-server redis-tools)
# Interop tests (tests/interop): third-party clients, the demo smoke test. npm comes with
# Debian's nodejs packaging as the separate package "npm"; NodeSource's nodejs bundles it.
test_packages+=(python3 python3-websockets chromium nodejs curl)
# ccache: scripts/test.sh compiles through it, so a second full run on the same machine
# recompiles only what changed.
test_packages+=(ccache)
if ! command -v npm >/dev/null; then test_packages+=(npm); fi

wanted=("${build_packages[@]}")
if [[ "${1:-}" != "--build" ]]; then
  wanted+=("${test_packages[@]}")
fi

missing=()
for package in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

# The tokenizer tests fetch their data with npm and compare against Node: Debian's nodejs and
# npm, unless a Node with npm is already installed (e.g. from NodeSource).
if [[ "${1:-}" != "--build" ]] && ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#wanted[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
