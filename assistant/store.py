"""The persistent chat memory: every message kept in one SQLite file (stdlib sqlite3, WAL), with session
summaries, a full-text index (FTS5, BM25 ranking) over both, and an audit log of what was forgotten.

Why plain SQLite: one file a user can copy, back up or delete; many readers and one writer at a time across
processes (WAL), and a message is durable when `add_message` returns (synchronous=FULL commits through the WAL),
so a reply is generated only after the user's message is safe. Nothing is pruned automatically.

Schema version `SCHEMA_VERSION` (PRAGMA user_version), documented in DATA_FORMAT.md:
- sessions(id TEXT PRIMARY KEY, created_at TEXT)
- messages(id INTEGER PRIMARY KEY, session_id, role, content, created_at, embedding BLOB NULL): `embedding` is
  a float32 vector from the chat model (assistant/embedding.py) for dense retrieval; two partial indexes over
  the ids with and without one keep "what is new since" and "what is left to embed" cheap at 100k messages
- summaries(id INTEGER PRIMARY KEY, session_id, first_message_id, last_message_id, message_count, summary,
  created_at): a summary covers the session's messages with first <= id <= last
- messages_fts, summaries_fts: FTS5 tables over `content` / `summary` (Porter stemming: "lives" finds "live"),
  kept in step by triggers
- audit(id INTEGER PRIMARY KEY, at, action, detail): counts and ids only, never content
Times are ISO 8601 UTC strings ("2026-12-04T13:24:19.123456+00:00"). Export and import: assistant/store_export.py.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

SCHEMA_VERSION = 2  # 2: the partial indexes over embedded / unembedded ids (a version 1 file is upgraded on open)
ROLES = ("system", "user", "assistant")
MAX_CONTENT_CHARS = 100_000  # a message longer than this is refused (the server also caps request bodies)
BUSY_TIMEOUT_MS = 10_000     # a second process waits this long for the write lock instead of failing
EXPORT_FORMAT = "miniature-memory-chat"

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content TEXT NOT NULL,
    created_at TEXT NOT NULL,
    embedding BLOB
);
CREATE INDEX IF NOT EXISTS messages_by_session ON messages(session_id, id);
CREATE INDEX IF NOT EXISTS messages_unembedded ON messages(id) WHERE embedding IS NULL;
CREATE INDEX IF NOT EXISTS messages_embedded ON messages(id) WHERE embedding IS NOT NULL;
CREATE TABLE IF NOT EXISTS summaries (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    first_message_id INTEGER NOT NULL,
    last_message_id INTEGER NOT NULL,
    message_count INTEGER NOT NULL,
    summary TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS summaries_by_session ON summaries(session_id, first_message_id);
CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(content, content='messages', content_rowid='id',
    tokenize='porter unicode61');
CREATE VIRTUAL TABLE IF NOT EXISTS summaries_fts USING fts5(summary, content='summaries', content_rowid='id',
    tokenize='porter unicode61');
CREATE TRIGGER IF NOT EXISTS messages_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER IF NOT EXISTS messages_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER IF NOT EXISTS summaries_ai AFTER INSERT ON summaries BEGIN
    INSERT INTO summaries_fts(rowid, summary) VALUES (new.id, new.summary);
END;
CREATE TRIGGER IF NOT EXISTS summaries_ad AFTER DELETE ON summaries BEGIN
    INSERT INTO summaries_fts(summaries_fts, rowid, summary) VALUES ('delete', old.id, old.summary);
END;
"""


class StoreError(ValueError):
    """A bad request to the store (unknown session, bad role, empty or oversized message, unreadable file)."""


@dataclass(frozen=True)
class Message:
    id: int
    session_id: str
    role: str
    content: str
    created_at: str


@dataclass(frozen=True)
class Summary:
    id: int
    session_id: str
    first_message_id: int
    last_message_id: int
    message_count: int
    summary: str
    created_at: str


@dataclass(frozen=True)
class SessionInfo:
    id: str
    created_at: str
    messages: int
    last_at: str | None


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat()


# Words that say nothing about what a message is about (function words, the greetings and memory requests of
# chat: "hi, do you remember ... again?", and the pieces FTS5 cuts contractions into: "what's" is "what" + "s",
# and a lone "s" matched every "it's"); a query made only of them keeps them all.
STOPWORDS = frozenset("""a an and are as at be but by can could did do does for from had has have he her his how i
i'm is it its me my of on or our she so than that the their them then there they this to us was we were what when
where which who why will with would you your yours hi hey hello please again remember remind tell know
s t m d ll re ve""".split())


