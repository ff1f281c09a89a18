"""The chat memory store (assistant/store.py) on real SQLite files: storing and reading back, BM25 search, forgetting
with summaries rebuilt and an audit line without content, export/import round trip, one-line errors for bad
input, two processes writing at once, and kill -9 losing nothing that was acknowledged; retrieval
(assistant/retrieval.py) and session summaries (assistant/session_summary.py)."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from assistant.retrieval import RetrievalConfig, retrieve
from assistant.session_summary import summarize_session, user_statements
from assistant.store import MAX_CONTENT_CHARS, SCHEMA_VERSION, MemoryStore, StoreError, fts_query
from assistant.store_export import export_records, import_records

PY = sys.executable


def ticking_clock():
    """created_at strings one second apart, so order by time is order of writing."""
    t = [0]

    def clock():
        t[0] += 1
        return f"2026-01-01T00:{t[0] // 60:02d}:{t[0] % 60:02d}+00:00"
    return clock


@pytest.fixture
def store(tmp_path):
    with MemoryStore(tmp_path / "memory.db", clock=ticking_clock()) as st:
        yield st


def chat(st, session, *turns):
    """Add alternating user / assistant messages; return their ids."""
    return [st.add_message(session, "user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(turns)]


def test_messages_survive_reopening_in_order_with_sessions_listed(tmp_path):
    path = tmp_path / "m.db"
    with MemoryStore(path) as st:
        a = st.new_session()
        chat(st, a, "Hello there.", "Hi! How can I help?")
        b = st.new_session("weekend")
        chat(st, b, "My dog is called Biscuit.")
    with MemoryStore(path) as st:
        assert [s.id for s in st.sessions()] == [a, "weekend"] and a == "s1"
        assert [s.messages for s in st.sessions()] == [2, 1]
        assert [(m.role, m.content) for m in st.messages(a)] == [("user", "Hello there."),
                                                                 ("assistant", "Hi! How can I help?")]
        assert [m.content for m in st.recent(a, 1)] == ["Hi! How can I help?"]
        assert st.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert st.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_bad_input_is_a_one_line_store_error(store, tmp_path):
    s = store.new_session()
    for role, content, match in [("robot", "hi", "unknown role"), ("user", "   ", "needs some text"),
                                 ("user", "x" * (MAX_CONTENT_CHARS + 1), "at most"), ("user", None, "needs")]:
        with pytest.raises(StoreError, match=match):
            store.add_message(s, role, content)
    with pytest.raises(StoreError, match="no session"):
        store.add_message("nope", "user", "hi")
    with pytest.raises(StoreError, match="already exists"):
        store.new_session(s)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE photos (id INTEGER)").connection.commit()
    with pytest.raises(StoreError, match="another program"):
        MemoryStore(other)
    newer = tmp_path / "newer.db"
    con = sqlite3.connect(newer)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(StoreError, match="newer than this program"):
        MemoryStore(newer)
    (tmp_path / "junk.db").write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not a usable memory database"):
        MemoryStore(tmp_path / "junk.db")
    with pytest.raises(StoreError, match="is a folder"):
        MemoryStore(tmp_path)
    assert len(store.messages()) == 0  # nothing half-written


def test_bm25_search_finds_the_fact_and_takes_any_text_as_a_query(store):
    s = store.new_session()
    chat(store, s, "The weather is lovely today.", "It is sunny.", "My cat is called Tom.", "What a nice name.",
         "I baked bread with my sister.", "Sounds tasty.")
    hits = store.search_messages("What is my cat called?", 3)
    assert hits[0][0].content == "My cat is called Tom." and hits[0][1] >= hits[-1][1]
    for weird in ['"cat', "cat AND NEAR(", "cat*", "-cat", "col:cat", "'; DROP TABLE messages; --", "ümlaut",
                  "", "???"]:
        store.search_messages(weird, 3)  # no FTS5 syntax error, no injection
    assert fts_query("???") == "" and store.search_messages("???", 3) == []
    assert len(store.messages()) == 6
    assert [m.content for m, _ in store.search_messages("cat", 5, exclude_session=s)] == []


def test_forgetting_rebuilds_summaries_and_audits_without_content(store):
    s = store.new_session()
    ids = chat(store, s, "My cat is called Tom.", "Lovely.", "I live in Ashford.", "Nice town.")
    store.add_summary(s, ids[0], ids[-1], summarize_session(store.messages(s)))
    assert "Tom" in store.summaries()[0].summary
    report = store.forget_matching("cat Tom", summarizer=summarize_session)
    assert report == {"messages": 1, "summaries_dropped": 1, "summaries_rebuilt": 1}
    assert [m.content for m in store.messages(s)] == ["Lovely.", "I live in Ashford.", "Nice town."]
    (summary,) = store.summaries()
    assert "Tom" not in summary.summary and "Ashford" in summary.summary and summary.message_count == 3
    assert store.search_messages("Tom", 5) == [] and store.search_summaries("Tom", 5) == []
    store.forget_message(ids[2], summarizer=summarize_session)
    assert store.summaries()[0].summary == "No personal facts."
    other = store.new_session()
    chat(store, other, "My brother is called Sam.")
    store.forget_session(s)
    assert [x.id for x in store.sessions()] == [other] and store.summaries() == []
    log = store.audit_log()
    assert [a for _, a, _ in log] == ["forget_query", "forget_message", "forget_session"]
    text = json.dumps(log)
    for secret in ("Tom", "Ashford", "cat", "Lovely"):
        assert secret not in text  # counts and ids only
    assert json.loads(log[0][2])["message_ids"] == [ids[0]]
    with pytest.raises(StoreError, match="no words"):
        store.forget_matching("  ?! ")
    third = store.new_session()
    chat(store, third, "My bike is red.", "Noted.")
    assert store.forget_all() == {"sessions": 2, "messages": 3}
    assert store.sessions() == [] and store.messages() == [] and store.summaries() == []
    assert [a for _, a, _ in store.audit_log()][-2:] == ["forget_session", "forget_session"]
    assert store.forget_all() == {"sessions": 0, "messages": 0}


def test_export_then_import_gives_the_same_memory(store, tmp_path):
    s = store.new_session("first")
    ids = chat(store, s, "My pet rabbit is Clover.", "Clover is a sweet name.")
    store.add_summary(s, ids[0], ids[1], "The user said: My pet rabbit is Clover.")
    t = store.new_session()
    chat(store, t, "I like plums.")
    records = list(export_records(store))
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with MemoryStore(tmp_path / "copy.db") as copy:
        counts = import_records(copy, [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()])
        assert counts == {"sessions": 2, "messages": 3, "summaries": 1, "skipped_sessions": 0}
        assert list(export_records(copy)) == records  # same sessions, messages, summaries, times
        assert copy.search_messages("Clover", 1)[0][0].content == "My pet rabbit is Clover."
        again = import_records(copy, records)  # the same file twice adds nothing
        assert again == {"sessions": 0, "messages": 0, "summaries": 0, "skipped_sessions": 2}
        assert list(export_records(copy)) == records
    with MemoryStore(tmp_path / "busy.db") as busy:  # another memory that also has a session "first"
        mine = busy.new_session("first")
        chat(busy, mine, "I play the flute.")
        assert import_records(busy, records)["sessions"] == 2
        assert [s.id for s in busy.sessions()] == ["first", "first-2", "s2"]
        assert [m.content for m in busy.messages("first-2")] == ["My pet rabbit is Clover.", "Clover is a sweet name."]
        assert busy.summaries("first-2")[0].message_count == 2
    with MemoryStore(tmp_path / "bad.db") as bad:
        for recs, match in [([{"type": "header", "format": "other"}], "not a miniature-memory"),
                            ([{"type": "photo"}], "unknown record type"),
                            ([{"type": "session"}], "missing or bad field"),
                            ([{"type": "message", "id": 1, "session_id": "x", "role": "user", "content": "hi",
                               "created_at": "t"}], "unknown session"),
                            ([{"type": "session", "id": "a", "created_at": "t"},
                              {"type": "message", "id": 1, "session_id": "a", "role": "robot", "content": "x",
                               "created_at": "t"}], "bad role")]:
            with pytest.raises(StoreError, match=match):
                import_records(bad, recs)
            assert bad.sessions() == []  # all or nothing


WRITER = """
import sys
from assistant.store import MemoryStore
path, session, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with MemoryStore(path) as st:
    if not st.has_session(session):
        st.new_session(session)
    for i in range(n):
        mid = st.add_message(session, "user", f"{session} message {i}")
        print(mid, flush=True)
