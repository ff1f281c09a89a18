"""Filter and deduplicate the items the validate stage kept: one sticky keep/reject decision per item.

Checks, cheapest first; the first that fails gives the reason code (stable, snake_case):
  too_short / too_long   stripped length outside [min_chars, max_chars]
  exact_duplicate        same text as a kept item after NFKC + case folding + whitespace collapsing
  boilerplate            a short text with several app/login/cookie-wall phrases, or the boilerplate_min_copies-th
                         copy of the same short text (earlier copies are logged as duplicates)
  not_narrative          menus, link lists, code, tables, bullet lists, number dumps (corpus/text_heuristics.py)
  content_policy         a rule of the YAML policy fired (default: corpus/content_policy.default.yaml)
  near_duplicate         MinHash estimate of word-5-gram Jaccard similarity to a kept item >= dedup_threshold
  wrong_language         py3langid is confident (>= lang_min_confidence) the text is not in `languages`
Duplicates are only ever looked up among KEPT items, so the earliest copy is kept and later ones point at it
(evidence {"duplicate_of": item, "similarity": x}).

Incremental and crash-safe: items are processed in arrival order and each decision is appended to the ledger once
and never revisited, so adding items never flips an earlier decision, and a run killed at any point (even
SIGKILL) and re-run ends with the same files as an uninterrupted one. The exact-duplicate keys of kept items live
in their ledger records; their MinHash signatures in metadata/filter_minhash.bin (append-only, row i = i-th kept
item, cut back to the ledger on start; see corpus/near_dup.py). A config or policy change, or --force, starts
the ledger and the signature file over. Texts are read one at a time, so memory does not grow with text size.

Parallel: --workers N processes (default: one per CPU core) read and check items ahead (corpus/filter_item.py:
tamper check, length and content checks, exact key, MinHash signature, language); this process applies their
results in arrival order and alone does what depends on earlier items (duplicate lookups, keeping, the ledger). So
every output is byte-identical whatever N, and N is in neither the fingerprint nor the manifest. Fewer than
POOL_MIN_ITEMS (1,000) new items are checked without a pool.

Tamper check: each item's raw file is checked against the sha256 of its raw index record before it is decided
(an edit made after validate ran). A changed file gets no decision (so once the original is restored it is
decided normally); the other items are decided and every output written, then the stage fails naming it.

Language ID: py3langid, picked with bench/langid_compare.py (accuracy on par with langdetect and lingua, 3-10x
faster). It runs on the first lang_sample_chars characters; texts with fewer than lang_min_letters letters there
are never rejected for language (too little to go on), nor are detections below lang_min_confidence.

**Reads:** metadata/validate_ledger.jsonl (items kept by validate), metadata/raw_index.jsonl, raw/<item>.txt, the
policy YAML.
**Writes:** metadata/filter_ledger.jsonl, metadata/filter_minhash.bin, rejected/<reason>/filter.jsonl,
metadata/filter_manifest.json.
**Usage:**
    python scripts/filter_dataset.py
    python scripts/filter_dataset.py --languages en --languages fr --min-chars 500
    python scripts/filter_dataset.py --policy-file my_policy.yaml --force
    python scripts/filter_dataset.py --workers 4
"""

import sys

import logging
from contextlib import closing
from dataclasses import dataclass
from importlib.metadata import version

import numpy as np
from tqdm import tqdm

from common.cli import require_dataset, stage_main
from common.config import StageFailed, UserError, config_dict, fingerprint, opt
from common.ledger import Ledger, read_kept, write_manifest, write_rejections
from common.parallel import ordered_map, resolve_workers
from common.paths import DatasetPaths
from common.rawstore import read_raw_index
from corpus.content_policy import load_policy
from corpus.filter_item import ItemChecks, check_item, init_worker
from corpus.near_dup import Signer, SignatureIndex, band_params, normalise
from corpus.text_heuristics import LanguageGuesser, Verdict

STAGE = "filter"
FILTER_VERSION = 1  # bump when a check changes behaviour: restarts every filter ledger
SIGNATURE_FILE = "filter_minhash.bin"
# Fewer new items than this are checked in this process: starting worker interpreters (about a second) would cost
# more than it saves (the 800-story demo stays under it).
POOL_MIN_ITEMS = 1000
REASONS = ("too_short", "too_long", "exact_duplicate", "boilerplate", "not_narrative", "content_policy",
           "near_duplicate", "wrong_language")
WALL_PHRASES = ["get the app", "download the app", "open in app", "continue in app", "log in", "sign in",
                "sign up", "create an account", "create a free account", "already have an account",
                "forgot your password", "accept cookies", "accept all cookies", "we use cookies", "cookie policy",
                "cookie settings", "enable javascript", "privacy policy", "terms of service", "terms of use",
                "subscribe to continue", "subscribe to read", "to continue reading", "all rights reserved"]
log = logging.getLogger("miniature_memory.filter")


