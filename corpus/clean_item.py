"""The clean stage's work on one item; scripts/clean_dataset.py runs it in worker processes (common/parallel.py)
and appends the ledger records, in item order, itself.

`clean_item` reads an item's raw bytes (with the tamper check), cleans them (corpus/text_cleaning.py), writes the
cleaned file (atomic: temp file, rename) and returns the item's decision fields, or a rejection when too little
text is left. The worker writes the file, not the stage's process, and without an fsync: with small items an
fsync per file took far longer than the cleaning (about 7 ms against 0.1 ms for a 700-byte story on one test
machine; 0.33 ms on another, where the journal served the fsyncs of several processes one at a time and capped 2
workers near 1.6x one). The stage's process instead flushes the whole filesystem once per ledger flush
(`sync_written`, common/fsio.py's sync_filesystem), before the records naming those files are appended; a system
without such a call (Windows) gets an fsync per file and one per folder instead. The
order of the writes does not matter: each item has its own file, a pure function of its raw bytes, and a file
written ahead of its ledger record (or lost in a power cut before the flush) is simply written again by the next
run.

A changed raw file is a tagged result rather than an exception: Tampered does not survive pickling between
processes.
"""

from __future__ import annotations

from typing import NamedTuple

from common.fsio import atomic_write_bytes, can_sync_filesystem, fsync_dir, sha256_bytes, sync_filesystem
from common.paths import DatasetPaths
from common.rawstore import Tampered, read_raw_verified
from corpus.clean_rules import Rules, compile_rules
from corpus.text_cleaning import clean_text


class Cleaned(NamedTuple):
    """One item's outcome. `status`: "ok", or "tampered" with `message`."""

    status: str
    message: str = ""
    fields: dict | None = None  # decision fields for the ledger (keep, reason, evidence, bytes, sha256, raw_sha256)
    raw_bytes: int = 0  # size of the raw file it was cleaned from


# This process's rules, compiled once by init_worker (compiling the combined patterns per item would dominate).
_state: dict = {}


def rules_spec(rules: Rules) -> dict:
    """The arguments of compile_rules that rebuild `rules` (pattern lists and unwrap settings)."""
    return {**rules.spec, "unwrap": rules.unwrap, "wrap_min_width": rules.wrap_min_width,
            "wrap_max_width": rules.wrap_max_width}


def init_worker(paths: DatasetPaths, spec: dict, min_chars: int) -> None:
    """Set up this process: compile the rules from `spec` (rules_spec of the stage's rules, whose patterns are the
    ones in its fingerprint, even if the rules file is edited mid-run)."""
    _state.update(paths=paths, rules=compile_rules(**spec), min_chars=min_chars, batch_sync=can_sync_filesystem())


def visible_chars(text: str) -> int:
    """Characters that are not whitespace."""
    return len(text) - sum(text.count(c) for c in " \n")


def clean_bytes(raw: bytes, rules: Rules, min_chars: int, raw_sha: str) -> tuple[bytes | None, dict]:
    """Clean raw bytes: (bytes to write or None when rejected, its decision fields)."""
    text = clean_text(raw.decode("utf-8", errors="replace"), rules)
    chars = visible_chars(text)
    if chars < min_chars:
        return None, {"keep": False, "reason": "empty_after_clean", "raw_sha256": raw_sha,
                      "evidence": {"raw_bytes": len(raw), "chars_after_clean": chars, "min_chars": min_chars}}
    data = text.encode("utf-8")
    return data, {"keep": True, "bytes": len(data), "sha256": sha256_bytes(data), "raw_sha256": raw_sha}


def sync_written(paths: DatasetPaths, records: list[dict]) -> None:
    """Flush the cleaned files these ledger records say were written to disk (Ledger's before_flush), so a record
    never outlives its file in a power cut: one filesystem flush for the whole batch (where the system has none,
    the workers fsynced each file and their folders are fsynced here)."""
    if not any(r["keep"] for r in records):
        return
    if can_sync_filesystem():
        sync_filesystem(paths.cleaned)
        return
    for folder in sorted({paths.cleaned_file(r["item"]).parent for r in records if r["keep"]}):
        fsync_dir(folder)


def clean_item(job: tuple[str, dict | None]) -> Cleaned:
    """Clean one (item, raw index record) job and write its cleaned file unless rejected, in a process set up by
    init_worker; the raw bytes must have the record's sha256."""
    item, record = job
    paths = _state["paths"]
    try:
        raw = read_raw_verified(paths, item, record)
    except Tampered as e:
        return Cleaned("tampered", str(e))
    data, fields = clean_bytes(raw, _state["rules"], _state["min_chars"], record["sha256"])
    if data is not None:
        # flushed by sync_written, once per ledger flush (where the system cannot, each file is fsynced)
        atomic_write_bytes(paths.cleaned_file(item), data, sync_dir=False, fsync=not _state["batch_sync"])
    return Cleaned("ok", fields=fields, raw_bytes=len(raw))
