"""The append-only raw store: one UTF-8 file per item, written once, plus a JSONL provenance index.

File name: `raw/<source>/<YYYYMMDD_HHMMSS>__<source>__<doc id>__<sha256 prefix>.txt` (UTC time of
acquisition). An item id is `<source>/<file stem>`; sorting ids by stem orders items by arrival, which is the
order every later stage processes them in (so "keep the earliest" and stable token ids fall out of it).

Crash safety: the text file is written first (temp + fsync + rename), its index record after. A kill between
the two leaves an "orphan" file, which the next `RawStore.add` of the same content adopts instead of writing
a second copy, so a re-run ends with exactly the files and records of an uninterrupted run. A record that cannot
be stored (text or metadata that is not valid Unicode) is refused before its file is written, and an index append
that fails (disk full) is cut back and the files it would have indexed are removed: every error leaves the store
as it was before the batch, with no file lacking a record.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

from common.fsio import (append_jsonl, atomic_write_bytes, dumps_json, read_jsonl, repair_torn_tail, sha256_bytes,
                         sha256_file)
from common.paths import DatasetPaths

INDEX_VERSION = 1
HASH_PREFIX_LEN = 12
MAX_DOC_ID_LEN = 80
RAW_NAME_RE = re.compile(
    r"^(?P<time>\d{8}_\d{6})__(?P<source>[a-z0-9](?:[a-z0-9-]|_(?!_))*)__(?P<doc_id>.+?)"
    r"__(?P<hash>[0-9a-f]{12})\.txt$")


def safe_source(name: str) -> str:
    """Source names: lowercase letters, digits, '-' and single '_' (so '__' stays a field separator)."""
    s = re.sub(r"[^a-z0-9_-]+", "-", name.strip().lower())
    s = re.sub(r"_{2,}", "_", s).strip("-_")
    return s[:40] or "unknown"


def safe_doc_id(doc_id: str) -> str:
    """Doc ids: letters, digits, '.', '-', single '_'; at most 80 characters; never empty."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", str(doc_id).strip())
    s = re.sub(r"_{2,}", "_", s).strip("-_.")
    return s[:MAX_DOC_ID_LEN].rstrip("-_.") or "doc"


def raw_name(when: datetime, source: str, doc_id: str, sha256: str) -> str:
    """The file name of a raw item (components must already be safe)."""
    stamp = when.astimezone(timezone.utc).strftime("%Y%m%d_%H%M%S")
    return f"{stamp}__{source}__{doc_id}__{sha256[:HASH_PREFIX_LEN]}.txt"


def parse_raw_name(name: str) -> dict | None:
    """Fields of a raw file name (time, source, doc_id, hash), or None when it does not follow the scheme."""
    m = RAW_NAME_RE.match(name)
    return m.groupdict() if m else None


def item_sort_key(item: str) -> tuple[str, str]:
    """Arrival order: by file stem (which starts with the timestamp), then by full id."""
    return item.split("/", 1)[-1], item


def list_raw_items(paths: DatasetPaths) -> list[str]:
    """Every `*.txt` under raw/<source>/ as sorted item ids (`<source>/<stem>`), valid names or not."""
    return list_items(paths.raw)


def list_items(folder: Path) -> list[str]:
    """Item ids (`<source>/<stem>`) of the `*.txt` files in `folder/<source>/`, in arrival order; hidden skipped."""
    items = []
    if folder.is_dir():
        for src_dir in folder.iterdir():
            if src_dir.is_dir() and not src_dir.name.startswith("."):
                items.extend(f"{src_dir.name}/{p.name[:-4]}" for p in src_dir.iterdir()
                             if p.is_file() and p.name.endswith(".txt") and not p.name.startswith("."))
    return sorted(items, key=item_sort_key)


def read_raw_index(paths: DatasetPaths, fields: tuple[str, ...] | None = None) -> dict[str, dict]:
    """Provenance records by item id (a later record for the same file wins; torn lines are ignored).
    `fields` keeps only those keys per record, so a stage that needs two fields of 100k records stays small."""
    out = {}
    for rec in read_jsonl(paths.raw_index):
        rel = rec.get("path")
        if isinstance(rel, str) and rel.endswith(".txt"):
            out[rel[:-4]] = rec if fields is None else {k: rec.get(k) for k in fields}
    return out


class Tampered(Exception):
    """A raw file whose bytes are not the ones its index record names: edited (or replaced) after import."""

    def __init__(self, item: str, expected: str | None, actual: str):
        super().__init__(f"raw/{item}.txt changed since import (sha256_mismatch)")
        self.item, self.evidence = item, {"expected": expected, "actual": actual}


def read_raw_verified(paths: DatasetPaths, item: str, record: dict | None) -> bytes:
    """The bytes of an item's raw file, checked against the sha256 of its index record (`record`, from
    read_raw_index); Tampered when they differ or there is no record. Later stages call this so an edit made
    after validate never reaches cleaned/ or processed/."""
    data = paths.raw_file(item).read_bytes()
    actual = sha256_bytes(data)
    expected = (record or {}).get("sha256")
    if actual != expected:
        raise Tampered(item, expected, actual)
    return data


