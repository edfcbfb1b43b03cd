#!/usr/bin/python3
"""A local stand-in for a Jira site (Cloud or Data Center) used by tests/context/jira_live_test.cpp.

Answers GET /rest/api/{2,3}/search (startAt/maxResults/total), GET /rest/api/3/search/jql
(nextPageToken/isLast) and GET /rest/api/{2,3}/issue/{id|key}/comment?startAt= in Jira's
formats: v2 bodies are strings and accounts have "name"; v3 bodies are Atlassian Document
Format and accounts have "accountId". Pages hold at most 2 issues or 2 comments whatever
maxResults asks (Jira caps pages too). The JQL understood is the subset the connector writes:
project in ("A","B"), updated >= "yyyy/MM/dd HH:mm" (UTC), ORDER BY created.
Faults, each once: a 429 with Retry-After: 2 on the search page at startAt=2; a 503 at
startAt=4; a 429 whose Retry-After is an HTTP date 3 s ahead on the first /search/jql page; a
truncated body (Content-Length not reached) on ACME-2's comments at startAt=2; a garbled 200
body (HTML) on ACME-2's comments at startAt=4.
Credentials: "Basic base64(me@acme.com:api-token)" or "Bearer pat-dc"; anything else is a 401.
Test control (no credentials): /_control/touch?key=K&updated=T[&comment=ID] changes an issue
(and adds a comment), /_control/new?key=K&id=N&updated=T adds one.
Usage: jira_api_server.py <port-file> <log-file>; writes the port, logs "GET PATH AUTH".
"""
import base64
import calendar
import email.utils
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

port_file, log_file = sys.argv[1], sys.argv[2]
lock = threading.Lock()
seen = set()
GOOD_AUTH = {"Basic " + base64.b64encode(b"me@acme.com:api-token").decode(), "Bearer pat-dc"}
PAGE = 2


def once(key):
    with lock:
        if key in seen:
            return False
        seen.add(key)
        return True


