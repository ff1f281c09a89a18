"""Extract the story text of fetched pages into the raw store, or reject pages that hold no real story.

For each URL the fetch stage marked `fetched` that has no raw item yet, reads its gzipped HTML snapshots (one
per page, in reading order), runs read-mode extraction (readability-lxml, HTML to text, story-site
post-filters; scraper/extract/readable.py) and joins the pages into one raw item with its provenance (url,
final url, title, fetched_at, fetch method, extractor name and version, pages joined; sha256 by the raw store).
Pages that hold no story (JavaScript shell, login wall, paywall, app-download wall, consent wall, error page,
empty) are marked `rejected` in the URL manifest with that reason and its evidence.

`--reextract` (or `--force`) runs the extractor again over every fetched URL's kept snapshots, without fetching.
The raw store is append-only: a re-extraction that yields different text adds a NEW raw item (the old one stays,
the manifest points to the new one; later stages' dedup sees both); one that yields the same text is a no-op
(same sha256, same source). A kill at any point loses at most the URL in flight: the raw store adopts a file
written just before the kill, and the manifest is flushed after every URL.

**Reads:** `dataset/metadata/urls.jsonl`, `dataset/snapshots/<host>/*.html.gz`.
**Writes:** `dataset/raw/<host-source>/*.txt`, appends to `dataset/metadata/raw_index.jsonl` and
`dataset/metadata/urls.jsonl`, rewrites `dataset/metadata/extract_manifest.json`.
**Usage:**
    python scripts/extract.py                    # new fetched pages only
    python scripts/extract.py --reextract        # every kept snapshot again (after an extractor upgrade)
"""

import sys

import logging
from dataclasses import dataclass

from tqdm import tqdm

from common.cli import stage_main
from common.config import UserError, config_dict, opt
from common.ledger import write_manifest
from common.paths import DatasetPaths
from common.rawstore import RawStore
from scraper.extract.readable import EXTRACTOR_NAME, EXTRACTOR_VERSION
from scraper.extract.stage import extract_entry, pending_entries, store_result
from scraper.snapshots import MissingSnapshot
from scraper.manifest import UrlManifest

STAGE = "extract"
log = logging.getLogger("miniature_memory.extract")


@dataclass
class ExtractConfig:
    reextract: bool = opt(False, "extract again from the kept snapshots of every fetched URL (no fetching)")
    limit: int = opt(0, "extract at most this many URLs in this run (0: no limit)")


def run(cfg: ExtractConfig, paths: DatasetPaths, force: bool = False) -> dict:
    """Extract pending manifest entries; returns counts (extracted, unchanged, rejected, missing_snapshot)."""
    if cfg.limit < 0:
        raise UserError("limit must be 0 (no limit) or more")
    counts = {"extracted": 0, "unchanged": 0, "rejected": 0, "missing_snapshot": 0}
    by_reason: dict[str, int] = {}
    paths.make_dirs()
    with UrlManifest(paths) as manifest, RawStore(paths) as store:
        todo = pending_entries(manifest, reextract=cfg.reextract or force)
        if cfg.limit:
            todo = todo[:cfg.limit]
        for entry in tqdm(todo, desc="extract", unit="page", disable=None):
            try:
                result = extract_entry(paths, entry)
            except MissingSnapshot as e:
                log.warning(f"skipped {entry['url']}: {e}")
                counts["missing_snapshot"] += 1
                continue
            outcome, detail = store_result(store, manifest, entry, result)
            counts[outcome] += 1
            if outcome == "rejected":
                by_reason[detail] = by_reason.get(detail, 0) + 1
                log.info(f"rejected {entry['url']}: {detail}")
    for reason, n in sorted(by_reason.items()):
        counts[f"rejected_{reason}"] = n
    write_manifest(paths, STAGE, config_dict(cfg), counts, extractor=EXTRACTOR_NAME,
                   extractor_version=EXTRACTOR_VERSION, rejected_by_reason=dict(sorted(by_reason.items())))
    return counts


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, ExtractConfig, run, argv, __doc__, "extract.py")


if __name__ == "__main__":
    sys.exit(main())
