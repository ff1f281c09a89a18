"""Clean every item the filter stage kept: mojibake, HTML, whitespace, site artifacts, scene breaks, wrapping.

The text rules live in `corpus/text_cleaning.py` (`clean_text`, documented step by step there) and the
artifact / scene-break patterns in `corpus/site_artifacts.default.yaml` (or your own `--rules-file`). Cleaning
never drops a character for not being ASCII, and `clean_text(clean_text(x)) == clean_text(x)`.

Each kept item is read from raw/, cleaned and written to `cleaned/<source>/<same name>.txt` (atomic rename). An
item that cleans to fewer than `min_chars` visible characters is not written and is rejected with reason
`empty_after_clean`. Cleaned files of items that are no longer kept (the filter changed its mind) or whose raw
file vanished are deleted, as are temp files left by a killed run.

Incremental: `metadata/clean_ledger.jsonl` records each item's outcome (size and sha256 of its cleaned file,
and `raw_sha256`, the sha256 of the raw bytes it was cleaned from) under a header fingerprint of the config, the
rules' text and `CLEAN_VERSION`; an item that loses its cleaned file gets a `dropped_upstream` record, so
`read_kept(paths, "clean")` lists exactly the items in cleaned/. An item is skipped as unchanged when its record's
`raw_sha256` is the sha256 of its raw index record and its cleaned file has the recorded size; when the
fingerprint changes (new config, edited rules, new cleaning code) or with --force everything is redone. Because
cleaning is a pure function of the raw bytes and the fingerprint, a run killed at any point and re-run, or a run
after deleting cleaned/, gives a byte-identical cleaned/ tree. Raw files are only read.

Parallel: --workers N processes (default: one per CPU core) read, check, clean and write items ahead
(corpus/clean_item.py; the files are not fsynced one by one, which cost more than cleaning them: this process
flushes the filesystem once per ledger flush, before the records naming the files);
this process appends their ledger records in item order. Each cleaned file is a pure function of its raw bytes
and the ledger's order is the item order, so every output is byte-identical whatever N, and N is in neither the
fingerprint nor the manifest. Fewer than POOL_MIN_ITEMS (1,000) items to clean are cleaned without a pool.

Tamper check: the raw bytes an item is cleaned from must have the sha256 of its raw index record (an edit made
after validate ran). A changed file is not cleaned (its old cleaned file, if any, is removed as it can no longer
be checked); the other items are cleaned and every output written, then the stage fails naming it. Once the
original is restored, the next run cleans it from the right bytes.

**Reads:** `dataset/metadata/filter_ledger.jsonl` (kept items), `dataset/metadata/raw_index.jsonl`,
`dataset/raw/**`.
**Writes:** `dataset/cleaned/<source>/*.txt`, `dataset/metadata/clean_ledger.jsonl`,
`dataset/rejected/empty_after_clean/clean.jsonl`, `dataset/metadata/clean_manifest.json`.
**Usage:**
    python scripts/clean_dataset.py
    python scripts/clean_dataset.py --rules-file my_rules.yaml --no-unwrap
    python scripts/clean_dataset.py --extra-line-patterns 'visit my patreon.{0,60}' --force
    python scripts/clean_dataset.py --workers 1
"""

import sys
from pathlib import Path

import logging
from contextlib import closing
from dataclasses import dataclass

from tqdm import tqdm

from common.cli import require_dataset, stage_main
from common.config import StageFailed, UserError, config_dict, fingerprint, opt
from common.ledger import Ledger, read_kept, write_manifest, write_rejections
from common.parallel import ordered_map, resolve_workers
from common.paths import DatasetPaths
from common.rawstore import item_sort_key, read_raw_index
from corpus.clean_item import clean_item, init_worker, rules_spec, sync_written
from corpus.clean_rules import Rules, compile_rules, load_rules_file
from corpus.text_cleaning import clean_text

STAGE = "clean"
INPUT_STAGE = "filter"
# Bump when clean_text changes its output for some input: every item is cleaned again on the next run.
CLEAN_VERSION = 2
REASONS = ("empty_after_clean",)
# Ledger-only marker (never under rejected/): the item was cleaned before but is no longer kept upstream or its
# raw file is gone, so read_kept(paths, "clean") lists exactly the items that have a cleaned file.
DROPPED = "dropped_upstream"
# Fewer items to clean than this are cleaned in this process: starting worker interpreters (about a second) would
# cost more than it saves (the 800-story demo stays under it).
POOL_MIN_ITEMS = 1000
log = logging.getLogger("miniature_memory.clean")

