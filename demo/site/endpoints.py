"""The demo site's machine-readable endpoints: robots.txt, the sitemaps, and a SearXNG-compatible search API.

Search: `GET /searx/search?q=...&format=json[&pageno=N]` answers in the shape of SearXNG's JSON API
(`{"query", "number_of_results", "results": [{"url", "title", "content", "engine", ...}], "answers",
"corrections", "infoboxes", "suggestions", "unresponsive_engines"}`), PAGE_SIZE results a page. It lists every
page of `plan.listed` (stories, duplicates, the special pages, the robots-disallowed page) whose title or text
contains one of the query's words; a query made only of generic words ("short stories for children") matches
everything, in listing order. Matching folds case and accents. Without `format=json` it answers a small HTML
results page, so a person can try it in a browser.
"""

from __future__ import annotations

import json
import re
import unicodedata
from html import escape
from urllib.parse import urlsplit

from demo.site.content import Page, SitePlan

PAGE_SIZE = 10  # results per page, like SearXNG's default
DISALLOWED = "/private/"
# Words that say "any story" rather than what the story is about: a query of only these matches every page.
GENERIC_WORDS = frozenset("a an and at bedtime best child children childrens for free fiction for in kid kids "
                          "new of on online read short stories story tale tales the to with".split())


def words(text: str) -> set[str]:
    """Lower-cased, accent-folded word tokens of a text."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return set(re.findall(r"[a-z0-9]+", folded))


def full_paragraphs(plan: SitePlan, page: Page) -> list[str]:
    """All paragraphs of the story a listed page starts (every page of a multi-page story)."""
    return [p for n in range(1, page.page_count + 1) for p in plan.pages[page.page_path(n)].paragraphs]


def snippet(paragraphs: list[str], limit: int = 200) -> str:
    """The first real paragraph, cut at a word boundary to about `limit` characters."""
    first = next((p for p in paragraphs if re.search(r"\w", p)), "")
    return first if len(first) <= limit else first[:limit].rsplit(" ", 1)[0] + "…"


def search_results(plan: SitePlan, query: str) -> list[str]:
    """Paths of the listed pages that match the query, best first (ties in listing order)."""
    wanted = words(query) - GENERIC_WORDS
    if not wanted:
        return list(plan.listed)
    scored = []
    for rank, path in enumerate(plan.listed):
        page = plan.pages[path]
        hits = len(wanted & words(page.title + " " + " ".join(full_paragraphs(plan, page))))
        if hits:
            scored.append((-hits, rank, path))
    return [path for _, _, path in sorted(scored)]


def search_json(plan: SitePlan, base_url: str, query: str, pageno: int) -> dict:
    """One page of results in SearXNG's JSON response shape."""
    paths = search_results(plan, query)
    results = []
    netloc = urlsplit(base_url).netloc
    for k, path in enumerate(paths[(pageno - 1) * PAGE_SIZE: pageno * PAGE_SIZE], (pageno - 1) * PAGE_SIZE + 1):
        page = plan.pages[path]
        results.append({"url": base_url + path, "title": page.title,
                        "content": snippet(full_paragraphs(plan, page)), "engine": "demo",
                        "parsed_url": ["http", netloc, path, "", "", ""], "template": "default.html",
                        "engines": ["demo"], "positions": [k], "score": round(1.0 / k, 6), "category": "general",
                        "publishedDate": f"{page.published}T00:00:00" if page.published else None})
    return {"query": query, "number_of_results": len(paths), "results": results, "answers": [],
            "corrections": [], "infoboxes": [], "suggestions": [], "unresponsive_engines": []}


def search_html(result: dict, pageno: int) -> str:
    """A bare HTML results page for people trying the endpoint in a browser."""
    items = "".join(f'<li><a href="{escape(r["url"])}">{escape(r["title"])}</a><p>{escape(r["content"])}</p></li>'
                    for r in result["results"])
    q = escape(result["query"])
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{q} - demo search</title>'
            f'</head><body><h1>Results for “{q}”</h1><p>{result["number_of_results"]} results, page {pageno}'
            f'</p><ol>{items}</ol></body></html>\n')


def robots_txt(base_url: str) -> str:
    """robots.txt: /private/ is off limits to every crawler (and one crawler may not crawl at all)."""
    return ("# robots.txt for the demo site\n"
            "User-agent: *\n"
            f"Disallow: {DISALLOWED}\n"
            "\n"
            "User-agent: GreedyBot\n"
            "Disallow: /\n"
            "\n"
            f"Sitemap: {base_url}/sitemap_index.xml\n")


def urlset(base_url: str, entries: list[tuple[str, str]]) -> str:
    """A sitemap <urlset> of (path, lastmod) entries."""
    rows = "".join(f"<url><loc>{escape(base_url + path)}</loc>" + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "")
                   + "</url>\n" for path, lastmod in entries)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{rows}</urlset>\n')


def story_sitemap(plan: SitePlan, base_url: str) -> str:
    """/sitemap.xml: every listed page (the same pages the search endpoint knows)."""
    return urlset(base_url, [(p, plan.pages[p].published) for p in plan.listed])


def page_sitemap(base_url: str) -> str:
    """/page-sitemap.xml: the home page, the story index and the about page."""
    return urlset(base_url, [("/", ""), ("/stories/", ""), ("/about/", "")])


def sitemap_index(base_url: str) -> str:
    """/sitemap_index.xml: points at the two sitemaps."""
    rows = "".join(f"<sitemap><loc>{escape(base_url + p)}</loc></sitemap>\n"
                   for p in ("/sitemap.xml", "/page-sitemap.xml"))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{rows}</sitemapindex>\n')


def dumps(obj: object) -> bytes:
    """Compact UTF-8 JSON body."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

