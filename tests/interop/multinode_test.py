"""Two strata server nodes in separate processes on one real redis-server.

Node A runs the demo agent; node B serves clients only (--no-agent). A Python `websockets`
client checks what users of a load-balanced deployment rely on:

  1. a question posted to B is answered by the agent on A; the client follows on B, its
     connection drops mid-answer, and it resumes on A: nothing missing, nothing repeated;
  2. Stop sent to B stops the agent on A (run.cancelled, no delta after it);
  3. node A is killed with SIGKILL mid-answer: the run ends as run.agent_lost, seen on B,
     written once;
  4. Redis is killed and restarted (appendonly, fsync always) while a producer appends through
     A with idempotent sequences and a client follows on B: every acknowledged event arrives
     exactly once, and both nodes keep serving.

    /usr/bin/python3 multinode_test.py <strata_chat_server> [redis-server]
"""
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import websockets

SESSION = "mn"


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


class Redis:
    """redis-server on a unix socket in a temporary directory, with an append-only file."""

    def __init__(self, binary, directory):
        self.binary, self.dir = binary, directory
        self.sock = os.path.join(directory, "redis.sock")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, "--port", "0", "--unixsocket", self.sock, "--unixsocketperm", "700",
             "--dir", self.dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "",
             "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(1)
                    s.connect(self.sock)
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        fail("redis-server did not come up")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Node:
    """strata_chat_server on Redis; stopped with SIGTERM (or killed)."""

    def __init__(self, binary, redis, *args):
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--redis", f"unix://{redis.sock}", "--session", SESSION,
             *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on http://127\.0\.0\.1:(\d+)/", line)
        if not m:
            self.stop()
            fail(f"node did not report its port: {line!r}")
        self.port = int(m.group(1))
        self.ws = f"ws://127.0.0.1:{self.port}/v1/ws"

    def http(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                     method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read().decode() or "null")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            return 0, str(e)

    def ask(self, text):
        status, body = self.http("POST", f"/v1/sessions/{SESSION}/events",
                                 {"events": [{"type": "user.message", "payload": {"text": text}}],
                                  "producer": "user-1"})
        if status != 200:
            fail(f"posting a question: {status} {body}")
        return body["last"]

    def history(self):
        events, after = [], 0
        while True:
            status, body = self.http("GET", f"/v1/sessions/{SESSION}/events?after={after}&limit=1000")
            if status != 200:
                fail(f"history: {status} {body}")
            if not body["events"]:
                return events
            events += body["events"]
            after = body["events"][-1]["offset"]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


class Follower:
    """One WebSocket subscription; remembers epoch and last offset for resuming elsewhere."""

    def __init__(self):
        self.events, self.last, self.epoch = [], 0, None

    async def follow(self, node, until, budget=None, timeout=20):
        """Reads events from `node` until `until(event)` is true or `budget` events arrived
        on this connection (then drops it without a close frame). True if `until` matched."""
        async with websockets.connect(node.ws, max_queue=None) as ws:
            request = {"op": "subscribe", "session": SESSION, "from": self.last}
            if self.epoch:
                request["epoch"] = self.epoch
            await ws.send(json.dumps(request))
            got = 0
            deadline = time.time() + timeout
            while True:
                left = deadline - time.time()
                if left <= 0:
                    fail(f"nothing matched within {timeout} s on :{node.port} "
                         f"(last offset {self.last})")
                try:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), left))
                except asyncio.TimeoutError:
                    continue
                op = msg.get("op")
                if op in ("error", "closed"):
                    fail(f"subscription on :{node.port}: {msg}")
                if op == "subscribed":
                    if self.epoch and msg["epoch"] != self.epoch:
                        fail("the epoch changed")
                    self.epoch = msg["epoch"]
                    continue
                if op != "event":
                    continue
                e = msg["event"]
                if e["offset"] <= self.last:
                    fail(f"offset {e['offset']} repeated or out of order after {self.last}")
                self.events.append(e)
                self.last = e["offset"]
                got += 1
                if until(e):
                    return True
                if budget is not None and got >= budget:
                    ws.transport.abort()  # the network dies: no close frame
                    return False


def check_against_history(received, history):
    """Everything the store still holds was received once; the rest are compacted deltas."""
    have = {e["offset"] for e in received}
    missing = [e["offset"] for e in history if e["offset"] not in have]
    if missing:
        fail(f"offsets never delivered: {missing[:10]}")
    retained = {e["offset"] for e in history}
    for e in received:
        if e["offset"] not in retained and e["type"] != "message.delta":
            fail(f"received offset {e['offset']} ({e['type']}) that the log does not hold")


def run_of(events, offset_after):
    for e in events:
        if e["offset"] > offset_after and e["type"] == "run.started":
            return e["run_id"]
    return None


