"""Read-mode extraction of a story page: readability-lxml, then HTML to text, then story-site post-filters.

`extract_story(html, url) -> Extracted` is the one entry point (the extract stage and the fetcher's `auto` mode
use it). Steps:
1. parse the page; a page with no real content (JavaScript shell, login wall, paywall, app-download wall,
   consent wall, error page) is reported with a reason code and evidence instead of text;
2. prune the page's obvious chrome (nav, footer, share bars, comment sections... see postfilters.RULES), so
   readability scores the story container rather than a long comment thread;
3. `readability.Document(...).summary(html_partial=True)` picks the main content;
4. prune the same chrome inside what readability kept, convert to text (html_text), drop boilerplate
   paragraphs ("Page 2 of 5", "Share this:", "Read more"...).
`extract_pages(htmls, url)` does the same for a story split over several pages and joins them in order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable

from lxml import etree, html as lxml_html

from scraper.extract import no_content, postfilters
from scraper.extract.html_text import element_text, paragraphs, parse_html

EXTRACTOR_NAME = "readability+mm"
EXTRACTOR_VERSION = "1.0"  # bump when the output of the same HTML changes (re-extraction then adds new items)
log = logging.getLogger("miniature_memory.extract")


@dataclass
class Extracted:
    """What a page yields: story text (paragraphs split by blank lines), title, and why it is not a story."""

    text: str
    title: str | None = None
    reason: str | None = None  # None: a real story; else js_shell, login_wall, paywall, app_wall, error_page...
    evidence: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.reason is None


def looks_like_js_shell(html: str) -> bool:
    """True when the page's content is built by JavaScript (little text, scripts, empty app root...)."""
    return no_content.js_shell_evidence(parse_html(html)) is not None


def _readability_summary(doc, url: str = "") -> str:
    """readability's main-content HTML of an already pruned document ('' when it finds nothing)."""
    from readability import Document  # imported here: it pulls lxml_html_clean, only needed when extracting
    source = etree.tostring(doc, encoding="unicode", method="html")
    try:
        return Document(source).summary(html_partial=True)
    except Exception as e:  # readability raises its own Unparseable and assorted lxml errors on junk pages
        log.debug(f"readability failed on {url or 'a page'}: {e}")
        return ""


def page_title(doc) -> str | None:
    """The story title: og:title, else the first h1, else <title> (site name after a separator dropped)."""
    for xp in ('//meta[@property="og:title"]/@content', "//h1"):
        found = doc.xpath(xp)
        if found:
            value = found[0] if isinstance(found[0], str) else element_text(found[0])
            value = " ".join(value.split())
            if value:
                return value[:300]
    titles = doc.xpath("//title")
    if titles:
        value = " ".join((titles[0].text_content() or "").split())
        return postfilters.strip_site_name(value)[:300] or None
    return None


def extract_story(html: str, url: str = "", rules: Iterable[str] | None = None) -> Extracted:
    """Story text of one page, or a reason code with evidence when it holds no real story.

    `rules` names the post-filter rules to apply (default: postfilters.DEFAULT_RULES, those that pay on the
    fixture set); the benchmark's ablation passes other sets. `url` is only used in log messages.
    """
    active = postfilters.DEFAULT_RULES if rules is None else frozenset(rules)
    skip = frozenset(postfilters.RULE_NAMES) - active
    doc = parse_html(html)
    title = page_title(doc)
    shell = no_content.js_shell_evidence(doc)
    if shell is not None:
        return Extracted("", title, "js_shell", shell)
    page_text = element_text(no_content._body(doc))
    postfilters.prune_document(doc, skip)
    summary = _readability_summary(doc, url)
    text = ""
    if summary.strip():
        content = lxml_html.fragment_fromstring(summary, create_parent="div")
        postfilters.prune_content(content, skip, title)
        text = "\n\n".join(postfilters.filter_paragraphs(paragraphs(element_text(content)), skip, title))
    verdict = no_content.classify(doc, text, title, page_text)
    if verdict is not None:
        reason, evidence = verdict
        return Extracted(text, title, reason, evidence)
    return Extracted(text, title, None, {"chars": len(text), "paragraphs": text.count("\n\n") + 1})


def extract_pages(htmls: list[str], url: str = "", rules: Iterable[str] | None = None) -> Extracted:
    """Extract each page of a multi-page story and join them in order into one text.

    The first page decides: if it holds no story, the whole entry is rejected with its reason. A later page
    with no story is skipped (named in the evidence). Paragraphs that repeat on every page (a story header,
    an author line) are kept only once, where they first appear.
    """
    if not htmls:
        return Extracted("", None, "no_content", {"pages": 0})
    results = [extract_story(h, url, rules) for h in htmls]
    first = results[0]
    if not first.ok:
        first.evidence = {**first.evidence, "page": 1}
        return first
    kept = [(i, r) for i, r in enumerate(results) if r.ok]
    skipped = [{"page": i + 1, "reason": r.reason} for i, r in enumerate(results) if not r.ok]
    page_paras = [paragraphs(r.text) for _, r in kept]
    repeated: set[str] = set()
    if len(page_paras) >= 2:
        repeated = set(page_paras[0]).intersection(*map(set, page_paras[1:]))
    out: list[str] = []
    for n, paras in enumerate(page_paras):
        out.extend(p for p in paras if n == 0 or p not in repeated)
    evidence = {"pages": len(htmls), "pages_joined": len(kept), "chars": 0}
    if skipped:
        evidence["pages_skipped"] = skipped
    text = "\n\n".join(out)
    evidence["chars"] = len(text)
    return Extracted(text, first.title, None, evidence)
