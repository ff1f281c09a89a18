"""Per-stage decision journals, rejection logs and manifests.

A stage that decides keep/reject per item appends its decisions to `metadata/<stage>_ledger.jsonl` in item
order. The first line is a header holding the stage's config fingerprint: when the config changes (or --force),
the ledger starts over, so decisions are always a function of raw + config. Because decisions are appended in
processing order and a torn last line is dropped, a stage killed at any point and re-run ends with the same
ledger bytes as an uninterrupted run.

At the end of a run, `write_rejections` rewrites `rejected/<reason>/<stage>.jsonl` (sorted, atomic) and
`write_manifest` rewrites `metadata/<stage>_manifest.json`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from common.fsio import append_jsonl, read_jsonl, write_json, write_jsonl
from common.paths import DatasetPaths
from common.rawstore import item_sort_key

LEDGER_VERSION = 1
FLUSH_EVERY = 200  # decisions buffered between appends (each append is one fsync)


class Ledger:
    """Decisions of one stage by item id; `decide` buffers, `flush` appends. `before_flush(records)`, when given,
    runs before each append with the records about to be appended (e.g. to make their output files durable
    first, so a record never survives a crash its file did not)."""

    def __init__(self, path: Path, stage: str, config_fp: str, force: bool = False,
                 before_flush: Callable[[list[dict]], None] | None = None):
        self.path, self.stage, self.config_fp = Path(path), stage, config_fp
        self.before_flush = before_flush
        self.decisions: dict[str, dict] = {}
        self._pending: list[dict] = []
        records = list(read_jsonl(self.path))
        header = records[0] if records else {}
        valid = (header.get("header") and header.get("config") == config_fp
                 and header.get("v") == LEDGER_VERSION)
        if force or not valid:
            self.path.unlink(missing_ok=True)
            append_jsonl(self.path, [{"header": True, "stage": stage, "config": config_fp, "v": LEDGER_VERSION}])
        else:
            for rec in records[1:]:
                if isinstance(rec.get("item"), str):
                    self.decisions[rec["item"]] = rec

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.flush()

    def __contains__(self, item: str) -> bool:
        return item in self.decisions

    def decide(self, item: str, keep: bool, reason: str | None = None, evidence: dict | None = None,
               **extra) -> dict:
        """Record a decision; `reason` is a snake_case code for rejections, `evidence` explains it."""
        rec = {"item": item, "keep": bool(keep), "reason": None if keep else reason}
        if evidence:
            rec["evidence"] = evidence
        rec.update(extra)
        self.decisions[item] = rec
        self._pending.append(rec)
        if len(self._pending) >= FLUSH_EVERY:
            self.flush()
        return rec

    def flush(self) -> None:
        """Append buffered decisions durably."""
        if self._pending:
            if self.before_flush is not None:
                self.before_flush(self._pending)
            append_jsonl(self.path, self._pending)
            self._pending = []

    def kept(self, among: Iterable[str] | None = None) -> list[str]:
        """Kept item ids in arrival order (restricted to `among` when given, e.g. items still present)."""
        pool = self.decisions if among is None else [i for i in among if i in self.decisions]
        return sorted((i for i in pool if self.decisions[i]["keep"]), key=item_sort_key)


def read_kept(paths: DatasetPaths, stage: str) -> list[str]:
    """Items a stage kept, read from its ledger without touching it (for the next stage)."""
    kept: dict[str, bool] = {}
    for rec in read_jsonl(paths.ledger(stage)):
        if isinstance(rec.get("item"), str):
            kept[rec["item"]] = bool(rec.get("keep"))
    return sorted((i for i, k in kept.items() if k), key=item_sort_key)


def write_rejections(paths: DatasetPaths, stage: str, decisions: Iterable[dict]) -> dict[str, int]:
    """Rewrite `rejected/<reason>/<stage>.jsonl` from decisions; drop files of reasons with none left."""
    by_reason: dict[str, list[dict]] = {}
    for rec in decisions:
        if not rec.get("keep"):
            reason = rec.get("reason") or "unknown"
            by_reason.setdefault(reason, []).append(
                {"item": rec["item"], "stage": stage, "reason": reason, "evidence": rec.get("evidence") or {}})
    for reason, recs in by_reason.items():
        recs.sort(key=lambda r: item_sort_key(r["item"]))
        write_jsonl(paths.rejected / reason / f"{stage}.jsonl", recs)
    if paths.rejected.is_dir():
        for old in paths.rejected.glob(f"*/{stage}.jsonl"):
            if old.parent.name not in by_reason:
                old.unlink()
                try:
                    old.parent.rmdir()
                except OSError:
                    pass  # other stages still log rejections under this reason
    return {reason: len(recs) for reason, recs in sorted(by_reason.items())}


def write_manifest(paths: DatasetPaths, stage: str, config: dict, counts: dict, **extra) -> None:
    """Rewrite `metadata/<stage>_manifest.json`: resolved config, counts by reason, anything else useful."""
    write_json(paths.manifest(stage), {"stage": stage, "config": config, "counts": counts, **extra})
