"""Fetch the pages the search stage found: polite, safe, bounded; HTML kept as gzipped snapshots.

Takes the URL manifest's `new` entries (plus `failed` ones with attempts left, and with --refetch the `fetched`
ones again), checks each URL (http/https only; no private, loopback or link-local address unless
allow_private_hosts; robots.txt per RFC 9309), waits for the host's turn (one request at a time per host,
`delay` seconds apart, at least the robots Crawl-delay), fetches it with retries and size/type limits, renders
it in headless Chromium when fetch_mode asks for it, follows "next page" links of multi-page stories, and records
the outcome (fetched / rejected with a reason / failed with the error) in the manifest. A canonical URL is never
fetched twice unless --refetch. Rejection reasons: robots, bad_scheme, bad_url (also a manifest URL no client can
use, e.g. `http://*.example.com/`), private_host, content_type, too_large, too_many_redirects, js_no_browser.

A next link is followed only when it looks like the same story's next page (scraper/fetch/pages.py). When page
k >= 2 of a story breaks, pages 1..k-1 are never lost: a permanent error (4xx, a rejection) keeps them as a
story with `complete: false`, `stopped_at_page`, `stop_reason` (`http_404`, `robots`, `max_pages`...) and
`stop_error`; a temporary one (5xx, 429, timeout, network) records `failed` with a `resume` point, the next run
goes on at page k, and the run that uses the last of `max_attempts` keeps pages 1..k-1 as an incomplete story.

**Reads:** `dataset/metadata/urls.jsonl` (the URL manifest), the web.
**Writes:** `dataset/snapshots/<host>/<sha256(url)[:20]>[__p<N>].html.gz` (see scraper/snapshots.py), appends
to `dataset/metadata/urls.jsonl`, rewrites `dataset/metadata/fetch_manifest.json`.
**Usage:**
    python scripts/fetch.py                               # fetch what search found (fetch_mode auto)
    python scripts/fetch.py --fetch-mode static --delay 5 --concurrency 1
    python scripts/fetch.py --fetch-mode browser --refetch  # render everything again in Chromium
"""

import sys

import logging
from dataclasses import dataclass

from common.cli import stage_main
from common.config import UserError, config_dict, opt
from common.ledger import write_manifest
from common.paths import DatasetPaths
from scraper import DEFAULT_USER_AGENT
from scraper.fetch.runner import FetchRun, due_entries, require_browser
from scraper.manifest import UrlManifest

STAGE = "fetch"
FETCH_MODES = ("static", "browser", "auto")
log = logging.getLogger("miniature_memory.fetch")


@dataclass
class FetchConfig:
    fetch_mode: str = opt("auto", "static, browser (render every page in Chromium) or auto (render only "
                                  "pages whose static HTML has no story: JavaScript shells, thin pages)")
    user_agent: str = opt(DEFAULT_USER_AGENT, "User-Agent sent with every request; keep a contact URL in it")
    delay: float = opt(2.0, "seconds between two requests to the same host (raised to robots.txt Crawl-delay)")
    max_crawl_delay: float = opt(60.0, "skip hosts whose robots.txt Crawl-delay is longer than this (seconds)")
    concurrency: int = opt(2, "hosts fetched at the same time (each host still gets one request at a time)")
    connect_timeout: float = opt(10.0, "seconds to wait for a connection")
    read_timeout: float = opt(30.0, "seconds to wait for the server between two pieces of the answer")
    total_timeout: float = opt(120.0, "seconds one whole request may take: connect, headers and body")
    max_redirects: int = opt(5, "redirects followed per page (each hop is checked like the first URL)")
    max_retries: int = opt(3, "retries after a 429, a 5xx or a network error")
    backoff: float = opt(1.0, "first retry wait in seconds; doubles each retry (Retry-After wins if longer)")
    max_retry_wait: float = opt(60.0, "longest wait before one retry, Retry-After included (seconds)")
    max_bytes: int = opt(5_000_000, "largest page body accepted (bytes, after decompression)")
    content_types: list[str] = opt(["text/html", "application/xhtml+xml"], "content types accepted as pages")
    allow_private_hosts: bool = opt(False, "allow private, loopback and link-local addresses (local test sites)")
    max_pages: int = opt(20, "pages followed per multi-page story (rel=next, 'next page/chapter' links)")
    max_attempts: int = opt(3, "runs that may try a failing URL before it is left alone")
    refetch: bool = opt(False, "fetch URLs already fetched again (new snapshots replace the old ones)")
    max_urls: int = opt(0, "fetch at most this many URLs this run (0: all that are due)")
    thin_chars: int = opt(500, "auto mode: render pages whose extracted story is shorter than this (chars)")
    browser_path: str | None = opt(None, "Chromium executable to use (default: Playwright's own, else the system's)")
    browser_timeout: float = opt(30.0, "seconds a browser navigation may take")
    browser_idle_wait: float = opt(3.0, "seconds to wait after load for the page's network to go quiet")
    browser_restart_every: int = opt(50, "pages rendered before the browser is restarted (bounds its memory)")