"""


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "shared.db"
    MemoryStore(path).close()
    procs = [subprocess.Popen([PY, "-c", WRITER, str(path), name, "150"], stdout=subprocess.PIPE, text=True)
             for name in ("alpha", "beta")]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    with MemoryStore(path) as st:
        assert st.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for name, out in zip(("alpha", "beta"), outs):
            got = [m.content for m in st.messages(name)]
            assert got == [f"{name} message {i}" for i in range(150)]
            assert {m.id for m in st.messages(name)} == {int(x) for x in out.split()}
        assert len(st.search_messages("alpha", 500)) == 150


def test_kill_9_loses_no_acknowledged_message(tmp_path):
    path = tmp_path / "killed.db"
    proc = subprocess.Popen([PY, "-c", WRITER, str(path), "talk", "100000"], stdout=subprocess.PIPE, text=True)
    acknowledged = []
    deadline = time.time() + 60
    while len(acknowledged) < 300 and time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acknowledged.append(int(line))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(acknowledged) >= 300
    with MemoryStore(path) as st:
        assert st.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = {m.id for m in st.messages("talk")}
        assert set(acknowledged) <= ids
        st.add_message("talk", "user", "still writable")


def test_retrieval_brings_recent_turns_and_the_best_older_memories_oldest_first(store):
    old = store.new_session()
    chat(store, old, "My cat is called Tom.", "Lovely name.", "I live in Ashford.", "Nice.")
    mid = store.new_session()
    chat(store, mid, "Actually my cat is called Tilly now.", "Tilly it is.", "We had soup for lunch.", "Yum.")
    now = store.new_session()
    chat(store, now, "Good morning!", "Good morning to you.")
    got = retrieve(store, "What is my cat called?", now, RetrievalConfig(k=3, recent=2))
    assert [m.content for m in got.recent] == ["Good morning!", "Good morning to you."]
    texts = [m.text for m in got.memories]
    assert texts.index("My cat is called Tom.") < texts.index("Actually my cat is called Tilly now.")  # oldest first
    assert all(m.session_id != now for m in got.memories) and len(texts) <= 3
    # the recent turns are never repeated among the memories
    again = retrieve(store, "good morning", now, RetrievalConfig(k=5, recent=2))
    assert "Good morning!" not in [m.text for m in again.memories]


def test_words_said_again_are_one_memory_and_leave_room_for_others(store):
    s = store.new_session()
    chat(store, s, "My plant is drooping.", "I'm sorry to hear that, your plant will be fine.",
         "My fern is drooping.", "I'm sorry to hear that, your plant will be fine.",
         "My ivy is drooping.", "I'm sorry  to hear that, your plant will be fine.",
         "The plant on my desk is green.")
    got = retrieve(store, "sorry about the plant", None, RetrievalConfig(k=3, recent=0))
    texts = [" ".join(m.text.split()) for m in got.memories]
    # the reply said three times is one memory; the room it left goes to the next best matches
    assert texts.count("I'm sorry to hear that, your plant will be fine.") == 1 and len(texts) == 3
    assert "The plant on my desk is green." in texts and "My plant is drooping." in texts


def test_a_summary_yields_to_a_message_it_covers_and_stays_where_none_ranks(store):
    s = store.new_session()
    ids = chat(store, s, "My cat is called Tom.", "Lovely name.", "I live in Ashford.", "Nice.",
               "My cat likes fish.", "Yum.")
    store.add_summary(s, ids[0], ids[-1], "The user said: My cat is called Tom. I live in Ashford. My cat likes fish.")
    other = store.new_session()
    ids = chat(store, other, "We went to the zoo.", "Fun!")
    # a summary whose own messages do not match (written before some of them were forgotten, say)
    store.add_summary(other, ids[0], ids[-1], "The user said: My cat sleeps all day.")
    got = retrieve(store, "What is my cat called?", None, RetrievalConfig(k=4, recent=0))
    texts = [m.text for m in got.memories]
    # the first session's summary holds "My cat is called Tom." among other sentences: the message itself is
    # brought, not the summary as well
    assert "My cat is called Tom." in texts and "My cat likes fish." in texts
    assert not any(t.startswith("The user said: My cat is called Tom.") for t in texts)
    assert "The user said: My cat sleeps all day." in texts
    summary = next(m for m in got.memories if m.kind == "summary")
    assert summary.covers == (ids[0], ids[-1]) and summary.session_id == other


def test_dense_vectors_find_what_shares_no_word_with_the_question(store):
    s = store.new_session()
    ids = chat(store, s, "Whiskers purrs on the sofa.", "The bus was late.", "Rain again today.")
    vocab = {"whiskers": 0, "purrs": 0, "kitten": 0, "bus": 1, "late": 1, "rain": 2, "today": 2}

    def embed(texts):  # a toy embedder: words of one meaning share an axis
        out = np.zeros((len(texts), 3), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().replace(".", " ").replace("?", " ").split():
                if w in vocab:
                    out[i, vocab[w]] += 1
        return out
    for mid, vec in zip(ids, embed([m.content for m in store.messages(s)])):
        store.set_embedding(mid, vec.tobytes())
    query = "Where is my kitten?"
    assert retrieve(store, query, None, RetrievalConfig(k=1, recent=0)).memories == []  # no shared word
    got = retrieve(store, query, None, RetrievalConfig(k=1, recent=0), embedder=embed)
    assert [m.text for m in got.memories] == ["Whiskers purrs on the sofa."]


def test_session_summary_keeps_the_users_own_statements_latest_first_within_budget():
    from assistant.store import Message
    msgs = [Message(i, "s", role, text, "t") for i, (role, text) in enumerate([
        ("user", "Hi! My cat is called Tom. Is it raining?"), ("assistant", "My favourite is tea."),
        ("user", "The sky is blue."), ("user", "Actually my cat is called Tilly. I moved to Ashford.")])]
    assert user_statements(msgs) == ["My cat is called Tom.", "Actually my cat is called Tilly.",
                                     "I moved to Ashford."]
    assert summarize_session(msgs) == ("The user said: My cat is called Tom. Actually my cat is called Tilly. "
                                       "I moved to Ashford.")
    short = summarize_session(msgs, budget=60)
    assert short == "The user said: Actually my cat is called Tilly." or short.endswith("I moved to Ashford.")
    assert len(short) <= 60 and "Tom" not in short
    assert summarize_session(msgs[1:3]) == "No personal facts."
