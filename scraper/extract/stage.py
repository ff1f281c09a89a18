"""The extract stage's work, one manifest entry at a time: snapshots in, a raw item or a rejection out.

`pending_entries` picks what to do; `extract_entry` reads an entry's gzipped snapshots and runs the extractor;
`store_result` writes the raw item (with provenance) or the rejection into the raw store and the URL manifest.
The stage script (scripts/extract.py) only loops over these.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

from common.paths import DatasetPaths
from common.rawstore import RawStore
from scraper.extract.readable import EXTRACTOR_NAME, EXTRACTOR_VERSION, Extracted, extract_pages
from scraper.manifest import UrlManifest, now_iso
from scraper.snapshots import MissingSnapshot, read_snapshot

STAGE = "extract"


def source_name(url: str) -> str:
    """Raw-store source of a URL: its host with dots as dashes (`stories.example.org` -> `stories-example-org`)."""
    host = (urlsplit(url).hostname or "unknown").lower()
    return re.sub(r"^www\.", "", host).replace(".", "-")


def doc_id_for(url: str) -> str:
    """Raw-store doc id of a URL: a slug of its path and query plus a short hash of the whole URL."""
    parts = urlsplit(url)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", (parts.path + ("-" + parts.query if parts.query else ""))).strip("-")
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:10]
    return f"{slug[-60:].strip('-') or 'index'}-{digest}"


def was_extract_rejection(entry: dict) -> bool:
    """True for an entry this stage rejected (fetch rejections have no `extractor` field)."""
    return entry.get("status") == "rejected" and entry.get("rejected_by") == STAGE


def needs_extraction(entry: dict, reextract: bool) -> bool:
    """Fetched and not yet extracted from these snapshots; with `reextract`, every entry with snapshots."""
    if reextract:
        return entry.get("status") == "fetched" or was_extract_rejection(entry)
    if entry.get("status") != "fetched":
        return False
    # extracted_from remembers which fetch the item came from: a --refetch since then means extract again
    return not entry.get("item") or entry.get("extracted_from") != entry.get("fetched_at")


def pending_entries(manifest: UrlManifest, reextract: bool) -> list[dict]:
    """Entries to extract, in manifest (discovery) order."""
    return [e for e in manifest.entries() if needs_extraction(e, reextract)]


def extract_entry(paths: DatasetPaths, entry: dict) -> Extracted:
    """Extract an entry's story from its snapshots (all pages, joined in order)."""
    rels = entry.get("snapshots")
    if not isinstance(rels, list) or not rels or not all(isinstance(r, str) for r in rels):
        raise MissingSnapshot("no snapshots recorded for this entry")
    htmls = [read_snapshot(paths, rel) for rel in rels]
    return extract_pages(htmls, entry.get("final_url") or entry["url"])


def store_result(store: RawStore, manifest: UrlManifest, entry: dict, result: Extracted) -> tuple[str, str]:
    """Write a story to the raw store or record a rejection; returns (outcome, reason-or-item).

    outcome is `extracted` (new raw item), `unchanged` (same text already stored: RawStore dedups it) or
    `rejected`. Manifest events are flushed at once, so a kill loses at most the entry in flight.
    """
    url = entry["url"]
    common = {"extracted_at": now_iso(), "extractor": f"{EXTRACTOR_NAME} {EXTRACTOR_VERSION}",
              "extracted_from": entry.get("fetched_at")}
    if not result.ok:
        if was_extract_rejection(entry) and entry.get("reason") == result.reason and \
                entry.get("extracted_from") == entry.get("fetched_at"):
            return "rejected", result.reason  # --reextract reached the same verdict: nothing new to record
        manifest.record(url, "rejected", reason=result.reason, evidence=result.evidence, rejected_by=STAGE,
                        **common)
        manifest.flush()
        return "rejected", result.reason or "no_content"
    extra = {"final_url": entry.get("final_url") or url, "fetched_at": entry.get("fetched_at"),
             "extractor": EXTRACTOR_NAME, "extractor_version": EXTRACTOR_VERSION,
             "pages": result.evidence.get("pages_joined", 1)}
    if entry.get("complete") is False:  # fetch kept the pages before a broken next page: say so, and why
        extra.update(complete=False, stopped_at_page=entry.get("stopped_at_page"),
                     stop_reason=entry.get("stop_reason"))
    item, added = store.add(result.text, source_name(url), doc_id_for(url), url=url, title=result.title,
                            method=entry.get("fetch_method") or "static", extra=extra)
    store.flush()  # the raw index before the manifest: a kill in between re-finds the item by its hash
    if entry.get("status") == "fetched" and entry.get("item") == item and \
            entry.get("extracted_from") == entry.get("fetched_at"):
        return "unchanged", item  # --reextract gave the same text: nothing to record
    stale = {k: None for k in ("reason", "evidence", "rejected_by") if entry.get(k) is not None}
    manifest.record(url, "fetched", item=item, **stale, **common)
    manifest.flush()
    return ("extracted" if added else "unchanged"), item
