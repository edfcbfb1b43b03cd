#!/usr/bin/python3
"""A local stand-in for api.github.com used by tests/context/live_test.cpp.

Answers in GitHub's REST formats with the behaviours a live connector must survive:
Link-header pagination, 429 with Retry-After, 503, a truncated body, a rate-limit-exhausted
response (X-RateLimit-Remaining: 0), a repository that always fails (500), and one whose next
link leaves the site (acme/elsewhere).
Usage: github_api_server.py <port-file> <log-file> [<cert.pem> <key.pem>]. Binds 127.0.0.1 on
a free port (over TLS with the certificate given), writes the port to <port-file>, logs
"METHOD PATH AUTH" per request to <log-file>. /_test/* answers the HTTP client's own cases:
a 403 with an exhausted rate limit, a 429 with only X-RateLimit-Reset, a 429 asking for too
long a wait, an oversized body, 401, 403 and 418.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

port_file, log_file = sys.argv[1], sys.argv[2]
lock = threading.Lock()
seen = {}


def once(key):
    """True the first time `key` is asked about."""
    with lock:
        first = key not in seen
        seen[key] = True
        return first


def user(login):
    return {"login": login, "id": abs(hash(login)) % 100000, "type": "User"}


def pull(n, updated, author, body=""):
    return {"number": n, "title": "Pull %d" % n, "state": "open", "user": user(author), "body": body,
            "created_at": "2024-03-01T00:00:00Z", "updated_at": updated, "merged_at": None,
            "html_url": "https://github.com/acme/api/pull/%d" % n, "base": {"ref": "main"}, "head": {"ref": "f%d" % n}}


# Replies to the thread 100.000100 in C1 (a test adds one through /_control/slack_reply?ts=).
THREAD = [{"type": "message", "user": "U2", "text": "yes at 9", "ts": "100.500000", "thread_ts": "100.000100"}]

# Slack state the cursor tests change through /_control/slack_*: messages added per channel,
# a post armed to happen when another channel's history is read, channels made readable or
# failing, channels added to the listing, and a fixed Date header.
SLACK = {"extra": {}, "armed": {}, "joined": set(), "failing": set(), "channels": [], "date": "",
         "members": ["U1", "U2"]}

PULLS = [pull(3, "2024-03-05T00:00:00Z", "alice", "Fixes #4"), pull(2, "2024-03-04T00:00:00Z", "bob"),
         pull(1, "2024-03-01T00:00:00Z", "carol")]

# GitHub state a cursor test changes through /_control/github_edit_during_scan: when the
# issues listing is next read, pull 2 is edited (after the pulls listing passed it) and
# issue 4 is edited later still.
# "https" when the server answers over TLS (its Link headers name the scheme it serves).
SCHEME = ["http"]

GITHUB = {"edit_armed": False, "issue4_updated": "2024-03-02T00:00:00Z"}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send_json(self, value, status=200, headers=None):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def date_time_string(self, timestamp=None):
        with lock:
            fixed = SLACK["date"]
        return fixed or super().date_time_string(timestamp)

    def link(self, path, page, last):
        host = "%s://127.0.0.1:%d" % (SCHEME[0], self.server.server_address[1])
        if page >= last:
            return {}
        return {"Link": '<%s%s?page=%d&per_page=100>; rel="next", <%s%s?page=%d>; rel="last"' % (
            host, path, page + 1, host, path, last)}

    def do_GET(self):
        url = urlparse(self.path)
        q = parse_qs(url.query)
        page = int(q.get("page", ["1"])[0])
        path = url.path
        with lock:
            with open(log_file, "a") as f:
                f.write("GET %s %s\n" % (self.path, self.headers.get("Authorization", "-")))
        if path == "/_control/slack_reply":
            with lock:
                THREAD.append({"type": "message", "user": "U3", "text": "moved to 10", "ts": q["ts"][0],
                               "thread_ts": "100.000100"})
            return self.send_json({"ok": True})
        if path == "/_control/github_edit_during_scan":
            with lock:
                GITHUB["edit_armed"] = True
            return self.send_json({"ok": True})
        if path.startswith("/_test/"):
            return self.http_case(path[len("/_test/"):])
        if path.startswith("/_control/slack_"):
            return self.slack_control(path[len("/_control/slack_"):], q)
        if path.startswith("/api/"):
            return self.slack(path[5:], q)
        if path.startswith("/repos/broken/"):
            return self.send_json({"message": "Server Error"}, 500)
        if path == "/repos/acme/api":
            return self.send_json({"full_name": "acme/api", "private": True})
        if path == "/repos/acme/elsewhere/pulls":
            # A next link that names this server's address as a user name, and "localhost" as
            # the host: a client matching URLs by prefix would send its token there.
            port = self.server.server_address[1]
            return self.send_json([pull(9, "2024-03-09T00:00:00Z", "alice")], 200, {
                "Link": '<http://127.0.0.1:%d@localhost:%d%s?page=2>; rel="next"' % (port, port, path)})
        if path == "/repos/acme/api/pulls":
            if page == 2 and once("pulls-429"):
                return self.send_json({"message": "rate limited"}, 429, {"Retry-After": "3"})
            pages = [PULLS[0:2], PULLS[2:3]]
            return self.send_json(pages[page - 1] if page <= 2 else [], 200, self.link(path, page, 2))
        if path == "/repos/acme/api/pulls/1/reviews":
            if once("reviews-503"):
                return self.send_json({"message": "unavailable"}, 503)
            return self.send_json([{"id": 11, "user": user("dave"), "state": "APPROVED", "body": "ok",
                                    "submitted_at": "2024-03-01T01:00:00Z"}])
        if path == "/repos/acme/api/pulls/2/reviews":
            reviews = [[{"id": 21, "user": user("erin"), "state": "CHANGES_REQUESTED", "body": "no",
                         "submitted_at": "2024-03-04T01:00:00Z"}],
                       [{"id": 22, "user": user("erin"), "state": "APPROVED", "body": "yes",
                         "submitted_at": "2024-03-04T02:00:00Z"}]]
            return self.send_json(reviews[page - 1] if page <= 2 else [], 200, self.link(path, page, 2))
        if path == "/repos/acme/api/pulls/3/comments":
            body = json.dumps([{"id": 31, "user": user("bob"), "path": "src/a.cc", "line": 7, "body": "why",
                                "created_at": "2024-03-05T00:00:00Z"}]).encode()
            if once("comments-truncated"):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) + 500))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            return self.send_json(json.loads(body))
        if path == "/repos/acme/api/pulls/3/files":
            return self.send_json([{"filename": "src/a.cc", "status": "modified"}])
        if path == "/repos/acme/api/issues":
            with lock:
                if GITHUB["edit_armed"]:
                    GITHUB["edit_armed"] = False
                    PULLS[1] = pull(2, "2024-03-06T00:00:05Z", "bob", "edited during the scan")
                    GITHUB["issue4_updated"] = "2024-03-06T00:00:10Z"
                issue4_updated = GITHUB["issue4_updated"]
            issues = [{"number": 4, "title": "Crash on start", "state": "open", "user": user("frank"), "body": "",
                       "created_at": "2024-03-02T00:00:00Z", "updated_at": issue4_updated},
                      {"number": 3, "title": "Pull 3", "pull_request": {"url": "x"}, "user": user("alice"),
                       "updated_at": "2024-03-05T00:00:00Z"}]
            if "since" in q:
                issues = [i for i in issues if i["updated_at"] >= q["since"][0]]
            return self.send_json(issues, 200, {"X-RateLimit-Remaining": "0",
                                                "X-RateLimit-Reset": str(int(time.time()) + 2)})
        if path == "/repos/acme/api/issues/4/comments":
            return self.send_json([{"id": 41, "user": user("alice"), "body": "on it",
                                    "created_at": "2024-03-02T01:00:00Z"}])
        if path.startswith("/repos/acme/api/"):
            return self.send_json([])
        return self.send_json({"message": "Not Found"}, 404)


    def http_case(self, case):
        reset = str(int(time.time()) + 2)
        if case == "limited403":
            if once("limited403"):
                return self.send_json({"message": "API rate limit exceeded"}, 403,
                                      {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
            return self.send_json({"ok": True})
        if case == "reset429":
            if once("reset429"):
                return self.send_json({"message": "slow down"}, 429, {"X-RateLimit-Reset": reset})
            return self.send_json({"ok": True})
        if case == "long429":
            return self.send_json({"message": "come back later"}, 429, {"Retry-After": "1000"})
        if case == "big":
            return self.send_json({"blob": "x" * 300000})
        if case == "unauthorized":
            return self.send_json({"message": "Bad credentials"}, 401)
        if case == "forbidden":
            return self.send_json({"message": "Resource not accessible"}, 403)
        if case == "teapot":
            return self.send_json({"message": "I'm a teapot"}, 418)
        return self.send_json({"message": "Not Found"}, 404)

    def slack_control(self, what, q):
        """post?channel=&ts=[&when=<channel>] (now, or when <channel>'s history is next read),
        join?channel= (readable from now on), fail?channel=&on=1|0, channel?id= (listed from
        now on), date?value= (the Date header; empty: the real time), members?users=U1,U2 (the
        private channel G1's members)."""
        arg = lambda k: q.get(k, [""])[0]
        with lock:
            if what == "post":
                m = {"type": "message", "user": "U9", "text": "posted at " + arg("ts"), "ts": arg("ts")}
                if arg("when"):
                    SLACK["armed"].setdefault(arg("when"), []).append((arg("channel"), m))
                else:
                    SLACK["extra"].setdefault(arg("channel"), []).append(m)
            elif what == "join":
                SLACK["joined"].add(arg("channel"))
            elif what == "fail":
                (SLACK["failing"].add if arg("on") == "1" else SLACK["failing"].discard)(arg("channel"))
            elif what == "channel":
                SLACK["channels"].append({"id": arg("id"), "name": arg("id").lower(), "is_private": False})
            elif what == "date":
                SLACK["date"] = arg("value")
            elif what == "members":
                SLACK["members"] = [u for u in arg("users").split(",") if u]
            else:
                what = None
        if what is None:
            return self.send_json({"ok": False, "error": "unknown_control"}, 404)
        return self.send_json({"ok": True})

    def slack(self, method, q):
        """Slack Web API: cursor pagination, a 429, a channel the token is not in."""
        channel = q.get("channel", [""])[0]
        cursor = q.get("cursor", [""])[0]
        oldest = float(q.get("oldest", ["0"])[0])

        def msg(ts, user, text, **extra):
            m = {"type": "message", "user": user, "text": text, "ts": ts}
            m.update(extra)
            return m

        def page(key, items, next_cursor=""):
            return self.send_json({"ok": True, key: items, "has_more": bool(next_cursor),
                                   "response_metadata": {"next_cursor": next_cursor}})

        if method == "conversations.list":
            if not cursor:
                return page("channels", [{"id": "C1", "name": "general", "is_private": False}], "p2")
            with lock:
                added = list(SLACK["channels"])
            return page("channels", [{"id": "G1", "name": "secret", "is_private": True},
                                     {"id": "C2", "name": "nojoin", "is_private": False}] + added)
        if method == "conversations.members" and channel == "G1":
            with lock:
                members = list(SLACK["members"])
            return page("members", members)
        failing, joined, extra = False, False, []
        if method in ("conversations.history", "conversations.replies"):
            with lock:  # (send_json takes the lock for the Date header: answer after it)
                failing = channel in SLACK["failing"]
                extra = [m for m in SLACK["extra"].get(channel, []) if float(m["ts"]) > oldest]
                if method == "conversations.history" and not cursor:
                    for target, m in SLACK["armed"].pop(channel, []):
                        SLACK["extra"].setdefault(target, []).append(m)
                joined = channel in SLACK["joined"] or any(c["id"] == channel for c in SLACK["channels"])
        if failing:
            return self.send_json({"ok": False, "error": "not_in_channel"})
        if method == "conversations.history" and joined:
            return page("messages", extra)
        if method == "conversations.history":
            if channel == "C1":
                with lock:
                    replies = list(THREAD)
                root = msg("100.000100", "U1", "deploy tonight?", reply_count=len(replies),
                           latest_reply=replies[-1]["ts"])
                pages = {"": (extra + [root,
                               msg("101.000000", "U2", "release notes are up")], "h2"),
                         "h2": ([msg("102.000000", "U3", "rollback plan ready")], "")}
                items, nxt = pages.get(cursor, ([], ""))
                return page("messages", [m for m in items if float(m["ts"]) > oldest], nxt)
            if channel == "G1":
                if once("slack-429"):
                    return self.send_json({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": "2"})
                return page("messages", [m for m in [msg("200.000000", "U1", "secret plan")] if float(m["ts"]) > oldest])
            return self.send_json({"ok": False, "error": "not_in_channel"})
        if method == "conversations.replies" and channel == "C1":
            with lock:
                replies = list(THREAD)
            # The root comes first whatever oldest says (as Slack does); replies after oldest.
            return page("messages", [msg("100.000100", "U1", "deploy tonight?", reply_count=len(replies))] +
                        [r for r in replies if float(r["ts"]) > oldest])
        return self.send_json({"ok": False, "error": "unknown_method"})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if len(sys.argv) >= 5:  # <cert.pem> <key.pem>: answer over TLS
    import ssl
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    SCHEME[0] = "https"
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
