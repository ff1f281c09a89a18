"""Exact and near-duplicate detection for the filter stage, with crash-safe persistence and no pickle.

- `normalise` / `exact_key`: the exact-duplicate key is a sha256 prefix of the text after NFKC, case folding and
  whitespace collapsing (so re-wrapped or re-cased copies count as exact duplicates).
- `Signer`: datasketch MinHash (scheme affine32, uint32 values) over word 5-gram shingles, each shingle hashed
  with zlib.crc32 (a cheap 32-bit hash that is the same in every process, unlike Python's hash()).
- `SignatureIndex`: the signatures of KEPT items in an append-only binary file (16-byte header, then one row of
  `num_perm` little-endian uint32 per kept item, in ledger order), plus an in-memory LSH built from it. The LSH is
  banding done in numpy rather than datasketch's MinHashLSH, whose dict-of-sets layout costs several hundred bytes
  per band and document (measured by bench/near_dup_bench.py): each band of a signature becomes one uint64 key,
  and the keys live in one sorted array searched with np.searchsorted (12 bytes per band and document), with a
  small dict for keys added since the last merge. Candidates are verified against the stored signature (read
  back from the file with os.pread, so memory does not grow with the corpus), so banding only has to find them.
"""

from __future__ import annotations

import hashlib
import operator
import os
import re
import unicodedata
import zlib
from pathlib import Path

import numpy as np
from datasketch import MinHash

SHINGLE_WORDS = 5  # words per shingle
MINHASH_SEED = 1  # seed of the MinHash permutations (stored in the file header)
BATCH = 8192  # shingles per update_batch call: bounds the (batch x num_perm) temporary array
MAGIC = b"MMSIG\x00v1"  # 8 bytes, then uint32 num_perm, uint32 seed
HEADER_BYTES = 16
PENDING_MAX = 32768  # band keys held in the dict before a merge into the sorted arrays (~3 MB)
MIN_RECALL = 0.99  # banding must make an item at exactly the threshold a candidate with at least this chance
WORD_RE = re.compile(r"\w+")
WS_RE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Text as compared for duplicates: NFKC, case-folded, runs of whitespace as one space, stripped."""
    return WS_RE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def exact_key(norm_text: str) -> str:
    """Exact-duplicate key of normalised text: 16 hex digits of its sha256."""
    return hashlib.sha256(norm_text.encode("utf-8")).hexdigest()[:16]


def shingle_hashes(norm_text: str, size: int = SHINGLE_WORDS) -> list[int]:
    """crc32 of every run of `size` consecutive words; a text shorter than that is one shingle."""
    words = WORD_RE.findall(norm_text)
    if len(words) < size:
        return [zlib.crc32(" ".join(words).encode("utf-8"))]
    return [zlib.crc32(" ".join(words[i:i + size]).encode("utf-8")) for i in range(len(words) - size + 1)]


class Signer:
    """Makes MinHash signatures (uint32 arrays of length num_perm) of normalised texts."""

    def __init__(self, num_perm: int, seed: int = MINHASH_SEED):
        self.num_perm, self.seed = num_perm, seed
        self._perms = MinHash(num_perm, seed=seed).permutations  # generated once, reused for every document

    def sign(self, norm_text: str) -> np.ndarray:
        """Signature of one document (its shingles fed in bounded batches so long texts stay small in memory)."""
        m = MinHash(self.num_perm, seed=self.seed, hashfunc=operator.index, permutations=self._perms,
                    scheme="affine32")
        hashes = shingle_hashes(norm_text)
        for start in range(0, len(hashes), BATCH):
            m.update_batch(hashes[start:start + BATCH])
        return np.asarray(m.hashvalues, dtype=np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures: the share of equal positions, rounded to 4 places."""
    return round(float(np.count_nonzero(a == b)) / len(a), 4)


