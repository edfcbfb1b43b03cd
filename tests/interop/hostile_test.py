"""Hostile input over the wire (raw sockets): malformed handshakes, bad and giant frames,
unmasked frames, invalid UTF-8, slowloris headers, invalid and expired tokens. Each must get
a clear error or the right close code — while a well-behaved client (Python `websockets`)
keeps receiving its stream, every event exactly once and in order.

    /usr/bin/python3 hostile_test.py <strata_interop_server>
"""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import socket
import struct
import sys
import threading
import time

import websockets

from harness import Server, check_exactly_once, fail

KEY = "interop-test-key-0123456789abcdef-0123456789"
ALL_OPS = ["subscribe", "history", "append", "cancel", "steer", "presence"]
results = []  # (name, ok, detail)


def check(name, ok, detail=""):
    results.append((name, bool(ok), detail))


# --- raw HTTP / WebSocket helpers ------------------------------------------------------------

def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(s, pending=None):
    """Reads one HTTP response (head + Content-Length body). Returns (status, headers, body).
    `pending` (a bytearray) carries bytes read past this response over to the next call."""
    data = bytes(pending) if pending else b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return None, {}, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    if pending is not None:
        pending[:] = rest[length:]
    return status, headers, rest[:length] if length else rest


def request(port, raw):
    s = connect(port)
    try:
        s.sendall(raw)
        return read_response(s)
    finally:
        s.close()


def error_code(body):
    try:
        return json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def upgrade_request(path="/v1/ws", key=None, version="13", extra=""):
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n{extra}\r\n").encode()


def open_ws(port, token):
    s = connect(port)
    s.sendall(upgrade_request(f"/v1/ws?access_token={token}"))
    status, headers, rest = read_response(s)
    if status != 101:
        raise SystemExit(f"FAIL: upgrade refused: {status} {rest!r}")
    return s


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload) if length is None else length
    out = bytes([first])
    mbit = 0x80 if mask else 0
    if n < 126:
        out += bytes([mbit | n])
    elif n < 65536:
        out += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        out += bytes([mbit | 127]) + struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        out += key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    else:
        out += payload
    return out


def read_frames(s, timeout=5):
    """Reads server frames until a close frame or EOF. Returns (texts, close code or None)."""
    s.settimeout(timeout)
    buf = b""
    texts = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        while len(buf) >= 2:
            op = buf[0] & 0x0F
            n = buf[1] & 0x7F
            at = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n = struct.unpack("!H", buf[2:4])[0]
                at = 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n = struct.unpack("!Q", buf[2:10])[0]
                at = 10
            if len(buf) < at + n:
                break
            payload = buf[at:at + n]
            buf = buf[at + n:]
            if op == 0x8:
                return texts, struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            if op == 0x1:
                texts.append(payload.decode())
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            return texts, "reset"
        if not chunk:
            return texts, "eof"
        buf += chunk
    return texts, None


def ws_close_code(port, token, data):
    s = open_ws(port, token)
    try:
        s.sendall(data)
        return read_frames(s)[1]
    finally:
        s.close()


# --- tokens made here, independently of strata's signer ----------------------------------------

def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims, key=KEY, alg="HS256"):
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    if alg == "none":
        return f"{head}.{body}."
    sig = hmac.new(key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def claims(ops, sessions=("*",), ttl=300):
    return {"sub": "hostile", "exp": int(time.time()) + ttl,
            "grants": [{"sessions": list(sessions), "ops": list(ops)}]}


# --- the well-behaved client ------------------------------------------------------------------

def well_behaved(port, token, count, out):
    async def run():
        received = []
        async with websockets.connect(f"ws://127.0.0.1:{port}/v1/ws?access_token={token}") as ws:
            await ws.send(json.dumps({"op": "subscribe", "session": "calm", "from": 0}))
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 20))
                if msg.get("op") == "error" and msg.get("code") == "not_found":
                    await asyncio.sleep(0.05)
                    await ws.send(json.dumps({"op": "subscribe", "session": "calm", "from": 0}))
                    continue
                if msg.get("op") != "event":
                    continue
                e = msg["event"]
                received.append((e["offset"], e["type"], e["payload"].get("i")))
                if e["type"] == "interop.done":
                    return received
    try:
        out["received"] = asyncio.run(run())
    except Exception as e:  # reported by the main thread
        out["error"] = repr(e)


