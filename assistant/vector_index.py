"""The message vectors of one memory store as a normalised matrix in memory, for brute-force cosine search.

Reading every vector out of SQLite for each query costs more than the search itself at 100k messages, so the
matrix is kept between queries and brought up to date first: vectors of messages newer than the last one held
are appended (messages are embedded oldest first), and it is read again whole when anything was forgotten since
(the store's audit log grew: a forgotten message's id can be given to the next message, so counting is not
enough) or the store holds a different number of vectors than the matrix accounts for. Vectors of another width
(written by a model of another size) are left out.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict

import numpy as np

from assistant.store import MemoryStore


class VectorIndex:
    def __init__(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.matrix: np.ndarray | None = None  # [n, d] float32, rows of length 1
        self.skipped = 0  # vectors of another width, counted so they do not force a reload every time
        self.mark = -1    # the store's forget_mark when last read
        self.last_id = 0  # the highest message id read (kept or skipped)

    def refresh(self, store: MemoryStore, width: int) -> None:
        """Bring the index in line with `store`, keeping only vectors of `width` floats."""
        mark = store.forget_mark()
        if self.matrix is None or self.matrix.shape[1] != width or mark != self.mark:
            self._reset(width)
            self.mark = mark
        ids, blobs = store.embeddings(after_id=self.last_id)
        if len(self.ids) + self.skipped + len(ids) != store.embedded_count():
            self._reset(width)
            ids, blobs = store.embeddings()
        if ids:
            self.last_id = ids[-1]
        keep = [k for k, b in enumerate(blobs) if len(b) == 4 * width]
        self.skipped += len(blobs) - len(keep)
        if keep:
            rows = np.frombuffer(b"".join(blobs[k] for k in keep), dtype=np.float32).reshape(len(keep), width)
            self._append(rows / (np.linalg.norm(rows, axis=1, keepdims=True) + 1e-12),
                         np.asarray([ids[k] for k in keep], dtype=np.int64))

    def _append(self, rows: np.ndarray, ids: np.ndarray) -> None:
        """Add rows, doubling the buffers when full: a turn adds a row or two, and copying 100k rows for each
        would cost more than the search."""
        n, need = len(self.ids), len(self.ids) + len(rows)
        if need > len(self._rows):
            grown = np.zeros((max(need, 2 * len(self._rows), 64), self._rows.shape[1]), dtype=np.float32)
            grown[:n] = self._rows[:n]
            grown_ids = np.zeros(len(grown), dtype=np.int64)
            grown_ids[:n] = self._ids[:n]
            self._rows, self._ids = grown, grown_ids
        self._rows[n:need] = rows
        self._ids[n:need] = ids
        self.matrix, self.ids = self._rows[:need], self._ids[:need]

    def _reset(self, width: int) -> None:
        self._rows, self._ids = np.zeros((0, width), dtype=np.float32), np.zeros(0, dtype=np.int64)
        self.ids, self.matrix = self._ids, self._rows
        self.skipped = self.last_id = 0

    def search(self, query: np.ndarray, depth: int, skip: set[int]) -> list[int]:
        """Message ids by cosine similarity to `query` (best first), at most `depth`, none in `skip`."""
        if self.matrix is None or not len(self.ids):
            return []
        q = query.astype(np.float32) / (np.linalg.norm(query) + 1e-12)
        sims = self.matrix @ q
        n = min(len(sims), depth + len(skip))
        top = np.argpartition(-sims, n - 1)[:n] if n < len(sims) else np.arange(len(sims))
        top = top[np.lexsort((self.ids[top], -sims[top]))]  # best first; ties by id, so the order is stable
        return [int(self.ids[i]) for i in top if int(self.ids[i]) not in skip][:depth]


MAX_INDEXES = 4  # databases whose vectors stay in memory (the server opens a user's store per request)
_BY_PATH: "OrderedDict[str, VectorIndex]" = OrderedDict()
_IN_MEMORY: "weakref.WeakKeyDictionary[MemoryStore, VectorIndex]" = weakref.WeakKeyDictionary()


def index_of(store: MemoryStore) -> VectorIndex:
    """The index kept for the store's database file: the same one for every MemoryStore opened on that file (the
    server opens one per request), the MAX_INDEXES most recently used kept; an in-memory database's lives as long
    as its store."""
    if str(store.path) == ":memory:":
        return _IN_MEMORY.setdefault(store, VectorIndex())
    key = str(store.path.resolve())
    index = _BY_PATH.pop(key, None) or VectorIndex()
    _BY_PATH[key] = index  # most recent last
    while len(_BY_PATH) > MAX_INDEXES:
        _BY_PATH.popitem(last=False)
    return index
