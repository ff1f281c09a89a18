"""Search-engine providers: SearXNG, Brave Search API and Google Programmable Search (JSON APIs only).

Each asks its configured base URL (tests point it at a fake server on 127.0.0.1) and yields one page of result
URLs per request, fetching the next page only when the caller asks for more.

- searxng: `GET {base}/search?q=..&format=json&pageno=N` -> `results[].url`. The instance must have the JSON
  format enabled (`search: formats: [html, json]` in its settings.yml); otherwise it answers 403.
- brave: `GET {base}/res/v1/web/search?q=..&count=..&offset=N` with the `X-Subscription-Token` header from
  the BRAVE_API_KEY environment variable -> `web.results[].url`. `offset` counts pages (0..9), `count` <= 20.
- google: `GET {base}/customsearch/v1?key=..&cx=..&q=..&start=1,11,..&num=10` with GOOGLE_API_KEY and
  GOOGLE_CSE_ID from the environment -> `items[].link`; the API serves at most 100 results per query.
  NOTE: Google's Custom Search JSON API is closed to new customers (existing keys keep working until Google
  retires it); new users should choose searxng or brave. This project never scrapes Google's HTML result
  pages: that is against Google's terms and gets blocked within a few queries.

HTTP 429, 402 and 403 responses that mention a quota or rate limit raise `QuotaStop` (clean stop, results
kept); other failures raise `ProviderError` with one line. API keys never appear in messages.
"""

from __future__ import annotations

import json
import os
from typing import Iterator

import requests

from common.config import UserError
from scraper.search.base import ProviderError, QuotaStop, one_line
from scraper.fetch.transport import Deadline, UnsafeURL
from scraper.search.net import FetchError, read_limited

BRAVE_KEY_ENV = "BRAVE_API_KEY"
GOOGLE_KEY_ENV = "GOOGLE_API_KEY"
GOOGLE_CX_ENV = "GOOGLE_CSE_ID"
BRAVE_DEFAULT_BASE = "https://api.search.brave.com"
GOOGLE_DEFAULT_BASE = "https://www.googleapis.com"
SEARXNG_MAX_PAGES = 20  # pageno bound per query (a SearXNG page holds ~10-30 results)
BRAVE_MAX_COUNT = 20  # results per request the Brave API allows
BRAVE_MAX_OFFSET = 9  # last page index the Brave API allows
GOOGLE_MAX_RESULTS = 100  # the Custom Search API never serves results past 100
MAX_JSON_BYTES = 5_000_000
QUOTA_WORDS = ("quota", "limitexceeded", "rate limit", "rate_limit", "ratelimit", "too many requests")


def env_value(name: str, provider: str) -> str:
    """A required secret from the environment; a one-line UserError naming the variable when missing."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise UserError(f"{provider} needs an API key: set the environment variable {name}")
    return value


def error_detail(body: bytes) -> str:
    """The human part of an API error body (`error.message`, `error.detail`, or the text itself)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return one_line(body.decode("utf-8", errors="replace"), 160)
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        return one_line(str(err.get("message") or err.get("detail") or err.get("code") or err), 160)
    return one_line(str(err or data), 160)


def get_json(session: requests.Session, provider: str, url: str, params: dict, timeout: tuple[float, float],
             headers: dict | None = None, forbidden_hint: str = "", total_timeout: float = 60.0) -> dict:
    """GET a JSON API and return its top-level object; map every failure to QuotaStop or ProviderError.

    The whole exchange (redirect hops included) has `total_timeout` seconds.
    """
    where = f"{provider} at {url}"  # never the query string: it may hold a key
    late = f"{where}: no complete answer within total_timeout={total_timeout:g} s"
    with Deadline(total_timeout) as deadline:
        try:
            resp = session.get(url, params=params, headers=headers or {}, timeout=timeout, stream=True)
        except UnsafeURL as e:
            raise ProviderError(f"{where}: refused ({e.reason}): {one_line(str(e), 160)}") from None
        except requests.RequestException as e:
            raise ProviderError(late if deadline.expired else
                                f"{where}: cannot reach it ({type(e).__name__})") from None
        with resp:
            try:
                body = read_limited(resp, MAX_JSON_BYTES, url)
            except FetchError as e:
                raise ProviderError(late if deadline.expired else f"{provider}: {e}") from None
        if deadline.expired:  # a body cut short at the deadline can look complete
            raise ProviderError(late)
    status = resp.status_code
    if status in (429, 402) or (status == 403 and any(w in body.lower().decode("utf-8", "replace")
                                                      for w in QUOTA_WORDS)):
        retry = resp.headers.get("Retry-After", "")
        when = f", retry after {retry} s" if retry.isdigit() else ""
        raise QuotaStop(f"{provider}: quota or rate limit reached (HTTP {status}{when}): "
                        f"{error_detail(body)}; stopped, keeping the results found so far")
    if status == 401:
        raise ProviderError(f"{where}: the API key was rejected (HTTP 401): {error_detail(body)}")
    if status == 403:
        raise ProviderError(f"{where}: forbidden (HTTP 403){forbidden_hint}: {error_detail(body)}")
    if not 200 <= status < 300:
        raise ProviderError(f"{where}: HTTP {status}: {error_detail(body)}")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        ctype = resp.headers.get("Content-Type", "?")
        raise ProviderError(f"{where}: the response is not JSON ({ctype}; starts with "
                            f"{one_line(body[:60].decode('utf-8', 'replace'), 60)!r})") from None
    if not isinstance(data, dict):
        raise ProviderError(f"{where}: unexpected JSON (a {type(data).__name__}, not an object)")
    return data