@dataclass
class FilterConfig:
    min_chars: int = opt(300, "reject texts shorter than this (characters, stripped)")
    max_chars: int = opt(2_000_000, "reject texts longer than this (characters)")
    dedup_threshold: float = opt(0.8, "near-duplicate when estimated word-5-gram Jaccard similarity >= this (0-1)")
    num_perm: int = opt(128, "MinHash permutations per signature (64: faster, less precise)")
    boilerplate_max_chars: int = opt(3000, "only texts up to this many characters can be boilerplate walls")
    boilerplate_phrases: list[str] = opt(WALL_PHRASES, "wall phrases (case-insensitive) for the boilerplate check")
    boilerplate_min_phrases: int = opt(2, "a short text with this many distinct wall phrases is boilerplate")
    boilerplate_min_copies: int = opt(3, "the Nth copy of the same short text is logged as boilerplate")
    narrative_checks: bool = opt(True, "reject menus, link lists, code, tables and lists (not_narrative)")
    languages: list[str] = opt(["en"], "allowed languages, ISO 639-1 codes (empty list: no language check)")
    lang_min_confidence: float = opt(0.8, "reject only when the detected language has at least this probability")
    lang_sample_chars: int = opt(1500, "detect the language on this many leading characters")
    lang_min_letters: int = opt(40, "texts with fewer letters in the sample are never language-rejected")
    policy_file: str = opt("", "content-policy YAML (empty: corpus/content_policy.default.yaml)")
    workers: int = opt(0, "worker processes for the per-item work (0: one per CPU core, 1: no pool)")


def check_config(cfg: FilterConfig) -> None:
    """Range checks the types alone cannot express; one-line UserError."""
    if cfg.min_chars < 0 or cfg.max_chars < max(1, cfg.min_chars):
        raise UserError(f"need 0 <= min_chars <= max_chars (got {cfg.min_chars}, {cfg.max_chars})")
    if not 0.0 < cfg.dedup_threshold <= 1.0:
        raise UserError(f"dedup_threshold must be in (0, 1], got {cfg.dedup_threshold}")
    if not 16 <= cfg.num_perm <= 1024:
        raise UserError(f"num_perm must be between 16 and 1024, got {cfg.num_perm}")
    if not 0.0 <= cfg.lang_min_confidence <= 1.0:
        raise UserError(f"lang_min_confidence must be in [0, 1], got {cfg.lang_min_confidence}")
    if cfg.boilerplate_min_phrases < 1 or cfg.boilerplate_min_copies < 2:
        raise UserError("boilerplate_min_phrases must be >= 1 and boilerplate_min_copies >= 2")
    if cfg.lang_sample_chars < 1 or cfg.lang_min_letters < 0:
        raise UserError("lang_sample_chars must be >= 1 and lang_min_letters >= 0")
    resolve_workers(cfg.workers)


def output_config(cfg: FilterConfig) -> dict:
    """The settings the outputs depend on: all but `workers`, which changes the speed and never a decision, so it
    stays out of the fingerprint (a new worker count must not redo everything) and out of the manifest (whose
    bytes must not depend on it)."""
    return {k: v for k, v in config_dict(cfg).items() if k != "workers"}


class Deduper:
    """Exact keys and MinHash signatures of kept items, rebuilt from the ledger and the signature file."""

    def __init__(self, cfg: FilterConfig, paths: DatasetPaths, ledger: Ledger):
        self.cfg, self.signer = cfg, Signer(cfg.num_perm)
        self.index = SignatureIndex(paths.metadata / SIGNATURE_FILE, cfg.num_perm, cfg.dedup_threshold)
        self.by_key: dict[str, str] = {}  # exact key -> kept item
        self.rows: list[str] = []  # signature row -> kept item
        self.copies: dict[str, int] = {}  # kept item -> duplicates of it rejected so far
        for item, rec in ledger.decisions.items():  # ledger order = processing order
            if rec.get("keep"):
                self.rows.append(item)
                self.by_key[rec.get("norm_sha") or f"missing:{item}"] = item
            else:
                dup_of = (rec.get("evidence") or {}).get("duplicate_of")
                if dup_of:
                    self.copies[dup_of] = self.copies.get(dup_of, 0) + 1
        found = self.index.open(len(self.rows))
        for item in self.rows[found:]:  # signatures lost in a crash: recompute them from raw
            self.index.add(self._resign(paths, item))

    def _resign(self, paths: DatasetPaths, item: str) -> np.ndarray:
        try:
            return self.signer.sign(normalise(paths.raw_file(item).read_text(encoding="utf-8", errors="replace")))
        except OSError:
            log.warning(f"raw file of kept item {item} is gone; it no longer counts for near-duplicates")
            return np.full(self.cfg.num_perm, 0xFFFFFFFF, dtype=np.uint32)  # matches no real signature

    def duplicate(self, reason: str, dup_of: str, sim: float, chars: int) -> Verdict:
        """A duplicate verdict; a short text copied boilerplate_min_copies times or more is a boilerplate wall."""
        copies = self.copies.get(dup_of, 0) + 2  # the kept original, earlier copies, this one
        self.copies[dup_of] = copies - 1
        evidence = {"duplicate_of": dup_of, "similarity": sim}
        if chars <= self.cfg.boilerplate_max_chars and copies >= self.cfg.boilerplate_min_copies:
            return Verdict(False, "boilerplate", {**evidence, "rule": "repeated_short_text", "copies": copies})
        return Verdict(False, reason, evidence)

    def keep(self, item: str, key: str, sig: np.ndarray) -> None:
        """Register a kept item (its signature reaches the file before its ledger record)."""
        self.index.add(sig)
        self.rows.append(item)
        self.by_key[key] = item


