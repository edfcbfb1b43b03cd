#!/usr/bin/env python3
"""Writes the binary seeds of strata_fuzz_sqlite_open into corpus/sqlite_open/.

The seeds are small SQLite files (512-byte pages) with the schema of src/session/sqlite_store.cpp
(keep the two in step): a populated strata store, the same with an unsupported schema version,
a foreign SQLite database and a truncated store. The text seeds in that directory are written
by hand. Run from anywhere: python3 tests/fuzz/make_sqlite_seeds.py
"""
import os
import sqlite3

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "sqlite_open")

APPLICATION_ID = 0x53545241  # "STRA"
SCHEMA = """
CREATE TABLE sessions(
  sid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, epoch TEXT NOT NULL,
  head INTEGER NOT NULL, trimmed_through INTEGER NOT NULL,
  event_count INTEGER NOT NULL, bytes INTEGER NOT NULL,
  created_ms INTEGER NOT NULL, retention TEXT NOT NULL);
CREATE TABLE events(
  sid INTEGER NOT NULL, off INTEGER NOT NULL, type TEXT NOT NULL,
  producer TEXT NOT NULL, run_id TEXT NOT NULL, parent_run_id TEXT NOT NULL,
  message_id TEXT NOT NULL, payload TEXT NOT NULL, ts INTEGER NOT NULL,
  pepoch INTEGER NOT NULL, pseq INTEGER,
  PRIMARY KEY(sid, off)) WITHOUT ROWID;
CREATE TABLE producers(
  sid INTEGER NOT NULL, producer TEXT NOT NULL, epoch INTEGER NOT NULL,
  last_seq INTEGER, last_first INTEGER NOT NULL, last_last INTEGER NOT NULL,
  PRIMARY KEY(sid, producer)) WITHOUT ROWID;
CREATE TABLE leased(
  sid INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  expires_ms INTEGER NOT NULL, PRIMARY KEY(sid, kind, key)) WITHOUT ROWID;
"""

T0 = 1767225600000  # the fuzzer's FakeClock starts here (2026-01-01)

# (type, producer, run_id, parent_run_id, message_id, payload)
CHAT_EVENTS = [
    ("run.started", "assistant", "r1", "", "", '{"model":"m"}'),
    ("message.started", "assistant", "r1", "", "m1", '{"role":"assistant"}'),
    ("message.delta", "assistant", "r1", "", "m1", '{"text":"Hel"}'),
    ("message.delta", "assistant", "r1", "", "m1", '{"text":"lo"}'),
    ("message.completed", "assistant", "r1", "", "m1", '{"role":"assistant","text":"Hello"}'),
    ("run.started", "worker", "r2", "r1", "", "{}"),
    ("run.steer", "user-1", "r2", "", "", '{"input":"go on","by":"user-1"}'),
    ("message.started", "worker", "r2", "r1", "m2", '{"role":"tool"}'),
    ("message.delta", "worker", "r2", "r1", "m2", '{"text":"partial"}'),
    ("presence.joined", "alice", "", "", "", '{"client_id":"alice","device":"ab","kind":"client"}'),
    ("tool.call", "assistant", "r1", "", "", '{"name":"search","args":[1,2]}'),
]


def byte_size(event):
    return 48 + sum(len(field.encode()) for field in event)


def populate(db, user_version):
    db.execute("PRAGMA page_size=512")
    db.executescript("BEGIN;" + SCHEMA + "COMMIT;")
    db.execute(f"PRAGMA user_version={user_version}")
    db.execute(f"PRAGMA application_id={APPLICATION_ID}")
    sessions = [
        (1, "chat/1", "0123456789abcdef0123456789abcdef", CHAT_EVENTS, "0,0,0,1", 0),
        (2, "chat/2", "fedcba9876543210fedcba9876543210", CHAT_EVENTS[:5], "0,2,0,1", 1),
    ]
    with db:
        for sid, sid_name, epoch, events, retention, skip in sessions:
            kept = events[skip:]
            db.execute(
                "INSERT INTO sessions VALUES(?,?,?,?,?,?,?,?,?)",
                (sid, sid_name, epoch, len(events), skip, len(kept),
                 sum(byte_size(e) for e in kept), T0 - 5000, retention))
            for i, e in enumerate(events, start=1):
                if i <= skip:
                    continue
                db.execute("INSERT INTO events VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                           (sid, i, e[0], e[1], e[2], e[3], e[4], e[5], T0 - 5000 + i, 0,
                            None))
        db.execute("INSERT INTO producers VALUES(1,'assistant',0,NULL,1,1)")
        db.execute("INSERT INTO producers VALUES(1,'worker',3,7,8,9)")
        db.execute("INSERT INTO leased VALUES(1,'presence','alice',"
                   "'{\"device\":\"ab\",\"kind\":\"client\",\"since_ms\":1,\"lease_ms\":30000}',?)",
                   (T0 + 30000,))
        db.execute("INSERT INTO leased VALUES(1,'presence','bob','{\"device\":\"cd\"}',?)",
                   (T0 - 1,))
        db.execute("INSERT INTO leased VALUES(1,'lease','r2','{}',?)", (T0 - 1,))
        db.execute("INSERT INTO leased VALUES(2,'lease','r1','{}',?)", (T0 + 60000,))
    db.execute("PRAGMA journal_mode=WAL")


def make(name, build):
    path = os.path.join(OUT, name)
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    build(db)
    db.close()
    return path


def main():
    os.makedirs(OUT, exist_ok=True)
    store = make("strata_store.db", lambda db: populate(db, 1))
    make("strata_schema_v2.db", lambda db: populate(db, 2))

    def foreign(db):
        db.execute("PRAGMA page_size=512")
        db.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)")
        db.execute("INSERT INTO notes(body) VALUES('not a strata store')")
    make("foreign.db", foreign)

    with open(store, "rb") as f:
        head = f.read(1536)
    with open(os.path.join(OUT, "strata_store_truncated.db"), "wb") as f:
        f.write(head)


if __name__ == "__main__":
    main()