def main():
    binary = sys.argv[1]
    started = time.time()
    with Server(binary, "--auth-key", KEY, "--header-timeout-ms", "1500",
                "--max-body-bytes", "65536") as server:
        port = server.port
        good = jwt(claims(ALL_OPS))
        count = 3000
        server.start_stream("calm", count, 3000, token=good)  # ~9 s of events
        calm = {}
        calm_thread = threading.Thread(target=well_behaved, args=(port, good, count, calm))
        calm_thread.start()

        # HTTP parsing
        status, _, body = request(port, b"GARBAGE\r\n\r\n")
        check("malformed request line -> 400", status == 400, status)
        status, _, body = request(port, b"GET / HTTP/9.9\r\nHost: x\r\n\r\n")
        check("unknown HTTP version -> 4xx/505", status is not None and status >= 400, status)
        status, _, _ = request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        check("20 KB of headers -> 431", status == 431, status)
        status, _, _ = request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        check("header without a colon -> 400", status == 400, status)
        status, _, _ = request(port, (f"POST /v1/sessions/x/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {good}\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n").encode())
        check("chunked request body -> 411", status == 411, status)
        status, _, body = request(port, (f"POST /v1/sessions/x/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {good}\r\n"
                                         "Content-Length: 10000000\r\n\r\n").encode())
        check("10 MB body -> 413", status == 413, status)
        status, _, body = request(port, (f"POST /v1/sessions/x/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {good}\r\n"
                                         "Content-Length: 9\r\n\r\n{\"events\"").encode())
        check("truncated JSON body -> 400 invalid_argument",
              status == 400 and error_code(body) == "invalid_argument", (status, body))
        status, _, body = request(port, (f"GET /v1/sessions/%ZZ/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {good}\r\n\r\n").encode())
        check("bad percent-encoding -> 400", status == 400, (status, body))

        # Pipelined requests answered while the client does not read: every response must
        # come out whole and in order (writes must not interleave). Pages of ~1 MB, so the
        # server's writes back up and complete in pieces.
        blob = "x" * 50000
        for k in range(20):
            server.http("POST", "/v1/sessions/pipe/events",
                        {"type": "app.blob", "payload": {"k": k, "blob": blob}}, token=good)
        s = connect(port)
        n_pipe = 30
        s.sendall((f"GET /v1/sessions/pipe/events?after=0&limit=20 HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: Bearer {good}\r\n\r\n").encode() * n_pipe)
        time.sleep(0.5)
        whole = 0
        pending = bytearray()
        s.settimeout(10)
        try:
            for _ in range(n_pipe):
                status, _, body = read_response(s, pending)
                page = json.loads(body)
                if "events" not in page:
                    raise ValueError(f"{status} {body[:120]!r}")
                ks = [e["payload"]["k"] for e in page["events"]]
                if status == 200 and ks == list(range(20)):
                    whole += 1
        except (ValueError, KeyError, TypeError, IndexError, socket.timeout, AttributeError) as e:
            whole = f"{whole} ({type(e).__name__}: {str(e)[:80]})"
        s.close()
        check(f"{n_pipe} pipelined 1 MB history pages, read late -> all whole, in order",
              whole == n_pipe, whole)

        # Slowloris: a header trickling in is cut off after the header timeout.
        s = connect(port)
        t0 = time.time()
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        status = None
        try:
            for _ in range(40):
                s.sendall(b"X-a: b\r\n")
                time.sleep(0.25)
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.settimeout(5)
        try:
            status, _, _ = read_response(s)
        except (ConnectionResetError, socket.timeout):
            status = "reset"
        s.close()
        elapsed = time.time() - t0
        check("slowloris headers -> 408 within the timeout", status == 408 and elapsed < 5, (status, round(elapsed, 1)))

        # WebSocket handshakes
        status, _, _ = request(port, upgrade_request(f"/v1/ws?access_token={good}", key="short"))
        check("malformed Sec-WebSocket-Key -> 400", status == 400, status)
        status, headers, _ = request(port, upgrade_request(f"/v1/ws?access_token={good}", version="8"))
        check("Sec-WebSocket-Version 8 -> 426 + version header", status == 426 and headers.get("sec-websocket-version") == "13", status)
        status, _, _ = request(port, f"GET /v1/ws?access_token={good} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        check("plain GET on /v1/ws -> 426", status == 426, status)

        # Tokens
        expired = jwt(claims(ALL_OPS, ttl=-60))
        forged = jwt(claims(ALL_OPS), key="not-the-key-not-the-key-not-the-key!")
        none_alg = jwt(claims(ALL_OPS), alg="none")
        narrow = jwt(claims(["history"], sessions=("other-*",)))
        for name, tok in [("no token", None), ("garbage token", "abc.def"), ("expired token", expired),
                          ("forged signature", forged), ("alg none", none_alg)]:
            auth = f"Authorization: Bearer {tok}\r\n" if tok else ""
            status, _, body = request(port, f"GET /v1/sessions/calm HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
            check(f"{name} -> 401 unauthenticated", status == 401 and error_code(body) == "unauthenticated", (status, body[:80]))
            q = f"?access_token={tok}" if tok else ""
            status, _, _ = request(port, upgrade_request(f"/v1/ws{q}"))
            check(f"{name} on the WebSocket upgrade -> 401", status == 401, status)
        exists = request(port, f"GET /v1/sessions/calm/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {narrow}\r\n\r\n".encode())
        absent = request(port, f"GET /v1/sessions/no-such-session/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {narrow}\r\n\r\n".encode())
        check("no grant -> 403, same answer whether the session exists or not",
              exists[0] == 403 and absent[0] == 403 and exists[2] == absent[2], (exists[0], absent[0]))
        s = open_ws(port, narrow)
        s.sendall(frame(0x1, json.dumps({"op": "subscribe", "session": "calm", "id": "x"}).encode()))
        texts, _ = read_frames(s, timeout=1)
        s.close()
        reply = json.loads(texts[0]) if texts else {}
        check("WebSocket subscribe without the grant -> permission_denied",
              reply.get("op") == "error" and reply.get("code") == "permission_denied", texts[:1])

        # A WebSocket whose token expires is closed with 4401.
        short = jwt(claims(ALL_OPS, ttl=2))
        s = open_ws(port, short)
        t0 = time.time()
        _, code = read_frames(s, timeout=6)
        s.close()
        check("token expiring on an open WebSocket -> 4401", code == 4401, (code, round(time.time() - t0, 1)))

        # WebSocket frames
        check("unmasked client frame -> 1002", ws_close_code(port, good, frame(0x1, b'{"op":"ping"}', mask=False)) == 1002)
        check("invalid UTF-8 text -> 1007", ws_close_code(port, good, frame(0x1, b'{"op":"\xff\xfe"}')) == 1007)
        check("overlong UTF-8 (C0 80) -> 1007", ws_close_code(port, good, frame(0x1, b'"\xc0\x80"')) == 1007)
        check("giant frame header (2^40 bytes) -> 1009", ws_close_code(port, good, frame(0x1, b"", length=1 << 40)) == 1009)
        code = ws_close_code(port, good, frame(0x1, b"x" * 70000))
        check("frame over max message size -> 1009", code == 1009, code)
        code = ws_close_code(port, good, frame(0x1, b"a" * 40000, fin=False) + frame(0x0, b"a" * 40000))
        check("fragments adding up over the limit -> 1009", code == 1009, code)
        code = ws_close_code(port, good, frame(0x1, b"{}", rsv=4))
        check("RSV bits set -> 1002", code == 1002, code)
        code = ws_close_code(port, good, frame(0x3, b"{}"))
        check("reserved opcode -> 1002", code == 1002, code)
        code = ws_close_code(port, good, frame(0x9, b"p", fin=False))
        check("fragmented ping -> 1002", code == 1002, code)
        code = ws_close_code(port, good, frame(0x9, b"p" * 126))
        check("control frame over 125 bytes -> 1002", code == 1002, code)
        code = ws_close_code(port, good, frame(0x0, b"orphan"))
        check("continuation without a start -> 1002", code == 1002, code)
        code = ws_close_code(port, good, frame(0x2, b"\x00\x01"))
        check("binary message -> 1003", code == 1003, code)
        code = ws_close_code(port, good, frame(0x8, b"\x03\xe8" + b"\xff"))
        check("close with invalid UTF-8 reason -> 1007 or 1002", code in (1007, 1002), code)

        # Bad requests inside a good connection: error replies, the connection stays.
        s = open_ws(port, good)
        for bad in [b"not json", b"[1,2]", b'{"op":42}', b'{"op":"subscribe","session":"../x"}',
                    b'{"op":"nope"}', b'{"op":"subscribe","session":"calm","from":-1}',
                    b'{"op":"append","session":"x","events":[]}', b'{' * 100000]:
            s.sendall(frame(0x1, bad[:60000]))
        s.sendall(frame(0x1, b'{"op":"ping","id":"alive"}'))
        texts, code = read_frames(s, timeout=2)
        s.close()
        replies = [json.loads(t) for t in texts]
        errors = [r for r in replies if r.get("op") == "error"]
        check("bad requests -> error replies, then ping still answered",
              len(errors) == 8 and replies and replies[-1].get("op") == "pong" and code is None,
              (len(errors), replies[-1:] if replies else None, code))

        # Meanwhile, the calm client got everything.
        calm_thread.join(timeout=30)
        if "error" in calm or "received" not in calm:
            check("the well-behaved client kept its stream", False, calm.get("error", "no result"))
        else:
            problems = check_exactly_once(calm["received"], count)
            check("the well-behaved client got every event exactly once, in order", not problems, problems)
        status, body = server.http("GET", "/healthz")
        check("server still healthy", status == 200, status)
        alive = server.alive()
    check("server process alive until stopped", alive)

    width = max(len(n) for n, _, _ in results)
    failed = 0
    for name, ok, detail in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name.ljust(width)}  {'' if ok else detail}")
        failed += not ok
    if failed:
        fail(f"{failed} of {len(results)} hostile-input checks failed")
    print(f"ok: {len(results)} hostile-input checks passed in {time.time() - started:.1f} s")


if __name__ == "__main__":
    main()
