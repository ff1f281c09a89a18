"""Discover story pages: ask a search provider (or a URL list, sitemap or crawl) and record the URLs found.

Providers (`provider`): `searxng` (a SearXNG instance's JSON API), `brave` (Brave Search API, key in the
BRAVE_API_KEY environment variable), `google` (Google Programmable Search JSON API, GOOGLE_API_KEY and
GOOGLE_CSE_ID; closed to new customers, see scraper/search/apis.py), `urls` (a file of URLs, one per line,
`#` comments), `sitemap` (a sitemap.xml or sitemap index at base_url), `crawl` (links followed from base_url
and/or urls_file within allowed hosts). Every URL is canonicalised (fragment and tracking parameters
dropped) and recorded once with status `new`; a URL already in the manifest is counted as `known`, one
outside allowed_domains or inside blocked_domains as `blocked`, a non-http(s) one as `skipped`. Each page
of results is flushed before the next request, so a killed run keeps what it found and a re-run adds only
what is new. A quota or rate-limit answer (HTTP 429, 403 quota) stops the provider cleanly, keeping the
results so far; other provider failures end the stage with one line (exit code 1).

**Reads:** the provider (network), `dataset/metadata/urls.jsonl`, the urls_file when given.
**Writes:** appends to `dataset/metadata/urls.jsonl`; rewrites `dataset/metadata/search_manifest.json`.
**Usage:**
    python scripts/search.py --base-url http://localhost:8888 --query "short story" --query "flash fiction"
    BRAVE_API_KEY=... python scripts/search.py --provider brave --query "short fiction" --max-results 40
    python scripts/search.py --provider urls --urls-file my_urls.txt
    python scripts/search.py --provider sitemap --base-url https://example.org/sitemap.xml \\
        --crawl-include '/stories/'
    python scripts/search.py --provider crawl --base-url https://example.org/stories/ --max-depth 2 \\
        --crawl-include '/stories/[^/]+/$' --crawl-exclude '/tag/'
"""

import sys

import logging
from dataclasses import dataclass

from common.cli import stage_main
from common.config import StageFailed, UserError, config_dict, opt
from common.ledger import write_manifest
from common.paths import DatasetPaths
from scraper.search.base import ProviderError
from scraper import DEFAULT_USER_AGENT
from scraper.search.providers import PROVIDERS, search_into_manifest

STAGE = "search"
log = logging.getLogger("miniature_memory.search")


@dataclass
class SearchConfig:
    provider: str = opt("searxng", f"where URLs come from: {' | '.join(PROVIDERS)}")
    query: list[str] = opt([], "search query (repeatable); used by searxng, brave and google")
    base_url: str = opt("", "SearXNG instance / API root (brave, google: official API when empty) / sitemap URL "
                            "/ crawl seed page")
    urls_file: str = opt("", "file of URLs, one per line, '#' comments: the urls provider's list or crawl seeds")
    max_results: int = opt(50, "results taken per query (brave: at most 200, google: at most 100); 0 = all")
    safesearch: bool = opt(True, "ask search engines to filter explicit results (strict)")
    allowed_domains: list[str] = opt([], "record only URLs on these domains or their subdomains (empty: any)")
    blocked_domains: list[str] = opt([], "never record URLs on these domains or their subdomains")
    crawl_include: list[str] = opt([], "crawl/sitemap: record only URLs matching one of these regexes (empty: all)")
    crawl_exclude: list[str] = opt([], "crawl/sitemap: never record or follow URLs matching these regexes")
    max_depth: int = opt(2, "crawl: link hops followed from a seed page (0: only the seeds)")
    max_pages: int = opt(100, "crawl: pages fetched at most per run")
    crawl_delay: float = opt(1.0, "crawl: seconds between requests to one host (robots Crawl-delay wins if larger)")
    sitemap_max_files: int = opt(50, "sitemap: sitemap files read at most (index files included)")
    sitemap_max_urls: int = opt(50000, "sitemap: page URLs taken at most")
    max_bytes: int = opt(5_000_000, "crawl/sitemap: largest page or sitemap read, after decompression (bytes)")
    allow_private_hosts: bool = opt(False, "crawl/sitemap: allow hosts on private/loopback addresses (local sites)")
    connect_timeout: float = opt(10.0, "seconds to wait for a connection")
    read_timeout: float = opt(30.0, "seconds to wait for data")
    total_timeout: float = opt(60.0, "seconds one request (sitemap, crawl page, robots.txt, API call) may take in "
                                     "all, headers and body")
    user_agent: str = opt(DEFAULT_USER_AGENT, "User-Agent sent with every request; include a contact URL")


def check_config(cfg: SearchConfig) -> None:
    """Numbers in range and a known provider; a UserError names the key otherwise."""
    if cfg.provider.strip().lower() not in PROVIDERS:
        raise UserError(f"unknown provider '{cfg.provider}'; choose one of: {', '.join(PROVIDERS)}")
    for key in ("max_results", "max_depth", "max_pages", "crawl_delay", "sitemap_max_files", "sitemap_max_urls"):
        if getattr(cfg, key) < 0:
            raise UserError(f"{key} must be 0 or more, got {getattr(cfg, key)}")
    for key in ("max_bytes", "connect_timeout", "read_timeout", "total_timeout"):
        if getattr(cfg, key) <= 0:
            raise UserError(f"{key} must be more than 0, got {getattr(cfg, key)}")


def run(cfg: SearchConfig, paths: DatasetPaths, force: bool = False) -> dict:
    """Record the configured provider's results in the URL manifest; returns counts (found, new, known...).

    `force` changes nothing: discovery is naturally incremental (a known URL is never recorded twice).
    """
    check_config(cfg)
    counts: dict = {}
    stopped = None
    try:
        stopped = search_into_manifest(cfg, paths, counts)
    except ProviderError as e:
        write_manifest(paths, STAGE, config_dict(cfg), counts, error=str(e))
        raise StageFailed(f"{e} (kept {counts.get('new', 0):,} new URLs found before it)") from None
    if stopped:
        log.warning(stopped)
    write_manifest(paths, STAGE, config_dict(cfg), counts, stopped=stopped)
    return counts


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, SearchConfig, run, argv, __doc__, "search.py")


if __name__ == "__main__":
    sys.exit(main())
