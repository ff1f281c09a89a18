"""The chat orchestrator: store the user's message, gather what the memory holds for it, build the prompt
(assistant/prompt.py), stream the model's reply, store the reply.

Order matters for "nothing acknowledged is lost": the user's message is committed before any token is generated,
and the reply is stored as soon as it ends (also when the caller stops reading early: what was streamed is
what is kept).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterator

from assistant.embedding import embed_pending
from assistant.prompt import PromptBudget, build_prompt
from assistant.retrieval import Embedder, RetrievalConfig, Retrieved, retrieve
from assistant.session_summary import summarize_session
from assistant.store import MemoryStore
from common.text_format import EOT_ID, USER_ID
from generation.copy_completion import CopyCompletion, WordPieces, word_pieces
from generation.inference import LoadedModel, generate_ids
from generation.sampling_config import SampleConfig


EMPTY_REPLY = "..."  # stored and shown when the model ends its reply before writing anything


@dataclass(frozen=True)
class ChatSettings:
    max_new_tokens: int = 48
    temperature: float = 0.0      # greedy by default: an answer about a stored fact should not be a dice roll
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int = 1337
    summarize_every: int = 20     # a long session gets a summary of every this many new messages
    retrieval: RetrievalConfig = RetrievalConfig()
    memory_tokens: int = 96
    copy_weight: float = 4.0      # logits added to the piece that finishes a prompt word the reply has begun to copy
                                  # (twice that in a capitalised word: generation/copy_completion.py); 0 = off


def settings_for(lm: LoadedModel, **overrides) -> ChatSettings:
    """Chat settings for a checkpoint: the reply and memory budgets and the term links it was trained with
    (prepare --format chat, kept in the checkpoint's state), then `overrides`."""
    trained = lm.state.get("chat") or {}
    base = {k: trained[v] for k, v in (("max_new_tokens", "reply_tokens"), ("memory_tokens", "memory_tokens"))
            if isinstance(trained.get(v), int)}
    links = trained.get("term_links")
    if isinstance(links, dict) and links:
        base["retrieval"] = RetrievalConfig(links={str(k): [str(w) for w in v] for k, v in links.items()
                                                   if isinstance(v, list)})
    return ChatSettings(**{**base, **overrides})


class Assistant:
    """A loaded model and its settings; `respond` runs one turn against a store."""

    def __init__(self, lm: LoadedModel, settings: ChatSettings = ChatSettings(), embedder: Embedder | None = None):
        self.lm = lm
        self.settings = settings
        self.embedder = embedder
        self._pieces: WordPieces | None = None  # copy completion's table of word pieces (made on first use)

    @property
    def block_size(self) -> int:
        return self.lm.model.cfg.block_size

    def count(self, text: str) -> int:
        return len(self.lm.tokenizer.encode(text, errors="ignore"))

    def prompt_for(self, store: MemoryStore, session_id: str, text: str, new_id: int | None = None) -> str:
        """The prompt for `text` in `session_id`; `new_id`: the stored id of `text`, left out of the recent turns."""
        s = self.settings
        budget = PromptBudget(self.block_size, s.max_new_tokens, s.memory_tokens)
        return prompt_from_memory(store, session_id, text, self.count, budget, s.retrieval, self.embedder, new_id)

    def respond(self, store: MemoryStore, session_id: str, text: str, **overrides) -> Iterator[str]:
        """Store `text` as the user's message, then yield the reply in pieces; the reply is stored when the
        generator finishes or is closed. `overrides`: ChatSettings fields for this turn (max_new_tokens,
        temperature, ...)."""
        s = dataclasses.replace(self.settings, **overrides) if overrides else self.settings
        new_id = store.add_message(session_id, "user", text)
        if self.embedder is not None:
            embed_pending(store, self.embedder)
        prompt = self.prompt_for(store, session_id, text, new_id)
        tok = self.lm.tokenizer
        ids = [int(i) for i in tok.encode(prompt, errors="ignore")]
        sample = SampleConfig(temperature=s.temperature, top_k=s.top_k, top_p=s.top_p,
                              repetition_penalty=s.repetition_penalty, stop_at_eot=True)
        copy = None
        if s.copy_weight > 0:
            if self._pieces is None:
                self._pieces = word_pieces(tok)
            copy = CopyCompletion(ids, self._pieces, s.copy_weight)
        out: list[int] = []
        shown = ""
        try:
            for t in generate_ids(self.lm, ids, s.max_new_tokens, sample, seed=s.seed, allow=(USER_ID,), copy=copy):
                if t in (USER_ID, EOT_ID):
                    break
                out.append(t)
                text_now = tok.decode(out).lstrip()
                if not text_now.endswith("\ufffd"):  # a split multi-byte character waits for its next piece
                    yield text_now[len(shown):]
                    shown = text_now
            if not tok.decode(out).strip():
                yield EMPTY_REPLY  # the model ended at once: the client sees what is stored
        finally:
            # What was generated, as streamed (also when the caller stopped reading early); never empty.
            store.add_message(session_id, "assistant", tok.decode(out).strip() or EMPTY_REPLY)
            self._maybe_summarize(store, session_id, s.summarize_every)

    @staticmethod
    def _maybe_summarize(store: MemoryStore, session_id: str, every: int) -> None:
        if every > 0:
            summarize_pending(store, session_id, at_least=every)


def prompt_from_memory(store: MemoryStore, session_id: str, text: str, count, budget: PromptBudget,
                       retrieval: RetrievalConfig = RetrievalConfig(), embedder: Embedder | None = None,
                       new_id: int | None = None) -> str:
    """What the model reads before replying to `text`: one function for live chat and for training examples
    (assistant/examples.py), so both see the same shape. `new_id`: the stored id of `text` (not repeated)."""
    got = retrieve(store, text, session_id, retrieval, embedder)
    got = Retrieved([m for m in got.recent if m.id != new_id], got.memories)
    return build_prompt(got, text, count, budget)


def summarize_pending(store: MemoryStore, session_id: str, at_least: int = 1) -> None:
    """Summarize the session's messages no summary covers yet, when there are at least `at_least` of them."""
    pending = store.unsummarized(session_id)
    if pending and len(pending) >= at_least:
        store.add_summary(session_id, pending[0].id, pending[-1].id, summarize_session(pending))


def close_session(store: MemoryStore, session_id: str) -> None:
    """Summarize what of a finished session is not summarized yet (called when a new session starts)."""
    summarize_pending(store, session_id)
