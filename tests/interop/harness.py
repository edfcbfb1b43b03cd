"""Starts strata_interop_server for a test and talks plain HTTP to it (stdlib only)."""
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request


class Server:
    """The interop server as a child process; stops it on exit (with-statement)."""

    def __init__(self, binary, *args):
        if not binary or not os.access(binary, os.X_OK):
            raise SystemExit(f"FAIL: interop server binary not found: {binary!r}")
        self.proc = subprocess.Popen([binary, "--exit-on-stdin-eof", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        deadline = time.time() + 10
        self.port = None
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.match(r"listening on http://127\.0\.0\.1:(\d+)/", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.stop()
            raise SystemExit("FAIL: the interop server did not report its port")
        self.base = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def alive(self):
        return self.proc.poll() is None

    def http(self, method, path, body=None, token=None, timeout=10):
        """Returns (status, parsed JSON or text)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def start_stream(self, session, count, interval_us, token=None):
        status, body = self.http("POST", "/v1/sessions/control/events",
                                 {"type": "interop.start",
                                  "payload": {"session": session, "count": count,
                                              "interval_us": interval_us}}, token=token)
        if status != 200:
            raise SystemExit(f"FAIL: could not start the stream: {status} {body}")


def check_exactly_once(received, count):
    """received: list of (offset, type, i). Every tick 1..count once, in order, then done."""
    offsets = [r[0] for r in received]
    problems = []
    if any(b <= a for a, b in zip(offsets, offsets[1:])):
        bad = next(k for k, (a, b) in enumerate(zip(offsets, offsets[1:])) if b <= a)
        problems.append(f"offsets not strictly increasing at #{bad}: {offsets[bad]} then {offsets[bad + 1]}")
    ticks = [r[2] for r in received if r[1] == "interop.tick"]
    if ticks != list(range(1, count + 1)):
        seen = set()
        dups = sorted({t for t in ticks if t in seen or seen.add(t)})
        missing = sorted(set(range(1, count + 1)) - set(ticks))
        problems.append(f"ticks wrong: {len(ticks)} received, duplicates {dups[:10]}, missing {missing[:10]}")
    if not received or received[-1][1] != "interop.done":
        problems.append("the stream did not end with interop.done")
    return problems


def fail(message):
    print("FAIL:", message, file=sys.stderr)
    sys.exit(1)