async def scenario(chat_binary, redis):
    a = Node(chat_binary, redis, "--delay-ms", "10", "--run-lease-ms", "1500")
    b = Node(chat_binary, redis, "--no-agent")
    try:
        # 1. Ask on B, follow on B, drop, resume on A.
        client = Follower()
        asked = b.ask("what is a durable session?")
        await client.follow(b, lambda e: False, budget=25)
        first_leg = len(client.events)
        done = await client.follow(a, lambda e: e["type"] == "run.completed")
        if not done:
            fail("the answer did not complete")
        run1 = run_of(client.events, asked)
        if run1 is None:
            fail("the agent on A never started a run for the question asked on B")
        check_against_history(client.events, b.history())
        text = "".join(e["payload"].get("text", "")
                       for e in client.events
                       if e["type"] == "message.delta" and e.get("run_id") == run1)
        status, snap = a.http("GET", f"/v1/sessions/{SESSION}/snapshot")
        answer = [m for m in snap["messages"] if m["role"] == "assistant" and m["run_id"] == run1]
        if status != 200 or len(answer) != 1 or not text.endswith(answer[0]["text"]):
            fail("the text the client assembled is not the answer in the snapshot")
        print(f"ok 1: answer followed on B, dropped after {first_leg} events, resumed on A; "
              f"{len(client.events)} events exactly once")

        # 2. Stop on B stops the agent on A.
        asked = b.ask("tell me a long story")
        await client.follow(b, lambda e: e["type"] == "message.delta" and e["offset"] > asked
                            and e.get("message_id", "").startswith("msg"))
        run2 = run_of(client.events, asked)
        status, body = b.http("POST", f"/v1/sessions/{SESSION}/cancel",
                              {"run_id": run2, "reason": "user pressed stop"})
        if status != 200:
            fail(f"cancel on B: {status} {body}")
        await client.follow(a, lambda e: e["type"] == "run.cancelled" and e.get("run_id") == run2)
        time.sleep(0.3)  # the agent would have written several more deltas by now
        tail = [e for e in b.history() if e["offset"] > body["offset"] and e.get("run_id") == run2]
        if tail:
            fail(f"the agent on A went on after Stop from B: {[e['type'] for e in tail]}")
        status, snap = b.http("GET", f"/v1/sessions/{SESSION}/snapshot")
        state = [r["state"] for r in snap["runs"] if r["id"] == run2]
        if state != ["cancelled"]:
            fail(f"run state after Stop: {state}")
        print("ok 2: Stop sent to B stopped the agent on A; nothing written after run.cancelled")

        # 3. Node A dies mid-answer: agent-lost, written once, seen on B.
        asked = b.ask("and another one")
        await client.follow(b, lambda e: e["type"] == "message.delta" and e["offset"] > asked
                            and e.get("message_id", "").startswith("msg"))
        run3 = run_of(client.events, asked)
        a.kill()
        t_killed = time.time()
        await client.follow(b, lambda e: e["type"] == "run.agent_lost" and e.get("run_id") == run3,
                            timeout=20)
        lost = [e for e in b.history() if e["type"] == "run.agent_lost" and e.get("run_id") == run3]
        if len(lost) != 1:
            fail(f"{len(lost)} run.agent_lost events for the run of the dead node")
        print(f"ok 3: node A killed; B reported run.agent_lost once after "
              f"{time.time() - t_killed:.1f} s (lease 1.5 s)")

        # 4. Redis killed and restarted while a producer appends through A and a client
        #    follows on B.
        a = Node(chat_binary, redis, "--delay-ms", "10", "--run-lease-ms", "1500")
        acked, retries, seq = [], 0, 0
        follower = Follower()
        follower.last = b.history()[-1]["offset"]
        follower.epoch = client.epoch

        async def produce():
            nonlocal retries, seq
            killed, restart = False, None
            while seq < 300:
                status, body = await asyncio.to_thread(
                    a.http, "POST", f"/v1/sessions/{SESSION}/events",
                    {"events": [{"type": "app.tick", "payload": {"seq": seq}}],
                     "producer": "ticker", "producer_epoch": 1, "seq": seq})
                if status == 200:
                    acked.append(body["first"])
                    seq += 1
                    if seq == 100 and not killed:
                        # A crash while the producer keeps appending; back 0.5 s later.
                        redis.kill()
                        killed = True
                        loop = asyncio.get_running_loop()
                        restart = loop.run_in_executor(
                            None, lambda: (time.sleep(0.5), redis.start()))
                elif status in (503, 0):
                    retries += 1  # same sequence again: written once whatever happened
                    await asyncio.sleep(0.02)
                else:
                    fail(f"append during the outage: {status} {body}")
            await restart
            return True

        async def follow_ticks():
            reconnects = 0
            while True:
                try:
                    if await follower.follow(
                            b, lambda e: e["type"] == "app.tick" and e["payload"]["seq"] == 299,
                            timeout=30):
                        return reconnects
                except (websockets.ConnectionClosed, OSError):
                    reconnects += 1
                    await asyncio.sleep(0.05)

        _, reconnects = await asyncio.gather(produce(), follow_ticks())
        ticks = [e["offset"] for e in follower.events if e["type"] == "app.tick"]
        if ticks != acked:
            fail(f"the follower on B got {len(ticks)} ticks, {len(acked)} were acknowledged")
        history_ticks = [e["offset"] for e in b.history() if e["type"] == "app.tick"]
        if history_ticks != acked:
            fail("the log does not hold exactly the acknowledged ticks")
        if retries == 0:
            fail("the Redis outage was not seen by the producer")
        print(f"ok 4: Redis restarted mid-stream; {len(acked)} acknowledged appends exactly once "
              f"on B ({retries} retried during the outage, {reconnects} client reconnects)")
    finally:
        a.stop()
        b.stop()


def main():
    chat_binary = sys.argv[1]
    redis_binary = sys.argv[2] if len(sys.argv) > 2 else shutil.which("redis-server")
    if not redis_binary or not os.access(redis_binary, os.X_OK):
        fail("redis-server not found: apt-get install redis-server (scripts/setup-debian.sh)")
    directory = tempfile.mkdtemp(prefix="strata-multinode-")
    redis = Redis(redis_binary, directory)
    redis.start()
    try:
        asyncio.run(scenario(chat_binary, redis))
    finally:
        redis.kill()
        shutil.rmtree(directory, ignore_errors=True)
    print("ok: two nodes on one Redis behave as one")


if __name__ == "__main__":
    main()
