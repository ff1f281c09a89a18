"""Export and import of a chat memory (assistant/store.py): JSON-ready records, one per line in a file.

Format (DATA_FORMAT.md): a header record, then sessions, messages and summaries in id order. Import is one
transaction (all or nothing); message ids are renumbered and summaries follow them.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from assistant.store import EXPORT_FORMAT, ROLES, SCHEMA_VERSION, MemoryStore, StoreError


def export_records(store: MemoryStore) -> Iterator[dict]:
    """Everything as JSON-ready records: a header, then sessions, messages and summaries in id order."""
    yield {"type": "header", "format": EXPORT_FORMAT, "schema_version": SCHEMA_VERSION}
    for s in store.sessions():
        yield {"type": "session", "id": s.id, "created_at": s.created_at}
    for m in store.messages():
        yield {"type": "message", "id": m.id, "session_id": m.session_id, "role": m.role, "content": m.content,
               "created_at": m.created_at}
    for s in store.summaries():
        yield {"type": "summary", "session_id": s.session_id, "first_message_id": s.first_message_id,
               "last_message_id": s.last_message_id, "summary": s.summary, "created_at": s.created_at}


def import_records(store: MemoryStore, records: Iterable[dict]) -> dict:
    """Add exported records to this store in one transaction (all or nothing); returns counts. Message ids
    are renumbered and summaries follow them. A session whose id is taken here is skipped when it holds the
    same messages (importing one file twice adds nothing) and renamed (`s1` -> `s1-2`) when it does not."""
    sessions, messages, summaries = _parse_export(records)
    counts = {"sessions": 0, "messages": 0, "summaries": 0, "skipped_sessions": 0}
    ids: dict[int, int] = {}
    with store.transaction():
        name: dict[str, str | None] = {}
        for sid, created in sessions.items():
            mine = [(m["role"], m["content"]) for m in messages if m["session_id"] == sid]
            if store.has_session(sid):
                if [(m.role, m.content) for m in store.messages(sid)] == mine:
                    name[sid] = None
                    counts["skipped_sessions"] += 1
                    continue
                k = 2
                while store.has_session(f"{sid}-{k}"):
                    k += 1
                name[sid] = f"{sid}-{k}"
            else:
                name[sid] = sid
            store.db.execute("INSERT INTO sessions(id, created_at) VALUES (?, ?)", (name[sid], created))
            counts["sessions"] += 1
        for m in messages:
            if name[m["session_id"]] is None:
                continue
            cur = store.db.execute("INSERT INTO messages(session_id, role, content, created_at) VALUES (?, ?, ?, ?)",
                                  (name[m["session_id"]], m["role"], m["content"], m["created_at"]))
            ids[m["id"]] = int(cur.lastrowid)
            counts["messages"] += 1
        for x in summaries:
            sid = name[x["session_id"]]
            if sid is None:
                continue
            # the range may start or end at a forgotten message: it covers the imported ones inside it
            inside = [ids[m["id"]] for m in messages if m["session_id"] == x["session_id"]
                      and x["first_message_id"] <= m["id"] <= x["last_message_id"]]
            if not inside:
                continue
            first, last = min(inside), max(inside)
            store.db.execute(
                "INSERT INTO summaries(session_id, first_message_id, last_message_id, message_count, summary, "
                "created_at) SELECT ?, ?, ?, count(*), ?, ? FROM messages WHERE session_id = ? AND id BETWEEN ? "
                "AND ?", (sid, first, last, x["summary"], x["created_at"], sid, first, last))
            counts["summaries"] += 1
    return counts


def _parse_export(records: Iterable[dict]) -> tuple[dict[str, str], list[dict], list[dict]]:
    """Checked (sessions {id: created_at}, messages, summaries) of an export; StoreError naming the bad record."""
    sessions: dict[str, str] = {}
    messages: list[dict] = []
    summaries: list[dict] = []
    seen_ids: set[int] = set()
    for n, rec in enumerate(records, 1):
        kind = rec.get("type") if isinstance(rec, dict) else None
        try:
            if kind == "header":
                if rec.get("format") != EXPORT_FORMAT:
                    raise StoreError(f"record {n}: not a miniature-memory chat export")
            elif kind == "session":
                sessions[str(rec["id"])] = str(rec["created_at"])
            elif kind == "message":
                if rec["role"] not in ROLES or not isinstance(rec["content"], str) or not rec["content"].strip():
                    raise StoreError(f"record {n}: bad role or content")
                if str(rec["session_id"]) not in sessions:
                    raise StoreError(f"record {n}: message of an unknown session")
                mid = int(rec["id"])
                if mid in seen_ids:
                    raise StoreError(f"record {n}: message id {mid} appears twice")
                seen_ids.add(mid)
                messages.append({"id": mid, "session_id": str(rec["session_id"]), "role": rec["role"],
                                 "content": rec["content"], "created_at": str(rec["created_at"])})
            elif kind == "summary":
                x = {"session_id": str(rec["session_id"]), "first_message_id": int(rec["first_message_id"]),
                     "last_message_id": int(rec["last_message_id"]), "summary": str(rec["summary"]),
                     "created_at": str(rec["created_at"])}
                if x["session_id"] not in sessions:
                    raise StoreError(f"record {n}: summary of an unknown session")
                summaries.append(x)
            else:
                raise StoreError(f"record {n}: unknown record type {kind!r}")
        except StoreError:
            raise
        except (KeyError, TypeError, ValueError) as e:
            raise StoreError(f"record {n}: missing or bad field ({e})") from None
    return sessions, messages, summaries