def fts_query(text: str) -> str:
    """A safe FTS5 query for free text: its words (letters and digits) less stopwords, each quoted, joined by
    OR; '' when none. Quoting keeps FTS5 syntax in user text (AND, NEAR, *, quotes, colons) from being read
    as operators."""
    words = list(dict.fromkeys(re.findall(r"\w+", text.lower())))
    content = [w for w in words if w not in STOPWORDS] or words
    return " OR ".join(f'"{w}"' for w in content)


# A summarizer turns a session's messages into one summary text (see assistant/session_summary.py).
Summarizer = Callable[[list[Message]], str]


class MemoryStore:
    """One memory database. Open with `MemoryStore(path)` (created when missing); use as a context manager or
    call close(). `clock` returns the created_at string (tests pin it)."""

    def __init__(self, path: str | Path, clock: Callable[[], str] = utc_now):
        self.path = Path(path)
        self.clock = clock
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a folder, not a database file")
        try:
            self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = FULL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: not a usable memory database ({e})") from None

    # ----------------------------------------------------------------------------------------- set-up
    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema version {version}, newer than this program's "
                             f"{SCHEMA_VERSION}: update miniature-memory")
        if version == SCHEMA_VERSION:
            return
        names = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        ours = {"sessions", "messages", "summaries", "audit"}
        if any(n not in ours and not n.startswith(("messages_fts", "summaries_fts")) for n in names):
            raise StoreError(f"{self.path} is an SQLite file of another program (no memory schema)")
        # One script in one transaction; every statement is IF NOT EXISTS, so a second process that created the
        # schema at the same moment makes this a no-op instead of an error.
        self.db.executescript(f"BEGIN IMMEDIATE;\n{SCHEMA}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;")

    def _write(self):
        """A write transaction that takes the lock up front (BEGIN IMMEDIATE), so two writers queue instead of
        failing half-way."""
        return _Transaction(self.db)

    def transaction(self):
        """Many writes in one commit (`with store.transaction(): ...`): faster bulk loading, all or nothing."""
        return self._write()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "MemoryStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------- writing
    def new_session(self, session_id: str | None = None) -> str:
        """Create a session (id given, or the next free "s<number>") and return its id."""
        with self._write():
            if session_id is None:
                n = self.db.execute("SELECT count(*) FROM sessions").fetchone()[0] + 1
                while self._session_exists(f"s{n}"):
                    n += 1
                session_id = f"s{n}"
            elif not session_id or len(session_id) > 200:
                raise StoreError("a session id is 1 to 200 characters")
            elif self._session_exists(session_id):
                raise StoreError(f"session {session_id!r} already exists")
            self.db.execute("INSERT INTO sessions(id, created_at) VALUES (?, ?)", (session_id, self.clock()))
        return session_id

    def add_message(self, session_id: str, role: str, content: str) -> int:
        """Store one message (durable when this returns) and return its id."""
        if role not in ROLES:
            raise StoreError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
        if not isinstance(content, str) or not content.strip():
            raise StoreError("a message needs some text")
        if len(content) > MAX_CONTENT_CHARS:
            raise StoreError(f"a message is at most {MAX_CONTENT_CHARS:,} characters (got {len(content):,})")
        with self._write():
            if not self._session_exists(session_id):
                raise StoreError(f"no session {session_id!r}")
            cur = self.db.execute("INSERT INTO messages(session_id, role, content, created_at) VALUES (?, ?, ?, ?)",
                                  (session_id, role, content, self.clock()))
            return int(cur.lastrowid)

    def set_embedding(self, message_id: int, vector: bytes) -> None:
        """Attach a dense vector (float32 bytes) to a message, for dense retrieval."""
        self.set_embeddings([(message_id, vector)])

    def set_embeddings(self, pairs: list[tuple[int, bytes]]) -> None:
        """Attach dense vectors (message id, float32 bytes) in one transaction."""
        with self._write():
            self.db.executemany("UPDATE messages SET embedding = ? WHERE id = ?", [(v, i) for i, v in pairs])

    def unembedded(self, limit: int) -> list[Message]:
        """Up to `limit` messages that have no embedding yet, oldest first."""
        rows = self.db.execute("SELECT id, session_id, role, content, created_at FROM messages "
                               "WHERE embedding IS NULL ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [Message(*r) for r in rows]

    def forget_mark(self) -> int:
        """The id of the last audit line (0 when none): it changes whenever anything is forgotten."""
        return int(self.db.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()[0])

    def embedded_count(self) -> int:
        """How many messages have an embedding."""
        return int(self.db.execute("SELECT count(*) FROM messages WHERE embedding IS NOT NULL").fetchone()[0])

    def add_summary(self, session_id: str, first_id: int, last_id: int, text: str) -> int:
        """Store a summary of the session's messages first_id..last_id (the messages themselves stay)."""
        with self._write():
            count = self.db.execute("SELECT count(*) FROM messages WHERE session_id = ? AND id BETWEEN ? AND ?",
                                    (session_id, first_id, last_id)).fetchone()[0]
            if not count:
                raise StoreError(f"session {session_id!r} has no messages {first_id}..{last_id} to summarize")
            cur = self.db.execute(
                "INSERT INTO summaries(session_id, first_message_id, last_message_id, message_count, summary, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)", (session_id, first_id, last_id, count, text, self.clock()))
            return int(cur.lastrowid)

    # ---------------------------------------------------------------------------------------- reading
    def _session_exists(self, session_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is not None

    def has_session(self, session_id: str) -> bool:
        return self._session_exists(session_id)

    def sessions(self) -> list[SessionInfo]:
        """Every session, oldest first, with its message count and the time of its last message."""
        rows = self.db.execute(
            "SELECT s.id, s.created_at, count(m.id), max(m.created_at) FROM sessions s "
            "LEFT JOIN messages m ON m.session_id = s.id GROUP BY s.id ORDER BY s.rowid").fetchall()
        return [SessionInfo(*r) for r in rows]

    def messages(self, session_id: str | None = None, after_id: int = 0) -> list[Message]:
        """Messages in id order: of one session, or of all sessions; only those with id > after_id."""
        sql = "SELECT id, session_id, role, content, created_at FROM messages WHERE id > ?"
        args: tuple = (after_id,)
        if session_id is not None:
            sql += " AND session_id = ?"
            args += (session_id,)
        return [Message(*r) for r in self.db.execute(sql + " ORDER BY id", args)]

    def messages_by_id(self, ids: list[int]) -> list[Message]:
        if not ids:
            return []
        rows = self.db.execute("SELECT id, session_id, role, content, created_at FROM messages WHERE id IN "
                               f"({','.join('?' * len(ids))}) ORDER BY id", list(ids)).fetchall()
        return [Message(*r) for r in rows]

    def recent(self, session_id: str, n: int) -> list[Message]:
        """The last n messages of a session, oldest first."""
        rows = self.db.execute("SELECT id, session_id, role, content, created_at FROM messages WHERE session_id = ? "
                               "ORDER BY id DESC LIMIT ?", (session_id, n)).fetchall()
        return [Message(*r) for r in reversed(rows)]

    def summaries(self, session_id: str | None = None) -> list[Summary]:
        sql = "SELECT id, session_id, first_message_id, last_message_id, message_count, summary, created_at FROM " \
              "summaries"
        args: tuple = ()
        if session_id is not None:
            sql += " WHERE session_id = ?"
            args = (session_id,)
        return [Summary(*r) for r in self.db.execute(sql + " ORDER BY id", args)]

    def unsummarized(self, session_id: str) -> list[Message]:
        """The session's messages after the last one any of its summaries covers."""
        last = self.db.execute("SELECT max(last_message_id) FROM summaries WHERE session_id = ?",
                               (session_id,)).fetchone()[0] or 0
        return self.messages(session_id, after_id=last)

    def search_messages(self, text: str, k: int, exclude_session: str | None = None) -> list[tuple[Message, float]]:
        """Up to k messages best matching `text` by BM25 (FTS5), best first, with the score (higher is better)."""
        query = fts_query(text)
        if not query:
            return []
        sql = ("SELECT m.id, m.session_id, m.role, m.content, m.created_at, bm25(messages_fts) AS rank "
               "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid WHERE messages_fts MATCH ?")
        args: tuple = (query,)
        if exclude_session is not None:
            sql += " AND m.session_id != ?"
            args += (exclude_session,)
        rows = self.db.execute(sql + " ORDER BY rank LIMIT ?", args + (k,)).fetchall()
        return [(Message(*r[:5]), -float(r[5])) for r in rows]

    def search_summaries(self, text: str, k: int) -> list[tuple[Summary, float]]:
        query = fts_query(text)
        if not query:
            return []
        rows = self.db.execute(
            "SELECT s.id, s.session_id, s.first_message_id, s.last_message_id, s.message_count, s.summary, "
            "s.created_at, bm25(summaries_fts) AS rank FROM summaries_fts JOIN summaries s "
            "ON s.id = summaries_fts.rowid WHERE summaries_fts MATCH ? ORDER BY rank LIMIT ?", (query, k)).fetchall()
        return [(Summary(*r[:7]), -float(r[7])) for r in rows]

    def embeddings(self, after_id: int = 0) -> tuple[list[int], list[bytes]]:
        """(message ids, float32 vector bytes) of every message with an id above `after_id` that has an
        embedding, by id."""
        rows = self.db.execute("SELECT id, embedding FROM messages WHERE embedding IS NOT NULL AND id > ? "
                               "ORDER BY id", (after_id,)).fetchall()
        return [r[0] for r in rows], [r[1] for r in rows]

    def audit_log(self) -> list[tuple[str, str, str]]:
        return [tuple(r) for r in self.db.execute("SELECT at, action, detail FROM audit ORDER BY id")]

    # ---------------------------------------------------------------------------------------- forgetting
    def forget_message(self, message_id: int, summarizer: Summarizer | None = None) -> dict:
        return self._forget("message", [message_id], summarizer, f"message {message_id}")

    def forget_session(self, session_id: str, summarizer: Summarizer | None = None) -> dict:
        with self._write():  # one transaction: a kill leaves the whole session or none of it
            if not self._session_exists(session_id):
                raise StoreError(f"no session {session_id!r}")
            ids = [m.id for m in self.messages(session_id)]
            report = self._forget("session", ids, summarizer, f"session {session_id}")
            self.db.execute("DELETE FROM summaries WHERE session_id = ?", (session_id,))
            self.db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        return report

    def forget_all(self, summarizer: Summarizer | None = None) -> dict:
        """Forget every session (one audit line each); {"sessions": n, "messages": m} forgotten."""
        counts = {"sessions": 0, "messages": 0}
        for session in self.sessions():
            counts["messages"] += self.forget_session(session.id, summarizer)["messages"]
            counts["sessions"] += 1
        return counts

    def forget_matching(self, text: str, summarizer: Summarizer | None = None) -> dict:
        """Forget every message that matches all the words of `text` (FTS5, case-insensitive)."""
        words = re.findall(r"\w+", text.lower())
        if not words:
            raise StoreError("forget: the query has no words")
        query = " AND ".join(f'"{w}"' for w in dict.fromkeys(words))
        ids = [r[0] for r in self.db.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?", (query,))]
        return self._forget("query", ids, summarizer, f"a query of {len(words)} word(s)")

    def _forget(self, kind: str, ids: list[int], summarizer: Summarizer | None, what: str) -> dict:
        """Delete the messages, drop every summary that covered one of them and rebuild it from the messages
        left (when a summarizer is given and any are left); one audit line with counts and ids, no content."""
        with self._write():
            found = [r[0] for r in self.db.execute(
                f"SELECT id FROM messages WHERE id IN ({','.join('?' * len(ids))})", ids)] if ids else []
            hit = self.db.execute(
                "SELECT DISTINCT s.id, s.session_id, s.first_message_id, s.last_message_id FROM summaries s "
                "JOIN messages m ON m.session_id = s.session_id AND m.id BETWEEN s.first_message_id AND "
                f"s.last_message_id WHERE m.id IN ({','.join('?' * len(found))})", found).fetchall() if found else []
            self.db.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in found])
            rebuilt = 0
            for sid, session_id, first, last in hit:
                self.db.execute("DELETE FROM summaries WHERE id = ?", (sid,))
                left = [Message(*r) for r in self.db.execute(
                    "SELECT id, session_id, role, content, created_at FROM messages WHERE session_id = ? AND id "
                    "BETWEEN ? AND ? ORDER BY id", (session_id, first, last))]
                if summarizer is not None and left:
                    self.db.execute(
                        "INSERT INTO summaries(session_id, first_message_id, last_message_id, message_count, "
                        "summary, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (session_id, first, last, len(left), summarizer(left), self.clock()))
                    rebuilt += 1
            report = {"messages": len(found), "summaries_dropped": len(hit), "summaries_rebuilt": rebuilt}
            detail = json.dumps({"what": what, **report, "message_ids": found})
            self.db.execute("INSERT INTO audit(at, action, detail) VALUES (?, ?, ?)",
                            (self.clock(), f"forget_{kind}", detail))
        return report

class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (autocommit connection underneath)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self.outer = False

    def __enter__(self):
        self.outer = not self.db.in_transaction
        if self.outer:
            self.db.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.outer:
            return
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
