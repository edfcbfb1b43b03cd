#!/usr/bin/env bash
# Installs the Node packages the interop tests use (pinned in tests/interop/package.json) into
# <build>/test-data/node/, only if they are missing. Run by ctest as the fixture
# strata.interop.setup_node.
#   tests/interop/setup_node.sh <build dir>
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:?usage: setup_node.sh <build dir>}"
dest="$build/test-data/node"
command -v node >/dev/null || { echo "setup_node: node is missing (apt-get install nodejs)" >&2; exit 1; }
command -v npm >/dev/null || { echo "setup_node: npm is missing (apt-get install npm)" >&2; exit 1; }

installed() {
  node -e '
    const fs = require("fs"), path = require("path");
    const want = JSON.parse(fs.readFileSync(process.argv[1])).dependencies;
    for (const [name, version] of Object.entries(want)) {
      const file = path.join(process.argv[2], "node_modules", name, "package.json");
      if (!fs.existsSync(file) || JSON.parse(fs.readFileSync(file)).version !== version) process.exit(1);
    }' "$here/package.json" "$dest"
}

if installed; then
  echo "setup_node: pinned packages present in $dest"
  exit 0
fi
mkdir -p "$dest"
cp "$here/package.json" "$dest/package.json"
echo "setup_node: npm install into $dest"
(cd "$dest" && npm install --no-audit --no-fund --no-package-lock --loglevel=error)
installed || { echo "setup_node: the pinned versions did not install" >&2; exit 1; }
echo "setup_node: ok"