def utc_iso(when: datetime) -> str:
    """`2026-11-22T10:04:05Z`."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Unstorable(ValueError):
    """An item the raw store refuses (e.g. text with lone surrogates, which UTF-8 cannot encode)."""


class RawStore:
    """Adds items to the raw store; use as a context manager so index records are flushed on exit."""

    def __init__(self, paths: DatasetPaths):
        self.paths = paths
        self.index = read_raw_index(paths, fields=("source", "sha256"))
        # (source, sha256) -> item id: answers "already stored?" without a scan.
        self.known = {(r["source"], r["sha256"]): item for item, r in self.index.items()}
        self._orphans: dict[str, dict[tuple[str, str], Path]] = {}  # source -> (doc_id, hash) -> file
        self._pending: list[dict] = []
        self._written: set[str] = set()  # files this store wrote whose records are still pending

    def __enter__(self) -> "RawStore":
        return self

    def __exit__(self, *exc) -> None:
        self.flush()

    def flush(self) -> None:
        """Append buffered index records (one fsync for the batch). All or nothing: when the append fails (disk
        full), the index is cut back to its old end, the files written for the batch are removed and the error is
        raised, so no raw file is left without its record."""
        if not self._pending:
            return
        pending, written = self._pending, self._written
        self._pending, self._written = [], set()
        index, size = self.paths.raw_index, None
        try:
            repair_torn_tail(index)
            size = index.stat().st_size if index.exists() else 0
            append_jsonl(index, pending)
        except OSError:
            self._roll_back(size, pending, written)
            raise

    def _roll_back(self, size: int | None, pending: list[dict], written: set[str]) -> None:
        """Undo a failed append: cut the index back to `size` bytes (None: nothing was appended yet), then
        forget the batch and remove the files it wrote."""
        if size is not None:
            try:
                os.truncate(self.paths.raw_index, size)
            except FileNotFoundError:
                pass
            except OSError:
                return  # the index may hold some of the records: keep their files (the next append repairs it)
        for rec in pending:
            item = rec["path"][:-4]
            self.index.pop(item, None)
            self.known.pop((rec["source"], rec["sha256"]), None)
            if rec["path"] in written:
                (self.paths.raw / rec["path"]).unlink(missing_ok=True)

    def _orphans_of(self, source: str) -> dict[tuple[str, str], Path]:
        if source not in self._orphans:
            found = {}
            folder = self.paths.raw / source
            if folder.is_dir():
                for tmp in folder.glob(".*.tmp"):
                    tmp.unlink(missing_ok=True)  # half-written by a killed run; never a raw item
                for p in folder.glob("*.txt"):
                    f = parse_raw_name(p.name)
                    if f and f"{source}/{p.name[:-4]}" not in self.index:
                        found[(f["doc_id"], f["hash"])] = p
            self._orphans[source] = found
        return self._orphans[source]

    def contains(self, source: str, text: str) -> bool:
        """True when this exact content is already stored under this source."""
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            return False  # not storable at all (add() refuses it with the reason)
        return (safe_source(source), sha256_bytes(data)) in self.known

    def add(self, text: str, source: str, doc_id: str, *, url: str | None = None, title: str | None = None,
            method: str = "import", when: datetime | None = None, extra: dict | None = None) -> tuple[str, bool]:
        """Store `text` once; returns (item id, added). Same content from the same source is a no-op."""
        source, doc_id = safe_source(source), safe_doc_id(doc_id)
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise Unstorable(f"text is not valid Unicode (lone surrogate at character {e.start})") from None
        digest = sha256_bytes(data)
        if (source, digest) in self.known:
            return self.known[(source, digest)], False
        orphan = self._orphans_of(source).pop((doc_id, digest[:HASH_PREFIX_LEN]), None)
        adopted = orphan is not None and sha256_file(orphan) == digest
        if adopted:
            # Written by a run that was killed before its index record: adopt it, keep its original time.
            path = orphan
            stamp = parse_raw_name(orphan.name)["time"]
            when = datetime.strptime(stamp, "%Y%m%d_%H%M%S").replace(tzinfo=timezone.utc)
        else:
            when = when or datetime.now(timezone.utc)
            path = self.paths.raw / source / raw_name(when, source, doc_id, digest)
        rel = f"{source}/{path.name}"
        rec = {"v": INDEX_VERSION, "path": rel, "source": source, "doc_id": doc_id, "url": url,
               "title": title, "time": utc_iso(when), "method": method, "sha256": digest,
               "chars": len(text), "bytes": len(data)}
        if extra:
            rec.update({k: v for k, v in extra.items() if k not in rec})
        try:  # a record that cannot be written must be refused before its file exists (no orphan)
            dumps_json(rec).encode("utf-8")
        except (TypeError, ValueError, RecursionError) as e:
            raise Unstorable(f"its metadata cannot be stored as JSON ({str(e)[:80]})") from None
        if not adopted and not path.exists():
            atomic_write_bytes(path, data)
            self._written.add(rel)
        self._pending.append(rec)
        item = rel[:-4]
        self.index[item] = {"source": source, "sha256": digest}
        self.known[(source, digest)] = item
        if len(self._pending) >= 256:
            self.flush()
        return item, True
