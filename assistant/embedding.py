"""Dense vectors for memory retrieval, made by the chat model itself: no second model to download or run.

A message's vector is the mean of the model's final hidden states (what its output head reads) over the message's
tokens (its first block), scaled to length 1. Retrieval fuses the cosine ranking of these vectors with BM25's
(assistant/retrieval.py), so a question can find a memory that shares its meaning but not its words ("what pet do
I have" / "a cat called Zephyr") when the model has learned that they go together.

Messages are embedded lazily, oldest first, `EMBED_PER_TURN` at a time before each reply (`embed_pending`): a new
message is embedded at once, and a database filled before dense retrieval was switched on (or imported) catches
up a batch per turn instead of stalling the first reply. Vectors belong to the model that wrote them: another
checkpoint of the same width reads them as its own, one of another width skips them (assistant/vector_index.py).
"""

from __future__ import annotations

import numpy as np
import torch

from assistant.retrieval import Embedder
from assistant.store import MemoryStore
from generation.inference import LoadedModel

EMBED_PER_TURN = 64  # messages embedded before one reply at most (~1 ms each for the chat profile's model)


def model_embedder(lm: LoadedModel) -> Embedder:
    """texts -> [n, d] float32 unit vectors from `lm` (a text with no tokens gets a zero vector)."""
    model, tok = lm.model, lm.tokenizer
    block, width = model.cfg.block_size, model.cfg.n_embd
    device = next(model.parameters()).device

    def embed(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), width), dtype=np.float32)
        with torch.no_grad():
            for i, text in enumerate(texts):
                ids = tok.encode(text, errors="ignore")[:block]
                if len(ids):
                    idx = torch.as_tensor(np.asarray(ids, dtype=np.int64), device=device)[None]
                    v = model.hidden(idx)[0].float().mean(0).cpu().numpy()
                    out[i] = v / (np.linalg.norm(v) + 1e-12)
        return out
    return embed


def embed_pending(store: MemoryStore, embedder: Embedder, limit: int = EMBED_PER_TURN) -> int:
    """Embed up to `limit` of the store's messages that have no vector yet, oldest first; returns how many."""
    pending = store.unembedded(limit)
    if not pending:
        return 0
    vectors = np.asarray(embedder([m.content for m in pending]), dtype=np.float32)
    store.set_embeddings([(m.id, v.tobytes()) for m, v in zip(pending, vectors)])
    return len(pending)
