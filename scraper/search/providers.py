"""Choosing a provider from the config, the `urls` provider, and one whole search run into the manifest."""

from __future__ import annotations

from typing import Iterator
from urllib.parse import urlsplit

import requests

from common.config import UserError
from common.paths import DatasetPaths
from scraper.manifest import UrlManifest
from scraper.search.apis import BraveProvider, GoogleProvider, SearxngProvider
from scraper.search.base import COUNT_KEYS, DomainRules, Provider, Recorder, read_urls_file, run_provider
from scraper.search.crawl import CrawlProvider
from scraper.search.net import make_session
from scraper.search.sitemap import SitemapProvider

PROVIDERS = ("searxng", "brave", "google", "urls", "sitemap", "crawl")
API_PROVIDERS = ("searxng", "brave", "google")
URLS_PAGE = 500  # URLs recorded (and flushed) at a time from a seed file


class UrlsFileProvider:
    """Seed URLs from a file (one per line, `#` comments); nothing is fetched."""

    name = "urls"
    uses_queries = False

    def __init__(self, cfg):
        if not cfg.urls_file:
            raise UserError("the urls provider needs urls_file: a file with one URL per line")
        self.path = cfg.urls_file

    def pages(self, query: str | None, limit: int) -> Iterator[list[str]]:
        urls = read_urls_file(self.path, keep_invalid=True)
        for i in range(0, len(urls), URLS_PAGE):
            yield urls[i:i + URLS_PAGE]


def make_provider(cfg, session: requests.Session, counts: dict) -> Provider:
    """The provider `cfg.provider` names, built from the config (missing keys/URLs are UserErrors)."""
    name = cfg.provider.strip().lower()
    if name == "searxng":
        return SearxngProvider(cfg, session)
    if name == "brave":
        return BraveProvider(cfg, session)
    if name == "google":
        return GoogleProvider(cfg, session)
    if name == "urls":
        return UrlsFileProvider(cfg)
    if name == "sitemap":
        return SitemapProvider(cfg, session, counts)
    if name == "crawl":
        return CrawlProvider(cfg, session, counts)
    raise UserError(f"unknown provider '{cfg.provider}'; choose one of: {', '.join(PROVIDERS)}")


def search_into_manifest(cfg, paths: DatasetPaths, counts: dict) -> str | None:
    """Run the configured provider over the queries, recording into `paths`' URL manifest.

    Fills `counts` in place (so a caller still has them when a ProviderError escapes); returns the quota
    message when the provider stopped on a quota or rate limit, else None.
    """
    for key in COUNT_KEYS:
        counts.setdefault(key, 0)
    # A search API's own configured host may be local (a SearXNG on localhost); the pages and links that
    # sitemaps and crawls bring are not trusted that way.
    api = cfg.provider.strip().lower() in API_PROVIDERS and cfg.base_url.strip()
    trusted = ((urlsplit(cfg.base_url.strip()).hostname or ""),) if api else ()
    session = make_session(cfg.user_agent, cfg.allow_private_hosts, trusted_hosts=trusted)
    with session:
        provider = make_provider(cfg, session, counts)
        queries = [q.strip() for q in cfg.query if q.strip()]
        if provider.uses_queries and not queries:
            raise UserError(f"{provider.name} needs at least one query (--query TEXT, repeatable)")
        paths.metadata.mkdir(parents=True, exist_ok=True)
        with UrlManifest(paths) as manifest:
            recorder = Recorder(manifest, DomainRules(cfg.allowed_domains, cfg.blocked_domains), counts)
            return run_provider(provider, queries, cfg.max_results, recorder)
