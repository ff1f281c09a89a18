"""The fetch run over the URL manifest: pick the URLs that are due, fetch them host by host, record outcomes.

Due: `new`; `failed` with fewer than `max_attempts` attempts; `rejected` as `js_no_browser` when a browser is
available now; with `refetch` also `fetched` ones and those the extract stage rejected (`rejected_by:
extract`). URLs are grouped by host; a pool of `concurrency` threads serves the hosts, each host by one thread
at a time, so one host never sees two requests at once (HostGate enforces it also across redirects). Every
outcome is recorded and flushed to the manifest right after its snapshots are written, so a kill loses at most
the URLs in flight. Ctrl-C stops the workers between (or while waiting for) requests.

Partial stories (see scraper/fetch/story.py): a temporary error on page k >= 2 records `failed` with a `resume`
field, and the next run (unless --refetch) goes on at page k. The run that uses the URL's last attempt
(`max_attempts`) keeps pages 1..k-1 instead, as a `fetched` story with `complete: false` and the error's
`stop_reason`; so does any run that finds a URL with a `resume` field and no attempts left.

A URL in the manifest that no HTTP client could use (`http://*.example.com/x`, `http://[::1`, a space in the
host) is rejected as `bad_url` with a one-line `error` before any request, and never tried again.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tqdm import tqdm

from common.config import UserError
from common.paths import DatasetPaths
from scraper.fetch.browser import BrowserRenderer
from scraper.fetch.errors import FetchFailed, FetchRejected, StoryPaused, one_line
from scraper.fetch.http import HttpClient
from scraper.fetch.politeness import HostGate, Stopped, host_key
from scraper.fetch.progress import StoryProgress
from scraper.fetch.safety import resolve_host
from scraper.fetch.story import StoryFetcher
from scraper.manifest import UrlManifest, url_problem

log = logging.getLogger("miniature_memory.fetch")


def due_entries(manifest: UrlManifest, cfg, refetch: bool, retry_js: bool) -> tuple[list[dict], int]:
    """(entries to fetch now in discovery order, failed entries that used up max_attempts).

    A failed entry with a `resume` field and no attempts left is due too: fetch_one keeps its pages without
    a request."""
    due, exhausted = [], 0
    for entry in manifest.entries():
        status = entry.get("status")
        if status == "new" or (refetch and status == "fetched"):
            due.append(entry)
        elif status == "failed":
            if int(entry.get("attempts") or 0) < cfg.max_attempts or refetch or entry.get("resume"):
                due.append(entry)
            else:
                exhausted += 1
        elif status == "rejected" and retry_js and entry.get("reason") == "js_no_browser":
            due.append(entry)
        elif status == "rejected" and refetch and entry.get("rejected_by") == "extract":
            due.append(entry)  # fetched fine, its content was rejected: a new fetch (e.g. rendered) may differ
    return due, exhausted


class FetchRun:
    """One fetch run: shared client, browser, politeness gate, manifest lock and counters."""

    def __init__(self, cfg, paths: DatasetPaths, manifest: UrlManifest, session=None, resolver=resolve_host,
                 refetch: bool = False):
        self.cfg, self.paths, self.manifest, self.refetch = cfg, paths, manifest, refetch
        self.stop = threading.Event()
        self.client = HttpClient(cfg, session=session, gate=HostGate(self.stop), resolver=resolver)
        self.renderer = (BrowserRenderer(cfg, allowed=self.client.safety.allowed)
                         if cfg.fetch_mode != "static" else None)
        self.story = StoryFetcher(cfg, paths, self.client, self.renderer)
        self.counts: Counter = Counter()
        self._lock = threading.Lock()
        self._too_slow: set[str] = set()
        self._bar = None

    def _record(self, url: str, status: str, **fields) -> None:
        with self._lock:
            self.manifest.record(url, status, **fields)
            self.manifest.flush()
            self.counts[status] += 1
            if status == "rejected":
                self.counts[f"rejected_{fields.get('reason')}"] += 1
            if status == "fetched" and fields.get("complete") is False:
                self.counts["incomplete"] += 1  # of the fetched: stories kept short of their last page
            if self._bar is not None:
                self._bar.update(1)

    def _crawl_delay_too_long(self, url: str) -> bool:
        """True (warned once per host) when robots.txt asks for more than max_crawl_delay between requests."""
        try:
            self.client.safety(url)
        except (FetchRejected, FetchFailed):
            return False  # the fetch itself reports it
        delay = self.client.robots.crawl_delay(url)
        if delay is None or delay <= self.cfg.max_crawl_delay:
            return False
        host = host_key(url)
        with self._lock:
            if host not in self._too_slow:
                self._too_slow.add(host)
                log.warning(f"fetch: skipping {host}: robots.txt Crawl-delay {delay:g} s is above "
                            f"max_crawl_delay={self.cfg.max_crawl_delay:g} (raise it to fetch this site)")
            self.counts["skipped"] += 1
        return True

    def _resume_of(self, entry: dict) -> dict | None:
        """The kept progress of an earlier run to go on from (None: start at page 1)."""
        if self.refetch or entry.get("status") != "failed":
            return None
        return entry.get("resume") or None

    def _keep_partial(self, url: str, attempts: int, progress: StoryProgress, reason: str, error: str) -> None:
        """Record the pages kept so far as an incomplete story (a temporary error that will not be retried)."""
        log.info(f"{url}: no attempts left; story kept at {len(progress.snapshots)} page(s): {error}")
        self._record(url, "fetched", attempts=attempts,
                     **progress.story_fields(stopped_at=progress.next_page, reason=reason, error=error))

    def fetch_one(self, entry: dict) -> None:
        """Fetch one manifest entry and record its outcome (every error becomes a recorded outcome)."""
        url = entry["url"]
        problem = url_problem(url)
        if problem:  # no client can request it; retrying cannot help
            self._record(url, "rejected", reason="bad_url", error=one_line(problem), http_status=None,
                         attempts=int(entry.get("attempts") or 0) + 1, resume=None)
            return
        resume = self._resume_of(entry)
        attempts = int(entry.get("attempts") or 0)
        if resume and attempts >= self.cfg.max_attempts:  # max_attempts was lowered since: no request
            progress = StoryProgress.from_resume(url, resume, self.paths)
            if progress is None:
                self._record(url, "failed", error="no attempts left and the kept pages are unusable",
                             attempts=attempts, reason=None, resume=None)
            else:
                self._keep_partial(url, attempts, progress, entry.get("stop_reason") or "gave_up",
                                   entry.get("stop_error") or "no attempts left")
            return
        attempts += 1
        try:
            if self._crawl_delay_too_long(url):  # inside the try: its robots.txt request can fail like any other
                return
            fields = self.story.fetch(url, resume)
        except StoryPaused as e:
            if attempts >= self.cfg.max_attempts:
                self._keep_partial(url, attempts, e.progress, e.reason, one_line(e))
            else:
                kept = e.progress.next_page - 1
                self._record(url, "failed", error=one_line(f"{e}; {kept} page(s) kept, a later run goes on here"),
                             http_status=e.http_status, attempts=attempts, reason=None, stop_reason=e.reason,
                             stop_error=one_line(e), resume=e.progress.to_resume())
        except FetchRejected as e:
            self._record(url, "rejected", reason=e.reason, error=one_line(e), http_status=e.http_status,
                         attempts=attempts, resume=None)
        except FetchFailed as e:
            self._record(url, "failed", error=one_line(e), http_status=e.http_status, attempts=attempts,
                         reason=None, resume=None)
        except Stopped:
            raise
        except Exception as e:  # a bug or a library surprise on one odd page must not end the whole run
            log.debug(f"unexpected error fetching {url}", exc_info=True)
            self._record(url, "failed", error=one_line(f"{type(e).__name__}: {e}"), attempts=attempts,
                         reason=None, resume=None)
        else:
            self._record(url, "fetched", attempts=attempts, **fields)

    def _serve_host(self, entries: list[dict]) -> None:
        for entry in entries:
            if self.stop.is_set():
                return
            try:
                self.fetch_one(entry)
            except Stopped:
                return

    def run(self, entries: list[dict]) -> Counter:
        """Fetch `entries`; returns counts (fetched, incomplete, failed, rejected, rejected_<reason>, skipped)."""
        by_host: dict[str, list[dict]] = {}
        for entry in entries:
            url = entry["url"]  # a malformed URL has no host key: its own group, where fetch_one rejects it
            by_host.setdefault(url if url_problem(url) else host_key(url), []).append(entry)
        self._bar = tqdm(total=len(entries), desc="fetch", unit="url", disable=None)
        pool = ThreadPoolExecutor(max_workers=max(1, min(self.cfg.concurrency, len(by_host))),
                                  thread_name_prefix="fetch")
        try:
            futures = [pool.submit(self._serve_host, group) for group in by_host.values()]
            for future in futures:
                future.result()
        except BaseException:
            self.stop.set()  # Ctrl-C: workers leave at their next wait; recorded outcomes are already on disk
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self._bar.close()
            if self.renderer is not None:
                self.renderer.close()
        return self.counts


def require_browser(run: FetchRun) -> None:
    """For fetch_mode browser: a one-line UserError when no browser can be started."""
    if run.renderer is not None and not run.renderer.start():
        run.renderer.close()
        raise UserError(f"fetch_mode browser needs Chromium: {run.renderer.unavailable}")
