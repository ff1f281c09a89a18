"""What the memory brings to a new message: the recent turns of the current session, plus the stored messages
and summaries that best match the new message, ranked by BM25 (FTS5) - over the message's words and, with term
links, over the words linked to them - and, when an embedder is given, by cosine similarity of dense vectors,
fused by reciprocal rank.

Why this shape: independent runs of the DMR and LongMemEval tests found that keeping every message raw and
retrieving with BM25 (plus vectors) beats extracting facts at write time; reciprocal-rank fusion needs no score
calibration between BM25 and cosine. Brute-force cosine in numpy is fast enough to ~100k messages.
Retrieved memories are returned oldest first, so a later correction ("actually, she is called Tilly") comes
after what it corrects, the order the model saw in training. A session's summary yields to a message of that
session that ranks near the top: it holds the same sentence among others, and at ~110 tokens it took most of the
chat model's 140-token memory block (the value after a correction reached the prompt for 0.88 of the questions
with summaries competing, 0.97 with them yielding; ROADMAP.md, section 9).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from assistant.store import MemoryStore, Message
from assistant.term_links import TermLinks, expansion
from assistant.vector_index import index_of

RRF_K = 60  # reciprocal-rank fusion constant (the usual value): score = sum over rankings of 1 / (RRF_K + rank)


@dataclass(frozen=True)
class Memory:
    kind: str          # "message" or "summary"
    id: int
    session_id: str
    text: str
    role: str          # the message's role; "summary" for a summary
    created_at: str
    score: float       # fused score (higher is better)
    covers: tuple[int, int] | None = None  # a summary's first and last message ids (its session's); None otherwise


@dataclass
class Retrieved:
    recent: list[Message]                               # the current session's last turns, oldest first
    memories: list[Memory] = field(default_factory=list)  # the best matches outside those turns, oldest first


Embedder = Callable[[list[str]], np.ndarray]  # texts -> [n, d] float32 vectors


@dataclass(frozen=True)
class RetrievalConfig:
    k: int = 6            # memories returned at most
    recent: int = 8       # last messages of the current session always included
    candidates: int = 30  # depth of each ranking before fusion
    # Words of a question linked to the words of its answers (assistant/term_links.py, mined by prepare from the
    # training transcripts, kept in the checkpoint): their BM25 ranking is fused with the question's own.
    links: TermLinks = field(default_factory=dict, compare=False, hash=False, repr=False)


def dense_ranking(store: MemoryStore, embedder: Embedder, query: str, depth: int,
                  skip: set[int]) -> list[int]:
    """Message ids by cosine similarity to the query (best first), over every message with an embedding of the
    query's width (kept in memory between queries: assistant/vector_index.py)."""
    q = np.asarray(embedder([query])[0], dtype=np.float32)
    index = index_of(store)
    index.refresh(store, q.shape[0])
    return index.search(q, depth, skip)


def retrieve(store: MemoryStore, query: str, session_id: str | None, cfg: RetrievalConfig = RetrievalConfig(),
             embedder: Embedder | None = None) -> Retrieved:
    """The recent turns of `session_id` (none when None) and up to cfg.k fused matches for `query`."""
    recent = store.recent(session_id, cfg.recent) if session_id is not None and cfg.recent else []
    skip = {m.id for m in recent}
    fused: dict[tuple[str, int], float] = {}
    found: dict[tuple[str, int], Memory] = {}

    def add_ranking(keys: list[tuple[str, int]]) -> None:
        for rank, key in enumerate(keys, 1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank)

    def add_bm25(text: str) -> None:
        # A stored question holds the words of a new question but never its answer: questions are not memories.
        hits = [(m, s) for m, s in store.search_messages(text, 2 * cfg.candidates + len(skip))
                if m.id not in skip and not m.content.rstrip().endswith("?")]
        for m, _ in hits:
            found[("message", m.id)] = Memory("message", m.id, m.session_id, m.content, m.role, m.created_at, 0.0)
        add_ranking([("message", m.id) for m, _ in hits[: cfg.candidates]])
        sums = store.search_summaries(text, cfg.candidates)
        for s, _ in sums:
            found[("summary", s.id)] = Memory("summary", s.id, s.session_id, s.summary, "summary", s.created_at,
                                              0.0, (s.first_message_id, s.last_message_id))
        add_ranking([("summary", s.id) for s, _ in sums])

    add_bm25(query)
    linked = expansion(cfg.links, query) if cfg.links else ""
    if linked:
        add_bm25(linked)
    if embedder is not None:
        dense = dense_ranking(store, embedder, query, cfg.candidates, skip)
        missing = [i for i in dense if ("message", i) not in found]
        if missing:
            for m in store.messages_by_id(missing):
                found[("message", m.id)] = Memory("message", m.id, m.session_id, m.content, m.role, m.created_at,
                                                  0.0)
        add_ranking([("message", i) for i in dense])
    ranked = sorted(fused, key=lambda key: (-fused[key], key))
    # A summary repeats its session's own sentences: when one of the messages it covers ranks near the top, the
    # message says it in a few tokens where the summary takes most of the memory block.
    best_messages = [found[key] for key in ranked[: 2 * cfg.k] if key[0] == "message"]
    memories: list[Memory] = []
    texts: set[str] = set()
    for key in ranked:
        if key[0] == "summary" and any(_covered(found[key], m) for m in best_messages):
            continue
        # The same words said twice ("I'm sorry to hear that.") are one memory: a repeat would only take the room
        # of another in the prompt's memory block.
        text = " ".join(found[key].text.lower().split())
        if text not in texts:
            texts.add(text)
            memories.append(dataclasses.replace(found[key], score=round(fused[key], 6)))
        if len(memories) == cfg.k:
            break
    memories.sort(key=lambda m: (m.created_at, m.kind, m.id))
    return Retrieved(recent, memories)


def _covered(summary: Memory, message: Memory) -> bool:
    """Is `message` one of the messages `summary` was made from?"""
    first, last = summary.covers or (0, -1)
    return message.session_id == summary.session_id and first <= message.id <= last