def decide(checks: ItemChecks, dedup: Deduper) -> tuple[Verdict, str | None, np.ndarray | None]:
    """(verdict, exact key, signature) of one new item from its checks (corpus/filter_item.py), applied in the
    stage's order against the items kept so far; key and signature are set when it is kept."""
    if checks.verdict is not None:
        return checks.verdict, None, None
    if checks.key in dedup.by_key:
        return dedup.duplicate("exact_duplicate", dedup.by_key[checks.key], 1.0, checks.chars), None, None
    if not checks.content.keep:
        return checks.content, None, None
    hits = dedup.index.query(checks.signature)
    if hits:
        row, sim = hits[0]
        return dedup.duplicate("near_duplicate", dedup.rows[row], sim, checks.chars), None, None
    if not checks.language.keep:
        return checks.language, None, None
    return checks.language, checks.key, checks.signature


def run(cfg: FilterConfig, paths: DatasetPaths, force: bool = False) -> dict:
    """Decide every new item kept by validate; rewrite rejections and manifest; return counts."""
    require_dataset(paths)
    check_config(cfg)
    policy = load_policy(cfg.policy_file)
    guesser = LanguageGuesser()
    if cfg.languages:
        unknown = sorted(set(cfg.languages) - set(guesser.labels()))
        if unknown:
            raise UserError(f"unknown language code '{unknown[0]}' in languages (use ISO 639-1 codes like en, fr)")
    paths.make_dirs()
    inputs = read_kept(paths, "validate")
    if not inputs and not paths.ledger("validate").exists():
        log.warning("no validate ledger: nothing to filter (run scripts/validate_raw.py first)")
    settings = output_config(cfg)
    fp = fingerprint({"config": settings, "policy_sha256": policy.sha256, "version": FILTER_VERSION,
                      "py3langid": version("py3langid"), "datasketch": version("datasketch")})
    new, tampered = 0, []
    with Ledger(paths.ledger(STAGE), STAGE, fp, force=force) as ledger:
        dedup = Deduper(cfg, paths, ledger)
        try:
            todo = [i for i in inputs if i not in ledger]
            index = read_raw_index(paths, fields=("sha256", "bytes")) if todo else {}
            # Workers check items ahead; this process takes their results in arrival order and does everything
            # that depends on earlier items (duplicate lookups, keeping, the ledger), exactly as alone.
            checked = ordered_map(check_item, [(i, index.get(i)) for i in todo], cfg.workers, init_worker,
                                  (paths, settings, policy), min_items=POOL_MIN_ITEMS)
            with closing(checked):
                for item, checks in tqdm(zip(todo, checked), total=len(todo), desc="filter", unit="item",
                                         disable=None):
                    if checks.status == "unreadable":
                        log.warning(f"skipped {item}: cannot read its raw file ({checks.message}); re-run validate")
                        continue
                    if checks.status == "tampered":
                        log.warning(f"skipped {item}: {checks.message}")
                        tampered.append(item)
                        continue
                    verdict, key, sig = decide(checks, dedup)
                    if verdict.keep:
                        dedup.keep(item, key, sig)
                        ledger.decide(item, True, norm_sha=key)
                    else:
                        ledger.decide(item, False, verdict.reason, verdict.evidence)
                    new += 1
        finally:
            dedup.index.close()
    current = [ledger.decisions[i] for i in inputs if i in ledger.decisions]
    by_reason = write_rejections(paths, STAGE, current)
    kept = sum(1 for rec in current if rec["keep"])
    totals = {"input": len(inputs), "kept": kept, "rejected": len(current) - kept, **by_reason}
    bands, rows = band_params(cfg.num_perm, cfg.dedup_threshold)
    write_manifest(paths, STAGE, settings, totals, fingerprint=fp, policy_file=policy.path,
                   policy_sha256=policy.sha256, language_id=f"py3langid {version('py3langid')}",
                   signatures=f"metadata/{SIGNATURE_FILE}", lsh={"bands": bands, "rows_per_band": rows},
                   reasons=list(REASONS), sha256_mismatch=tampered[:100])
    if tampered:
        raise StageFailed(f"{len(tampered):,} raw file(s) changed since import (sha256_mismatch), first: "
                          f"raw/{tampered[0]}.txt; they were not filtered: restore the original, or delete it "
                          f"and import the new text, then run validate again")
    return {"new": new, **totals}


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, FilterConfig, run, argv, __doc__, "filter_dataset.py")


if __name__ == "__main__":
    sys.exit(main())
