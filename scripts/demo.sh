#!/usr/bin/env bash
# The main job: build strata and run the quickstart demo (an agent streams into a durable
# session while a client drops and resumes, a second tab joins late, the user steers and
# stops the agent). Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-debian.sh --build
cmake --preset release -DSTRATA_BUILD_EXAMPLES=ON >/dev/null
cmake --build --preset release --target strata_quickstart
mkdir -p build/demo
exec build/release/examples/strata_quickstart build/demo/quickstart.db
