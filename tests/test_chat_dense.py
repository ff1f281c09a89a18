"""Dense retrieval from the chat model itself: the embedder (assistant/embedding.py), the in-memory vector index
kept in step with the store (assistant/vector_index.py), lazy embedding before each reply, and the schema 1 -> 2
upgrade that adds the indexes behind it. Real SQLite files throughout."""

import sqlite3

import numpy as np
import pytest
import torch

from assistant.embedding import embed_pending, model_embedder
from assistant.orchestrator import Assistant
from assistant.retrieval import RetrievalConfig, retrieve
from assistant.store import SCHEMA_VERSION, MemoryStore
from assistant.vector_index import VectorIndex, index_of
from tests.test_chat_assistant import tiny_assistant


def unit(*xs):
    v = np.asarray(xs, dtype=np.float32)
    return (v / np.linalg.norm(v)).tobytes()


@pytest.fixture
def store(tmp_path):
    with MemoryStore(tmp_path / "m.db") as st:
        yield st


def test_model_vectors_are_unit_length_deterministic_and_differ_by_text():
    lm = tiny_assistant().lm
    embed = model_embedder(lm)
    a = embed(["my cat is called Tom.", "the bus was late.", ""])
    assert a.shape == (3, lm.model.cfg.n_embd) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a[:2], axis=1), 1.0, atol=1e-5)
    assert not a[2].any()  # no tokens: a zero vector, matched by nothing
    assert np.array_equal(a, embed(["my cat is called Tom.", "the bus was late.", ""]))
    assert np.dot(a[0], a[1]) < 0.9999
    # the mean of the states the output head reads, as the model's own forward computes them
    ids = torch.as_tensor(lm.tokenizer.encode("my cat is called Tom.").astype(np.int64))[None]
    with torch.no_grad():
        h = lm.model.hidden(ids)[0].mean(0).numpy()
        logits, _ = lm.model(ids)
        assert torch.allclose(logits, lm.model.lm_head(lm.model.hidden(ids)))
    assert np.allclose(a[0], h / np.linalg.norm(h), atol=1e-6)


def test_index_appends_new_vectors_and_skips_other_widths(store):
    s = store.new_session()
    a, b, c = (store.add_message(s, "user", t) for t in ("alpha", "beta", "gamma"))
    store.set_embedding(a, unit(1, 0, 0))
    index = VectorIndex()
    index.refresh(store, 3)
    assert index.ids.tolist() == [a]
    store.set_embeddings([(b, unit(0, 1, 0)), (c, unit(1, 1, 0, 0))])  # c from a model of another width
    index.refresh(store, 3)
    assert index.ids.tolist() == [a, b] and index.skipped == 1
    index.refresh(store, 3)  # nothing new: nothing read again
    assert index.ids.tolist() == [a, b] and index.skipped == 1
    assert index.search(np.array([0.1, 1, 0], np.float32), 5, set()) == [b, a]
    assert index.search(np.array([0.1, 1, 0], np.float32), 5, {b}) == [a]
    assert index.search(np.array([0.1, 1, 0], np.float32), 1, set()) == [b]


def test_a_forgotten_vector_leaves_the_index_even_when_its_id_is_reused(store):
    s = store.new_session()
    a = store.add_message(s, "user", "alpha")
    b = store.add_message(s, "user", "secret")
    store.set_embeddings([(a, unit(1, 0)), (b, unit(0, 1))])
    index = index_of(store)
    index.refresh(store, 2)
    store.forget_message(b)
    c = store.add_message(s, "user", "gamma")
    assert c == b  # SQLite hands the freed id to the next message
    store.set_embedding(c, unit(1, 0.1))
    # the same count and the same last id as before the forget: only the forget mark tells them apart
    assert retrieve(store, "x", None, RetrievalConfig(k=2, recent=0), embedder=lambda t: np.array([[0, 1.0]],
                    np.float32)).memories[0].text in ("alpha", "gamma")
    assert index_of(store) is index
    assert np.allclose(index.matrix[index.ids.tolist().index(c)], np.frombuffer(unit(1, 0.1), np.float32))


def test_the_index_is_shared_by_stores_opened_on_one_file(tmp_path):
    path = tmp_path / "u.db"
    with MemoryStore(path) as one:
        s = one.new_session()
        one.set_embedding(one.add_message(s, "user", "alpha"), unit(1, 0))
        index_of(one).refresh(one, 2)
    with MemoryStore(path) as two:  # the server opens the user's store again for each request
        assert index_of(two) is index_of(two)
        assert index_of(two).ids.tolist() == [1]


def test_pending_messages_are_embedded_oldest_first_within_the_limit(store):
    s = store.new_session()
    ids = [store.add_message(s, "user", f"message {i}") for i in range(5)]
    seen = []

    def embed(texts):
        seen.append(list(texts))
        return np.ones((len(texts), 4), np.float32)
    assert embed_pending(store, embed, limit=3) == 3 and seen == [["message 0", "message 1", "message 2"]]
    assert [m.id for m in store.unembedded(10)] == ids[3:]
    assert embed_pending(store, embed, limit=3) == 2
    assert embed_pending(store, embed, limit=3) == 0 and len(seen) == 2
    assert store.embedded_count() == 5


def test_the_assistant_embeds_each_message_before_it_replies(store):
    base = tiny_assistant()
    bot = Assistant(base.lm, base.settings, model_embedder(base.lm))
    s = store.new_session()
    list(bot.respond(store, s, "my cat is called Tom."))
    list(bot.respond(store, s, "what is my cat called?"))
    # every message but the last reply (embedded before the next turn) has its vector, of the model's width
    msgs = store.messages(s)
    assert [m.id for m in store.unembedded(10)] == [msgs[-1].id]
    ids, blobs = store.embeddings()
    assert ids == [m.id for m in msgs[:-1]] and {len(b) for b in blobs} == {4 * base.lm.model.cfg.n_embd}


def test_a_version_1_database_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.db"
    with MemoryStore(path) as st:
        st.add_message(st.new_session(), "user", "kept through the upgrade")
    db = sqlite3.connect(path)
    db.executescript("DROP INDEX messages_embedded; DROP INDEX messages_unembedded; PRAGMA user_version = 1;")
    db.close()
    with MemoryStore(path) as st:
        assert st.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        names = {r[0] for r in st.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"messages_embedded", "messages_unembedded"} <= names
        assert [m.content for m in st.messages("s1")] == ["kept through the upgrade"]