def ms_of(jira_time):
    """2024-03-05T10:00:00.000+0000 -> epoch ms (UTC offsets are +0000 here)."""
    t = time.strptime(jira_time[:19], "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(t) * 1000 + int(jira_time[20:23])


def comment(cid, who, text, created):
    return {"id": str(cid), "author": who, "body": text, "created": created, "updated": created}


def person(name):
    return {"name": name, "accountId": "acc-" + name, "displayName": name.title()}


def issue(iid, key, summary, description, created, updated, security=None, links=None, comments=None, status="Open"):
    return {"id": str(iid), "key": key, "summary": summary, "description": description, "created": created,
            "updated": updated, "security": security, "links": links or [], "comments": comments or [],
            "status": status, "project": key.split("-")[0]}


ISSUES = [
    issue(10001, "ACME-1", "Login fails with SSO", "The SSO callback drops the session cookie.",
          "2024-03-01T09:00:00.000+0000", "2024-03-05T10:00:00.000+0000",
          comments=[comment(1, "alice", "Reproduced on staging.", "2024-03-01T10:00:00.000+0000")]),
    issue(10002, "ACME-2", "Retry storms on deploy", "Clients retry without jitter.",
          "2024-03-02T09:00:00.000+0000", "2024-03-05T10:02:00.000+0000",
          comments=[comment(20 + n, "bob" if n % 2 else "carol", "Comment number %d on retries." % n,
                            "2024-03-02T1%d:00:00.000+0000" % n) for n in range(1, 6)]),
    issue(10003, "ACME-3", "Payroll export leaks salaries", "Confidential details.",
          "2024-03-03T09:00:00.000+0000", "2024-03-05T10:03:00.000+0000", security="Internal",
          comments=[comment(31, "dave", "Restricted comment.", "2024-03-03T10:00:00.000+0000")]),
    issue(10004, "ACME-4", "Cookie domain wrong", "Set the cookie on the parent domain.",
          "2024-03-04T09:00:00.000+0000", "2024-03-05T10:04:30.250+0000", links=["ACME-1"], status="Done"),
    issue(10005, "ACME-5", "Document the retry policy", "Write it down.",
          "2024-03-04T10:00:00.000+0000", "2024-03-05T10:05:30.000+0000"),
    issue(20001, "OPS-1", "Rotate the pager", "Not in scope.",
          "2024-03-01T08:00:00.000+0000", "2024-03-05T09:00:00.000+0000"),
]


def adf(text):
    return {"type": "doc", "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}


def render_account(name, version):
    p = person(name)
    return {"accountId": p["accountId"], "displayName": p["displayName"]} if version == 3 else \
        {"name": p["name"], "key": p["name"], "displayName": p["displayName"]}


def render_comment(c, version):
    return {"id": c["id"], "author": render_account(c["author"], version),
            "body": adf(c["body"]) if version == 3 else c["body"], "created": c["created"], "updated": c["updated"]}


def render_issue(i, version, base):
    comments = [render_comment(c, version) for c in i["comments"]]
    return {"id": i["id"], "key": i["key"], "self": "%s/rest/api/%d/issue/%s" % (base, version, i["id"]),
            "fields": {
                "summary": i["summary"],
                "description": adf(i["description"]) if version == 3 else i["description"],
                "status": {"name": i["status"]}, "resolution": {"name": "Fixed"} if i["status"] == "Done" else None,
                "issuetype": {"name": "Bug"}, "project": {"key": i["project"], "name": i["project"].title()},
                "security": {"id": "1", "name": i["security"]} if i["security"] else None,
                "created": i["created"], "updated": i["updated"],
                "reporter": render_account("alice", version), "assignee": render_account("bob", version),
                "issuelinks": [{"id": "9", "type": {"name": "Relates", "inward": "relates to", "outward": "relates to"},
                                "outwardIssue": {"key": k}} for k in i["links"]],
                "comment": {"comments": comments[:PAGE], "maxResults": PAGE, "total": len(comments), "startAt": 0},
            }}


def select(jql):
    m = re.search(r'project in \(([^)]*)\)', jql)
    projects = [p.strip().strip('"') for p in m.group(1).split(",")] if m else None
    m = re.search(r'updated >= "([^"]+)"', jql)
    since = calendar.timegm(time.strptime(m.group(1), "%Y/%m/%d %H:%M")) * 1000 if m else None
    with lock:
        out = [i for i in ISSUES if (projects is None or i["project"] in projects)
               and (since is None or ms_of(i["updated"]) >= since)]
    return sorted(out, key=lambda i: (i["created"], i["key"]))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_body(self, body, status=200, headers=None, content_type="application/json;charset=UTF-8"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, value, status=200, headers=None):
        self.send_body(json.dumps(value).encode(), status, headers)

    def do_GET(self):
        url = urlparse(self.path)
        q = parse_qs(url.query)
        path = url.path
        auth = self.headers.get("Authorization", "-")
        with lock:
            with open(log_file, "a") as f:
                f.write("GET %s %s\n" % (self.path, auth))
        if path.startswith("/_control/"):
            return self.control(path[10:], q)
        if auth not in GOOD_AUTH:
            return self.send_json({"errorMessages": ["You are not authenticated."], "errors": {}}, 401,
                                  {"WWW-Authenticate": 'Basic realm="protected-area"'})
        m = re.match(r"^/rest/api/([23])/(search|search/jql|issue/([^/]+)/comment)$", path)
        if not m:
            return self.send_json({"errorMessages": ["Not found"]}, 404)
        version = int(m.group(1))
        base = "http://127.0.0.1:%d" % self.server.server_address[1]
        limit = min(PAGE, int(q.get("maxResults", ["50"])[0]))
        if m.group(2) == "search":
            start = int(q.get("startAt", ["0"])[0])
            if start == 2 and once("search-429"):
                return self.send_json({"errorMessages": ["Rate limit exceeded."]}, 429,
                                      {"Retry-After": "2", "X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0"})
            if start == 4 and once("search-503"):
                return self.send_json({"errorMessages": ["Service unavailable"]}, 503)
            found = select(q.get("jql", [""])[0])
            return self.send_json({"expand": "schema,names", "startAt": start, "maxResults": limit, "total": len(found),
                                   "issues": [render_issue(i, version, base) for i in found[start:start + limit]]})
        if m.group(2) == "search/jql":
            if version != 3:
                return self.send_json({"errorMessages": ["Not found"]}, 404)
            if once("jql-429"):
                return self.send_json({"errorMessages": ["Rate limit exceeded."]}, 429,
                                      {"Retry-After": email.utils.formatdate(time.time() + 3, usegmt=True)})
            token = q.get("nextPageToken", ["tok-0"])[0]
            start = int(token[4:])
            found = select(q.get("jql", [""])[0])
            page = {"issues": [render_issue(i, version, base) for i in found[start:start + limit]],
                    "isLast": start + limit >= len(found)}
            if start + limit < len(found):
                page["nextPageToken"] = "tok-%d" % (start + limit)
            return self.send_json(page)
        ref = m.group(3)
        with lock:
            match = [i for i in ISSUES if ref in (i["id"], i["key"])]
        if not match:
            return self.send_json({"errorMessages": ["Issue does not exist or you do not have permission to see it."]}, 404)
        start = int(q.get("startAt", ["0"])[0])
        comments = [render_comment(c, version) for c in match[0]["comments"]]
        body = json.dumps({"startAt": start, "maxResults": limit, "total": len(comments),
                           "comments": comments[start:start + limit]}).encode()
        if match[0]["key"] == "ACME-2" and start == 2 and once("comments-truncated"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) + 400))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if match[0]["key"] == "ACME-2" and start == 4 and once("comments-garbled"):
            return self.send_body(b"<html><body>Proxy error</body></html>", 200, content_type="application/json")
        return self.send_body(body)

    def control(self, what, q):
        arg = lambda k: q.get(k, [""])[0]
        with lock:
            if what == "touch":
                for i in ISSUES:
                    if i["key"] == arg("key"):
                        i["updated"] = arg("updated")
                        i["summary"] += " (edited)"
                        if arg("comment"):
                            i["comments"].append(comment(arg("comment"), "erin", "A later comment.", arg("updated")))
            elif what == "new":
                ISSUES.append(issue(int(arg("id")), arg("key"), "New issue " + arg("key"), "Fresh.",
                                    arg("updated"), arg("updated")))
        return self.send_json({"ok": True})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