__all__ = ["CleanConfig", "clean_text", "build_rules", "clean_fingerprint", "run", "main"]


@dataclass
class CleanConfig:
    rules_file: str = opt("", "YAML of artifact and scene-break patterns (empty: scripts/site_artifacts."
                              "default.yaml)")
    extra_line_patterns: list[str] = opt([], "more regexes: a line that fully matches one is dropped "
                                             "(case-insensitive)")
    extra_inline_patterns: list[str] = opt([], "more regexes: cut out wherever they match (case-insensitive)")
    extra_scene_break_patterns: list[str] = opt([], "more regexes: a line that fully matches one becomes the "
                                                    "scene break '* * *' (case-sensitive)")
    unwrap: bool = opt(True, "join hard-wrapped paragraphs (lines broken at a fixed width) into one line each")
    wrap_min_width: int = opt(55, "unwrap only paragraphs whose longest line has at least this many chars")
    wrap_max_width: int = opt(100, "... and at most this many chars")
    min_chars: int = opt(1, "reject items with fewer visible (non-space) characters than this after cleaning")
    workers: int = opt(0, "worker processes for the per-item work (0: one per CPU core, 1: no pool)")


def build_rules(cfg: CleanConfig) -> Rules:
    """The compiled rules of a config: its rules file plus the extra patterns; bad patterns are UserErrors."""
    base = load_rules_file(cfg.rules_file or None)
    return compile_rules(line_patterns=base["line_patterns"] + cfg.extra_line_patterns,
                         inline_patterns=base["inline_patterns"] + cfg.extra_inline_patterns,
                         scene_break_patterns=base["scene_break_patterns"] + cfg.extra_scene_break_patterns,
                         unwrap=cfg.unwrap, wrap_min_width=cfg.wrap_min_width,
                         wrap_max_width=cfg.wrap_max_width)


def clean_fingerprint(cfg: CleanConfig, rules: Rules) -> str:
    """What the cleaned files depend on besides raw: config, the rules' text (not its path), code version."""
    settings = {k: v for k, v in output_config(cfg).items() if k != "rules_file"}
    return fingerprint({"config": settings, "rules": rules.spec, "version": CLEAN_VERSION})


def output_config(cfg: CleanConfig) -> dict:
    """The settings the outputs depend on: all but `workers`, which changes the speed and never a byte, so it stays
    out of the fingerprint (a new worker count must not redo everything) and out of the manifest."""
    return {k: v for k, v in config_dict(cfg).items() if k != "workers"}


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def remove_stale(paths: DatasetPaths, keep: set[str]) -> int:
    """Delete cleaned/*.txt files whose item is not in `keep`, temp files of killed writes, empty folders."""
    removed = 0
    if not paths.cleaned.is_dir():
        return 0
    for src_dir in sorted(paths.cleaned.iterdir()):
        if not src_dir.is_dir():
            continue
        for f in sorted(src_dir.iterdir()):
            if not f.is_file():
                continue
            if f.name.startswith(".") and f.name.endswith(".tmp"):
                f.unlink()  # an atomic write cut short by a kill
            elif f.name.endswith(".txt") and f"{src_dir.name}/{f.name[:-4]}" not in keep:
                f.unlink()
                removed += 1
        try:
            src_dir.rmdir()  # only succeeds when empty
        except OSError:
            pass
    return removed