def check_config(cfg: FetchConfig) -> None:
    """One-line UserErrors for settings that cannot work."""
    if cfg.fetch_mode not in FETCH_MODES:
        raise UserError(f"fetch_mode must be one of {', '.join(FETCH_MODES)}, got {cfg.fetch_mode!r}")
    if not cfg.user_agent.strip():
        raise UserError("user_agent must not be empty: sites need to know who is fetching")
    for name in ("delay", "max_crawl_delay", "backoff", "max_retry_wait", "max_retries", "max_redirects",
                 "max_urls"):
        if getattr(cfg, name) < 0:
            raise UserError(f"{name} must not be negative, got {getattr(cfg, name)}")
    for name in ("concurrency", "max_bytes", "max_pages", "max_attempts", "browser_restart_every",
                 "connect_timeout", "read_timeout", "total_timeout", "browser_timeout"):
        if getattr(cfg, name) <= 0:
            raise UserError(f"{name} must be positive, got {getattr(cfg, name)}")
    if not cfg.content_types:
        raise UserError("content_types must list at least one type, e.g. text/html")


def run(cfg: FetchConfig, paths: DatasetPaths, force: bool = False, session=None) -> dict:
    """Fetch every due URL of the manifest; returns counts (fetched, failed, rejected by reason, skipped, and
    `incomplete` when some fetched stories stopped short of their last page).

    `force` works like --refetch. `session` replaces the requests session (tests route fake hosts with it).
    """
    check_config(cfg)
    cfg.content_types = [t.strip().lower() for t in cfg.content_types]
    paths.make_dirs()
    counts = {"fetched": 0, "failed": 0, "rejected": 0, "skipped": 0}
    with UrlManifest(paths) as manifest:
        refetch = cfg.refetch or force
        fetch = FetchRun(cfg, paths, manifest, session=session, refetch=refetch)
        due, exhausted = due_entries(manifest, cfg, refetch, retry_js=False)
        has_js = any(e.get("reason") == "js_no_browser" for e in manifest.entries("rejected"))
        if cfg.fetch_mode == "browser" and (due or has_js):
            require_browser(fetch)  # before any request: a clear one-line error instead of N failures
        if has_js and fetch.renderer is not None and fetch.renderer.start():
            due, exhausted = due_entries(manifest, cfg, refetch, retry_js=True)  # a browser exists now
        if cfg.max_urls:
            counts["skipped"] += max(0, len(due) - cfg.max_urls)
            due = due[:cfg.max_urls]
        if not manifest.entries():
            log.info("fetch: the URL manifest is empty; run the search stage first")
        found = fetch.run(due)
        for key, value in found.items():
            counts[key] = counts.get(key, 0) + value
    if exhausted:
        log.info(f"fetch: {exhausted:,} failed URLs used up max_attempts={cfg.max_attempts} and were left alone")
    counts = {k: counts[k] for k in ("fetched", "failed", "rejected", "skipped")} | \
        {k: v for k, v in sorted(counts.items()) if k.startswith("rejected_")}
    if found.get("incomplete"):  # fetched stories kept short of their last page (complete: false)
        counts = {"fetched": counts["fetched"], "incomplete": found["incomplete"]} | counts
    write_manifest(paths, STAGE, config_dict(cfg), counts, gave_up=exhausted)
    return counts


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, FetchConfig, run, argv, __doc__, "fetch.py")


if __name__ == "__main__":
    sys.exit(main())