def url_list(items: object, key: str, provider: str) -> list[str]:
    """The `key` values of a list of result objects (entries without one are dropped)."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise ProviderError(f"{provider}: unexpected JSON (results are a {type(items).__name__}, not a list)")
    return [it[key] for it in items if isinstance(it, dict) and isinstance(it.get(key), str)]


class SearxngProvider:
    """A SearXNG instance's JSON API, paged with `pageno` until a page brings nothing new."""

    name = "searxng"
    uses_queries = True

    def __init__(self, cfg, session: requests.Session):
        if not cfg.base_url:
            raise UserError("searxng needs base_url: the address of a SearXNG instance with JSON output enabled")
        self.endpoint = cfg.base_url.rstrip("/") + "/search"
        self.session = session
        self.timeout = (cfg.connect_timeout, cfg.read_timeout)
        self.total_timeout = cfg.total_timeout
        self.safesearch = 2 if cfg.safesearch else 0  # SearXNG: 0 off, 1 moderate, 2 strict

    def pages(self, query: str | None, limit: int) -> Iterator[list[str]]:
        seen: set[str] = set()
        for pageno in range(1, SEARXNG_MAX_PAGES + 1):
            data = get_json(self.session, self.name, self.endpoint,
                            {"q": query, "format": "json", "pageno": pageno, "safesearch": self.safesearch},
                            self.timeout, forbidden_hint=" (is the JSON format enabled in its settings.yml?)",
                            total_timeout=self.total_timeout)
            if "results" not in data:
                raise ProviderError(f"{self.name}: unexpected JSON from {self.endpoint}: no 'results' list")
            fresh = [u for u in url_list(data["results"], "url", self.name) if u not in seen]
            if not fresh:
                return  # past the last page: SearXNG answers an empty list (or repeats itself)
            seen.update(fresh)
            yield fresh


class BraveProvider:
    """Brave Search API web results, `count` per request and `offset` in pages (at most 10 pages)."""

    name = "brave"
    uses_queries = True

    def __init__(self, cfg, session: requests.Session):
        self.key = env_value(BRAVE_KEY_ENV, self.name)
        self.endpoint = (cfg.base_url or BRAVE_DEFAULT_BASE).rstrip("/") + "/res/v1/web/search"
        self.session = session
        self.timeout = (cfg.connect_timeout, cfg.read_timeout)
        self.total_timeout = cfg.total_timeout
        self.safesearch = "strict" if cfg.safesearch else "off"

    def pages(self, query: str | None, limit: int) -> Iterator[list[str]]:
        count = min(BRAVE_MAX_COUNT, limit) if limit > 0 else BRAVE_MAX_COUNT
        headers = {"X-Subscription-Token": self.key, "Accept": "application/json"}
        for offset in range(BRAVE_MAX_OFFSET + 1):
            data = get_json(self.session, self.name, self.endpoint,
                            {"q": query, "count": count, "offset": offset, "safesearch": self.safesearch},
                            self.timeout, headers=headers, total_timeout=self.total_timeout)
            if data.get("type") == "ErrorResponse":
                raise ProviderError(f"{self.name}: {error_detail(json.dumps(data).encode())}")
            web = data.get("web")
            urls = url_list(web.get("results") if isinstance(web, dict) else None, "url", self.name)
            if not urls:
                return
            yield urls
            info = data.get("query")
            if isinstance(info, dict) and info.get("more_results_available") is False:
                return


class GoogleProvider:
    """Google Programmable Search JSON API (closed to new customers), start=1,11,...,91: at most 100 results."""

    name = "google"
    uses_queries = True

    def __init__(self, cfg, session: requests.Session):
        self.key = env_value(GOOGLE_KEY_ENV, self.name)
        cx = os.environ.get(GOOGLE_CX_ENV, "").strip()
        if not cx:
            raise UserError(f"google needs a search engine id: set the environment variable {GOOGLE_CX_ENV}")
        self.cx = cx
        self.endpoint = (cfg.base_url or GOOGLE_DEFAULT_BASE).rstrip("/") + "/customsearch/v1"
        self.session = session
        self.timeout = (cfg.connect_timeout, cfg.read_timeout)
        self.total_timeout = cfg.total_timeout
        self.safe = "active" if cfg.safesearch else "off"

    def pages(self, query: str | None, limit: int) -> Iterator[list[str]]:
        for start in range(1, GOOGLE_MAX_RESULTS, 10):  # 1, 11, ..., 91 (start + num - 1 <= 100)
            data = get_json(self.session, self.name, self.endpoint,
                            {"key": self.key, "cx": self.cx, "q": query, "start": start, "num": 10,
                             "safe": self.safe}, self.timeout, total_timeout=self.total_timeout)
            urls = url_list(data.get("items"), "link", self.name)
            if not urls:
                return  # no `items` key at all means no (more) results
            yield urls
            queries = data.get("queries")
            if isinstance(queries, dict) and "nextPage" not in queries:
                return
