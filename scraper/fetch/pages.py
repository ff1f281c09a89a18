"""Multi-page stories: find the link to a story's next page, and only one that stays in the same story.

Candidates, in this order: `<link rel="next">`, `<a rel="next">`, then an `<a>` whose text (or title /
aria-label) says "next page", "next chapter" or "next part" (case-insensitive, arrows and punctuation ignored).
A bare "Next" is never a candidate: on story sites it usually means the next *story*. A candidate is followed
when it is http(s) on the same host and port as the current page, differs from it, and looks like the same story:
- a "next chapter" / "next part" link names a unit of a story, so any path on the host is accepted (chapters
  often have their own slugs or ids);
- `rel=next` and "next page" are also what blogs put on a post for the *next post* (WordPress's head
  `<link rel='next'>`) and what listings use for their own pages, so these need the same path pattern:
  `same_story_path` below (same path with a changed page number, a page suffix such as `/page/2/` or `-2`
  added, or only a page query parameter such as `?page=2` changed).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urljoin, urlsplit

from lxml import etree, html as lxml_html

from scraper.manifest import url_problem

STORY_TEXT = re.compile(r"\bnext\s+(chapter|part)\b", re.IGNORECASE)  # a unit of a story: any path
PAGE_TEXT = re.compile(r"\bnext\s+page\b", re.IGNORECASE)  # a page of something: same path pattern only
# Query parameters that number the pages of one document (WordPress `paged`, eFiction `chapter`, offsets...).
PAGE_PARAMS = {"page", "p", "pg", "paged", "pagenum", "pageno", "page_no", "part", "chapter", "chap", "ch",
               "start", "offset", "seite", "pagina"}
EXTENSION = re.compile(r"\.(?:s?html?|php\d?|aspx?|jsp|cgi)$", re.IGNORECASE)
# A trailing page number: `/2`, `-2`, `_2`, `2`, `/page/2`, `/part-2`, `/chapter_2`... (1 to 4 digits: longer
# numbers are ids, and a different id is a different story).
TRAILING_PAGE = re.compile(r"(?:[/_-]?(?:page|part|chapter|chap|ch|pt|pg|p|seite)[/_-]?|[/_-])?(?<!\d)\d{1,4}$",
                           re.IGNORECASE)
SHORT_NUMBER = re.compile(r"(?<!\d)\d{1,4}(?!\d)")


def _same_site(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    try:
        return (pa.scheme in ("http", "https") and (pa.hostname or "").lower() == (pb.hostname or "").lower()
                and (pa.port or {"http": 80, "https": 443}[pa.scheme])
                == (pb.port or {"http": 80, "https": 443}.get(pb.scheme)))
    except ValueError:
        return False


def _path_shapes(path: str) -> set[str]:
    """The path with numbers as '#', with and without a trailing page number (two shapes, or one)."""
    bare = EXTENSION.sub("", path).rstrip("/")
    return {SHORT_NUMBER.sub("#", bare), SHORT_NUMBER.sub("#", TRAILING_PAGE.sub("", bare))}


def _query_shape(query: str) -> list[tuple[str, str]]:
    return sorted((k.lower(), v) for k, v in parse_qsl(query, keep_blank_values=True)
                  if k.lower() not in PAGE_PARAMS)


def same_story_path(here: str, there: str) -> bool:
    """True when URL `there` looks like another page of the document at `here` (host checked elsewhere):
    the query is the same but for page parameters, and the paths share a shape once short numbers count as
    page numbers and a trailing page number may be left out. `/s/1` ~ `/s/2`, `/story/` ~ `/story/page/2/`,
    `/a.html` ~ `/a-2.html`, `/s/81512/1/Title` ~ `/s/81512/2/Title`, `/read?id=7` ~ `/read?id=7&page=2`;
    not `/story/harbour` ~ `/story/lighthouse`, `/story/harbour` ~ `/blog/page/2`, `?id=7` ~ `?id=8`."""
    a, b = urlsplit(here), urlsplit(there)
    if _query_shape(a.query) != _query_shape(b.query):
        return False
    return bool(_path_shapes(a.path) & _path_shapes(b.path))


def _without_fragment(url: str) -> str:
    return url.split("#", 1)[0]


def parse_document(html: str):
    """An lxml document of an HTML string (None when there is nothing to parse)."""
    if not html or not html.strip():
        return None
    try:
        parser = lxml_html.HTMLParser(encoding="utf-8")
        return lxml_html.document_fromstring(html.encode("utf-8", errors="replace"), parser=parser)
    except (etree.ParserError, ValueError):
        return None


def _has_rel_next(el) -> bool:
    return "next" in (el.get("rel") or "").lower().split()


def _link_text(el) -> str:
    text = " ".join((el.text_content() or "").split())
    return " ".join(filter(None, (text, el.get("title"), el.get("aria-label"))))


def _candidates(doc) -> list[tuple[object, bool]]:
    """(element, names a story unit) for every next-link candidate, in order of preference."""
    found = [(el, False) for el in doc.xpath("//link[@href]") if _has_rel_next(el)]
    for el in doc.xpath("//a[@href]"):
        text = _link_text(el)
        if STORY_TEXT.search(text):
            found.append((el, True))
        elif _has_rel_next(el) or PAGE_TEXT.search(text):
            found.append((el, False))
    rel_first = [c for c in found if c[0].tag == "link" or _has_rel_next(c[0])]
    return rel_first + [c for c in found if c not in rel_first]


def find_next_link(html: str, page_url: str) -> str | None:
    """Absolute URL of the next page of the story at `page_url`, or None (see the module docstring)."""
    doc = parse_document(html)
    if doc is None:
        return None
    base = page_url
    bases = doc.xpath("//base/@href")
    if bases:
        base = urljoin(page_url, bases[0].strip())
    here = _without_fragment(page_url)
    for el, story_unit in _candidates(doc):
        href = (el.get("href") or "").strip()
        if not href or href.lower().startswith(("javascript:", "mailto:", "#")):
            continue
        try:
            target = _without_fragment(urljoin(base, href))
        except ValueError:  # an unparsable href (`http://[::1`): not a link
            continue
        if target == here or not _same_site(target, page_url) or url_problem(target) is not None:
            continue
        if story_unit or same_story_path(page_url, target):
            return target
    return None
