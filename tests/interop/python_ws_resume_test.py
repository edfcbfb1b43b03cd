"""Python `websockets` (Debian's python3-websockets) against strata's WebSocket endpoint:
the connection is dropped at random points many times while an appender streams events;
the client reconnects and resubscribes from the last offset it saw. Every event must arrive
exactly once and in order — the test does not deduplicate, so a repeat is a failure.

    /usr/bin/python3 python_ws_resume_test.py <strata_interop_server> [drops] [events]
"""
import asyncio
import json
import random
import sys
import time

import websockets

from harness import Server, check_exactly_once, fail

SESSION = "py-ws"


def slow(what, since):
    """Reports a step that took suspiciously long (the server should answer at once)."""
    took = time.time() - since
    if took > 2:
        print(f"slow: {what} took {took:.1f} s", file=sys.stderr)


async def run(server, drops_wanted, count):
    url = f"ws://127.0.0.1:{server.port}/v1/ws"
    received = []          # (offset, type, i)
    last, epoch = 0, None
    drops = aborts = closes = 0
    done = False
    started = time.time()
    rng = random.Random(int(time.time()))
    # Spread the drops over the stream: drop after a random number of events.
    mean_gap = max(2, count // (drops_wanted * 2))
    server.start_stream(SESSION, count, 2000)
    while not done:
        if time.time() - started > 40:
            fail(f"timed out after {drops} drops with {len(received)} events")
        t_connect = time.time()
        # max_queue=None: with a bounded queue a clean close() stalls behind unread events.
        async with websockets.connect(url, max_size=2**22, max_queue=None) as ws:
            slow(f"connect #{drops + 1}", t_connect)
            request = {"op": "subscribe", "session": SESSION, "from": last, "id": "s"}
            if epoch:
                request["epoch"] = epoch
            await ws.send(json.dumps(request))
            budget = rng.randint(1, 2 * mean_gap) if drops < drops_wanted else None
            got_here = 0
            while True:
                try:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                except asyncio.TimeoutError:
                    fail(f"nothing received for 10 s on connection {drops + 1} (subscribed from "
                         f"{last}, {got_here} events on it, {len(received)} in all)")
                op = msg.get("op")
                if op == "error":
                    if msg.get("code") == "not_found":  # the appender has not written yet
                        await asyncio.sleep(0.05)
                        break
                    fail(f"error reply: {msg}")
                if op == "closed":
                    fail(f"subscription closed: {msg}")
                if op == "subscribed":
                    if epoch and msg["epoch"] != epoch:
                        fail("epoch changed")
                    epoch = msg["epoch"]
                    continue
                if op != "event":
                    continue
                e = msg["event"]
                received.append((e["offset"], e["type"], e["payload"].get("i")))
                last = e["offset"]
                got_here += 1
                if e["type"] == "interop.done":
                    done = True
                    break
                if budget is not None and got_here >= budget:
                    drops += 1
                    if rng.random() < 0.7:
                        ws.transport.abort()   # the network dies: no close frame, RST
                        aborts += 1
                    else:
                        t_close = time.time()
                        await ws.close()        # a clean close mid-stream
                        slow(f"clean close after {got_here} events", t_close)
                        closes += 1
                    break
        await asyncio.sleep(rng.choice([0, 0, 0.01, 0.05]))
    return received, drops, aborts, closes, time.time() - started


def main():
    binary = sys.argv[1]
    drops_wanted = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    with Server(binary) as server:
        received, drops, aborts, closes, seconds = asyncio.run(run(server, drops_wanted, count))
        problems = check_exactly_once(received, count)
        if drops < drops_wanted:
            problems.append(f"only {drops} drops happened (wanted {drops_wanted})")
        if not server.alive():
            problems.append("the server died")
    if problems:
        fail("; ".join(problems))
    print(f"ok: {count} events exactly once and in order across {drops} drops "
          f"({aborts} aborted, {closes} closed) in {seconds:.1f} s")


if __name__ == "__main__":
    main()