def run(cfg: CleanConfig, paths: DatasetPaths, force: bool = False) -> dict:
    """Clean what the filter kept; returns counts: cleaned (written this run), unchanged (already current),
    rejected (inputs that clean to nothing, this run or before), removed (stale cleaned files deleted)."""
    if cfg.min_chars < 0:
        raise UserError("min_chars must be 0 or more")
    resolve_workers(cfg.workers)
    rules = build_rules(cfg)
    require_dataset(paths)
    if not paths.ledger(INPUT_STAGE).is_file():
        raise UserError(f"no {INPUT_STAGE} ledger at {paths.ledger(INPUT_STAGE)}: run the filter stage first")
    # Filter decisions are final, but validate rechecks raw every run: an item it no longer keeps (edited
    # raw file) must leave cleaned/ too.
    valid = set(read_kept(paths, "validate"))
    items = [i for i in read_kept(paths, INPUT_STAGE) if i in valid]
    fp = clean_fingerprint(cfg, rules)
    index = read_raw_index(paths, fields=("sha256",))
    counts = {"cleaned": 0, "unchanged": 0, "rejected": 0, "removed": 0}
    decisions, keep, vanished, bytes_in, bytes_out, tampered = [], set(), 0, 0, 0, []
    paths.cleaned.mkdir(parents=True, exist_ok=True)
    with Ledger(paths.ledger(STAGE), STAGE, fp, force=force,
                before_flush=lambda records: sync_written(paths, records)) as ledger:
        plan = []  # (item, its previous record, current?) in item order
        for item in items:
            if not paths.raw_file(item).is_file():
                vanished += 1  # deleted from raw/ after the filter ran: its cleaned file goes below
                continue
            prev = ledger.decisions.get(item)
            if prev is not None and prev.get("reason") == DROPPED:
                prev = None  # kept again upstream: clean it afresh
            # Current only when made from the recorded raw bytes (an output made from an edited file, or by a
            # version that did not record them, is redone) and its cleaned file is still there.
            raw_sha = index.get(item, {}).get("sha256")
            current = (prev is not None and raw_sha is not None and prev.get("raw_sha256") == raw_sha
                       and (not prev["keep"] or _size(paths.cleaned_file(item)) == prev.get("bytes")))
            plan.append((item, prev, current))
        # Workers clean and write files ahead; this process appends the ledger records in item order, as alone.
        jobs = [(item, index.get(item)) for item, _, current in plan if not current]
        results = ordered_map(clean_item, jobs, cfg.workers, init_worker, (paths, rules_spec(rules), cfg.min_chars),
                              min_items=POOL_MIN_ITEMS)
        with closing(results):
            for item, prev, current in tqdm(plan, desc="clean", unit="item", disable=None):
                if current:
                    rec = prev
                    counts["rejected" if not rec["keep"] else "unchanged"] += 1
                else:
                    res = next(results)
                    if res.status == "tampered":
                        log.warning(f"skipped {item}: {res.message}")
                        tampered.append(item)
                        continue
                    fields = res.fields
                    bytes_in += res.raw_bytes
                    if fields["keep"]:  # its cleaned file is written (by the worker)
                        bytes_out += fields["bytes"]
                        counts["cleaned"] += 1
                    else:
                        counts["rejected"] += 1
                    new = {"item": item, "reason": None, **fields}
                    if prev is not None and {k: prev.get(k) for k in new} == new:
                        rec = prev  # file was deleted by hand and rewritten identically: the record stands
                    else:
                        rec = ledger.decide(item, fields["keep"], fields.get("reason"), fields.get("evidence"),
                                            **{k: v for k, v in fields.items()
                                               if k not in ("keep", "reason", "evidence")})
                decisions.append(rec)
                if rec["keep"]:
                    keep.add(item)
        for item in sorted(set(ledger.decisions) - keep, key=item_sort_key):
            if ledger.decisions[item]["keep"]:
                ledger.decide(item, False, DROPPED)
    counts["removed"] = remove_stale(paths, keep)
    rejected = write_rejections(paths, STAGE, decisions)
    write_manifest(paths, STAGE, output_config(cfg), counts, fingerprint=fp, clean_version=CLEAN_VERSION,
                   rejected_by_reason=rejected, inputs=len(items), vanished=vanished, kept=len(keep),
                   bytes_in_this_run=bytes_in, bytes_out_this_run=bytes_out, sha256_mismatch=tampered[:100])
    if vanished:
        log.warning(f"{vanished:,} kept items have no raw file any more (deleted from raw/?); re-run the "
                    f"validate and filter stages")
    if tampered:
        raise StageFailed(f"{len(tampered):,} raw file(s) changed since import (sha256_mismatch), first: "
                          f"raw/{tampered[0]}.txt; they were not cleaned: restore the original, or delete it and "
                          f"import the new text, then run validate again")
    return counts


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, CleanConfig, run, argv, __doc__, "clean_dataset.py")


if __name__ == "__main__":
    sys.exit(main())