def band_params(num_perm: int, threshold: float) -> tuple[int, int]:
    """(bands, rows per band): the fewest false candidates while P(candidate | similarity = threshold) >= 0.99."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if 1 - (1 - threshold ** rows) ** bands >= MIN_RECALL:
            best = (bands, rows)
    return best


class SignatureIndex:
    """Kept items' signatures: append-only file + LSH over it. Row i of the file is the i-th kept item."""

    def __init__(self, path: Path, num_perm: int, threshold: float, seed: int = MINHASH_SEED):
        self.path, self.num_perm, self.threshold, self.seed = Path(path), num_perm, threshold, seed
        self.bands, self.rows_per_band = band_params(num_perm, threshold)
        self.row_bytes = 4 * num_perm
        rng = np.random.default_rng(0x5EED)  # fixed: band keys must be the same in every process
        self._mult = rng.integers(1, 2 ** 63, size=self.rows_per_band, dtype=np.uint64) | np.uint64(1)
        self._salt = rng.integers(0, 2 ** 63, size=self.bands, dtype=np.uint64)
        self._keys = np.zeros(0, np.uint64)  # sorted band keys
        self._rows = np.zeros(0, np.uint32)  # row of each key
        self._pending: dict[int, list[int]] = {}  # band key -> rows, added since the last merge
        self._n_pending = 0
        self.n = 0  # rows in the file and the index
        self._file = None

    def _band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """(n, bands) uint64 keys: each band's rows combined with odd multipliers (wrapping), salted by band."""
        used = sigs[:, :self.bands * self.rows_per_band].astype(np.uint64)
        parts = used.reshape(len(sigs), self.bands, self.rows_per_band) * self._mult
        return parts.sum(axis=2, dtype=np.uint64) ^ self._salt

    def open(self, expected: int) -> int:
        """Open the file for `expected` kept items; cut a torn tail or rows beyond `expected`; return rows found.

        Fewer rows than expected (signatures lost in a crash, or a file from another num_perm/seed) means the
        caller must `add` the missing ones before anything else.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = MAGIC + np.array([self.num_perm, self.seed], "<u4").tobytes()
        size = self.path.stat().st_size if self.path.exists() else 0
        ok = False
        if size >= HEADER_BYTES:
            with open(self.path, "rb") as f:
                ok = f.read(HEADER_BYTES) == header
        if not ok:
            size = HEADER_BYTES
            with open(self.path, "wb") as f:
                f.write(header)
                f.flush()
                os.fsync(f.fileno())
        found = min((size - HEADER_BYTES) // self.row_bytes, expected)
        want_size = HEADER_BYTES + found * self.row_bytes
        if size != want_size:
            os.truncate(self.path, want_size)
        self._file = open(self.path, "r+b", buffering=0)  # noqa: SIM115 (closed in close())
        self._file.seek(want_size)
        self._load(found)
        return found

    def _load(self, n_rows: int, chunk: int = 8192) -> None:
        """Build the LSH from the first `n_rows` rows of the file, reading it in chunks."""
        keys, rows = [], []
        for start in range(0, n_rows, chunk):
            count = min(chunk, n_rows - start)
            blob = os.pread(self._file.fileno(), count * self.row_bytes, HEADER_BYTES + start * self.row_bytes)
            sigs = np.frombuffer(blob, "<u4").reshape(count, self.num_perm)
            keys.append(self._band_keys(sigs).ravel())
            rows.append(np.repeat(np.arange(start, start + count, dtype=np.uint32), self.bands))
        if keys:
            all_keys = np.concatenate(keys)
            order = np.argsort(all_keys, kind="stable")
            self._keys, self._rows = all_keys[order], np.concatenate(rows)[order]
        self.n = n_rows

    def signature(self, row: int) -> np.ndarray:
        """The stored signature of a row."""
        blob = os.pread(self._file.fileno(), self.row_bytes, HEADER_BYTES + row * self.row_bytes)
        return np.frombuffer(blob, "<u4")

    def query(self, sig: np.ndarray) -> list[tuple[int, float]]:
        """(row, similarity) of stored signatures at or above the threshold, most similar first, then earliest."""
        keys = self._band_keys(sig.reshape(1, -1))[0]
        cands: set[int] = set()
        if len(self._keys):
            lo = np.searchsorted(self._keys, keys, side="left")
            hi = np.searchsorted(self._keys, keys, side="right")
            for a, b in zip(lo.tolist(), hi.tolist()):
                if b > a:
                    cands.update(self._rows[a:b].tolist())
        for k in keys.tolist():
            cands.update(self._pending.get(k, ()))
        hits = [(row, similarity(sig, self.signature(row))) for row in cands]
        return sorted(((r, s) for r, s in hits if s >= self.threshold), key=lambda h: (-h[1], h[0]))

    def add(self, sig: np.ndarray) -> int:
        """Append a kept item's signature (written through to the OS before returning); returns its row."""
        self._file.write(np.asarray(sig, "<u4").tobytes())
        row = self.n
        self.n += 1
        for k in self._band_keys(sig.reshape(1, -1))[0].tolist():
            self._pending.setdefault(k, []).append(row)
        self._n_pending += self.bands
        if self._n_pending >= PENDING_MAX:
            self._merge()
        return row

    def _merge(self) -> None:
        """Move the pending keys into the sorted arrays (sort the few new keys, then one O(n) insert)."""
        keys = np.fromiter((k for k, rs in self._pending.items() for _ in rs), np.uint64, self._n_pending)
        rows = np.fromiter((r for rs in self._pending.values() for r in rs), np.uint32, self._n_pending)
        order = np.argsort(keys, kind="stable")
        keys, rows = keys[order], rows[order]
        at = np.searchsorted(self._keys, keys, side="right")
        self._keys, self._rows = np.insert(self._keys, at, keys), np.insert(self._rows, at, rows)
        self._pending, self._n_pending = {}, 0

    def sync(self) -> None:
        """fsync the signature file (called before the ledger's own durable appends)."""
        if self._file is not None:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self.sync()
            self._file.close()
            self._file = None

    def memory_bytes(self) -> int:
        """Approximate bytes held by the LSH arrays (pending dict excluded)."""
        return self._keys.nbytes + self._rows.nbytes
