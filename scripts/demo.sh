#!/usr/bin/env bash
# The main job: build strata and start the chat demo — strata's server, a browser chat page
# and a demo agent (canned words, no model) that streams answers into a durable session.
# Open the printed URL in two tabs; reload, go offline, press Stop: nothing is lost.
# Installs missing Debian packages first.
#
#   scripts/demo.sh                  build, start the chat demo on port 8080 (Ctrl-C stops)
#   scripts/demo.sh --port 0         ... on a free port (the URL is printed)
#   scripts/demo.sh --quickstart     the console quickstart instead (no browser needed)
#   scripts/demo.sh --nodes          two server nodes on one Redis (ports 8080 and 8081; the
#                                    demo agent runs on the first): ask in a tab on one, Stop
#                                    or reload in a tab on the other
#   scripts/demo.sh --smoke [--binary path/to/strata_chat_server]
#                                    start the server, check /healthz and the page, ask the
#                                    demo agent a question over HTTP, wait for run.completed
set -euo pipefail
cd "$(dirname "$0")/.."

mode=chat
port=8080
binary=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quickstart) mode=quickstart ;;
    --nodes) mode=nodes ;;
    --smoke) mode=smoke ;;
    --port) port="$2"; shift ;;
    --binary) binary="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

build() {
  scripts/setup-debian.sh --build
  cmake --preset release -DSTRATA_BUILD_EXAMPLES=ON >/dev/null
  cmake --build --preset release --target "$1"
}

if [[ $mode == quickstart ]]; then
  build strata_quickstart
  mkdir -p build/demo
  exec build/release/examples/strata_quickstart build/demo/quickstart.db
fi

if [[ $mode == nodes ]]; then
  build strata_chat_server
  command -v redis-server >/dev/null || scripts/setup-debian.sh
  dir="$PWD/build/demo/redis"
  mkdir -p "$dir"
  redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 --dir "$dir" \
    --appendonly yes --appendfsync always --save '' --loglevel warning &
  pids=($!)
  trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
  for _ in $(seq 100); do [[ -S $dir/redis.sock ]] && break; sleep 0.05; done
  url="unix://$dir/redis.sock"
  second=$((port == 0 ? 0 : port + 1))
  build/release/examples/strata_chat_server --port "$port" --redis "$url" &
  pids+=($!)
  build/release/examples/strata_chat_server --port "$second" --redis "$url" --no-agent &
  pids+=($!)
  cat <<MSG

  strata on two nodes sharing one Redis (append-only file in build/demo/redis).
  Node 1 (runs the DEMO agent): the first URL below; node 2 (no agent): the second.
  Ask in a tab on one node and watch the answer stream in a tab on the other; press Stop on
  node 2 and the agent on node 1 stops. Ctrl-C stops everything.

MSG
  wait
  exit 0
fi

if [[ $mode == chat ]]; then
  build strata_chat_server
  mkdir -p build/demo
  cat <<EOF

  strata chat demo — the agent is a DEMO agent: it streams canned words (no model).
  Open the URL below in two browser tabs. Ask something; while it answers, try:
    - Stop (every tab shows the run as stopped),
    - typing again (steers the answer),
    - reload, or DevTools > Network > Offline and back (it resumes where it was),
    - Ctrl-C here and start again (the conversation is in build/demo/chat.db).

EOF
  exec build/release/examples/strata_chat_server --port "$port" --db build/demo/chat.db
fi

# --- smoke -------------------------------------------------------------------------------
if [[ -z $binary ]]; then
  build strata_chat_server
  binary=build/release/examples/strata_chat_server
fi
command -v curl >/dev/null || { echo "smoke: curl is missing (apt-get install curl)" >&2; exit 1; }
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "smoke: FAILED: $*" >&2; echo "--- server output" >&2; cat "$work/out" "$work/err" >&2 || true; exit 1; }

"$binary" --port 0 --db "$work/chat.db" --delay-ms 5 >"$work/out" 2>"$work/err" &
server_pid=$!
url=""
for _ in $(seq 100); do
  url=$(sed -n 's/^listening on \(http[^ ]*\)$/\1/p' "$work/out")
  [[ -n $url ]] && break
  kill -0 "$server_pid" 2>/dev/null || fail "the server exited"
  sleep 0.1
done
[[ -n $url ]] || fail "no 'listening on' line within 10 s"
echo "smoke: server at $url"

# Each body is fetched whole before grep looks at it (grep -q in a pipe could cut curl off).
fetch() { curl -fsS --max-time 5 "$1"; }
body=$(fetch "${url}healthz") && grep -q '"status":"ok"' <<<"$body" || fail "/healthz"
body=$(fetch "$url") && grep -q 'app.js' <<<"$body" || fail "the page does not load app.js"
body=$(fetch "${url}app.js") && grep -q 'strata-client.js' <<<"$body" || fail "app.js does not import the client"
body=$(fetch "${url}strata-client.js") && grep -q 'export class StrataClient' <<<"$body" || fail "strata-client.js"
echo "smoke: /healthz, /, /app.js and /strata-client.js served"

append=$(curl -fsS --max-time 5 -X POST -H 'Content-Type: application/json' \
  -d '{"events":[{"type":"user.message","payload":{"text":"hello from the smoke test"}}],"producer":"smoke","producer_epoch":0,"seq":0}' \
  "${url}v1/sessions/demo/events") || fail "append"
echo "smoke: appended user.message: $append"

for _ in $(seq 200); do
  history=$(curl -fsS --max-time 5 "${url}v1/sessions/demo/events?after=0&limit=1000") || fail "history"
  if grep -q '"type":"run.completed"' <<<"$history"; then
    grep -q 'hello from the smoke test' <<<"$history" || fail "the answer does not echo the question"
    echo "smoke: the demo agent answered (run.completed in history)"
    echo "smoke: ok"
    exit 0
  fi
  sleep 0.1
done
fail "no run.completed within 20 s"
