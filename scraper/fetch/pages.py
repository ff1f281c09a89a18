"""Multi-page stories: find the link to a story's next page.

Looked for in this order: `<link rel="next">`, `<a rel="next">`, then an `<a>` whose text (or title /
aria-label) says "next page", "next chapter" or "next part" (case-insensitive, arrows and punctuation ignored).
A bare "Next" is not followed: on story sites it usually means the next *story*. The target must be http(s) on
the same host and port as the current page and differ from it.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from lxml import etree, html as lxml_html

NEXT_TEXT = re.compile(r"\bnext\s+(page|chapter|part)\b", re.IGNORECASE)


def _same_site(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    try:
        return (pa.scheme in ("http", "https") and (pa.hostname or "").lower() == (pb.hostname or "").lower()
                and (pa.port or {"http": 80, "https": 443}[pa.scheme])
                == (pb.port or {"http": 80, "https": 443}.get(pb.scheme)))
    except ValueError:
        return False


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


def find_next_link(html: str, page_url: str) -> str | None:
    """Absolute URL of the next page of the story at `page_url`, or None."""
    doc = parse_document(html)
    if doc is None:
        return None
    base = page_url
    bases = doc.xpath("//base/@href")
    if bases:
        base = urljoin(page_url, bases[0].strip())
    candidates = [el for el in doc.xpath("//link[@href]") if _has_rel_next(el)]
    anchors = doc.xpath("//a[@href]")
    candidates += [el for el in anchors if _has_rel_next(el)]
    candidates += [el for el in anchors if NEXT_TEXT.search(_link_text(el))]
    here = _without_fragment(page_url)
    for el in candidates:
        href = (el.get("href") or "").strip()
        if not href or href.lower().startswith(("javascript:", "mailto:", "#")):
            continue
        target = _without_fragment(urljoin(base, href))
        if target != here and _same_site(target, page_url):
            return target
    return None
