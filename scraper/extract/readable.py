"""Read-mode extraction of a story page: readability-lxml, then HTML to text, then story-site post-filters.

`extract_story(html, url) -> Extracted` is the one entry point (the extract stage and the fetcher's `auto` mode
use it). Steps:
1. parse the page; a JavaScript shell is reported as such (reason code and evidence instead of text);
2. readability (`readability.Document(...).summary(html_partial=True)`) picks the main content of the page as
   it is: its text-density scoring is the strong signal, so nothing after this may remove what it chose;
3. prune the page's obvious chrome (nav, footer, comment sections... see postfilters.RULES) everywhere except
   readability's choice and its ancestors, and let readability pick again on the pruned page, so it can leave
   out siblings that were chrome (if its new pick misses most of the first one, the first one stays);
4. put back quotation blocks readability dropped from inside the content (embedded tweets, quoted letters),
   prune the same chrome inside the content, convert to text (html_text), drop boilerplate paragraphs
   ("Page 2 of 5", "Share this:", "Read more"...);
5. decide whether the page holds no story after all (login wall, paywall, app wall, consent wall, error page,
   no_content: see no_content.classify, which needs the wall to be most of what the page says).
`extract_pages(htmls, url)` does the same for a story split over several pages and joins them in order.
"""

from __future__ import annotations

import copy
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from lxml import etree, html as lxml_html

from scraper.extract import no_content, postfilters
from scraper.extract.html_text import element_text, paragraphs, parse_html

EXTRACTOR_NAME = "readability+mm"
EXTRACTOR_VERSION = "1.1"  # bump when the output of the same HTML changes (re-extraction then adds new items)
log = logging.getLogger("miniature_memory.extract")
KEEP_COVERAGE = 0.5  # readability's pick after pruning must hold this share of its pick before, else the latter


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


MARK = "data-mm-i"  # attribute numbering our elements, to find readability's choice (made on a copy) in our tree


def _fragment(summary: str):
    """Readability's output HTML as an element (None when empty or unparseable, e.g. a bare `<html></html>`)."""
    if not summary.strip():
        return None
    try:
        return lxml_html.fragment_fromstring(summary, create_parent="div")
    except (AssertionError, etree.ParserError, ValueError):  # lxml asserts on fragments with no body
        return None


def readability_choice(doc, url: str = "") -> tuple[list, object]:
    """What readability keeps as the main content of the page as it is (unpruned).

    Returns (the top-level kept elements of `doc`, in page order; readability's output as an element, or None).
    Readability works on its own copy of the page, so every element of `doc` is numbered first (the MARK
    attribute, left in place) and the numbers in its output name our elements.
    """
    elements = [el for el in doc.iter() if isinstance(el.tag, str)]
    for i, el in enumerate(elements):
        el.set(MARK, str(i))
    first = _fragment(_readability_summary(doc, url))
    if first is None:
        return [], None
    chosen = []
    for el in first.iter():
        i = el.get(MARK) if isinstance(el.tag, str) else None
        parent = el.getparent()
        if i is not None and i.isdigit() and int(i) < len(elements) and \
                (parent is None or parent.get(MARK) is None):
            chosen.append(elements[int(i)])
    return chosen, first


def _words(el) -> Counter:
    return Counter(element_text(el).lower().split()) if el is not None else Counter()


def _main_content(doc, first, removed: list, url: str = ""):
    """Readability's main content of the pruned page `doc`, as an element (None when there is none).

    `first` is readability's output on the page before pruning, `removed` what pruning took out. Pruning changes
    the scores readability compares, and once in a while that makes it pick a small box elsewhere on the page
    (a "message sent" dialog) over the story it chose before. Then the first choice, less what pruning
    removed, is used instead: the new pick must hold KEEP_COVERAGE of its words.
    """
    content = _fragment(_readability_summary(doc, url))
    if first is None:
        return content
    gone = {d.get(MARK) for el in removed for d in el.iter() if isinstance(d.tag, str)}
    for el in [e for e in first.iter() if isinstance(e.tag, str) and e.get(MARK) in gone]:
        if el.getparent() is not None and el.getparent().get(MARK) not in gone:
            postfilters.remove_element(el)
    want, got = _words(first), _words(content)
    if sum((want & got).values()) < KEEP_COVERAGE * sum(want.values()):
        log.debug(f"readability changed its choice after pruning on {url or 'a page'}: keeping the first one")
        return first
    return content


def restore_quotes(doc, content) -> int:
    """Put back the quotation blocks readability dropped from inside the content it kept; returns how many.

    Readability deletes every element whose class or id has words like "tweet" or "comment" before it scores
    anything, so a quote embedded in the story (a `<blockquote class="twitter-tweet">` quoted by a news story,
    a letter quoted in a blog post) is lost even when the paragraphs around it are kept. A blockquote of the
    page whose parent readability kept, and that our own pruning left in place, goes back after its nearest
    kept earlier sibling (a wrapper holding nothing but the quote counts as the quote).
    """
    present = {el.get(MARK): el for el in content.iter() if isinstance(el.tag, str) and el.get(MARK)}
    quotes = [q for q in doc.iter("blockquote") if q.get(MARK) not in present]
    if not quotes:
        return 0
    lengths = postfilters.visible_lengths(doc)
    restored = 0
    dropped = set(quotes)
    for quote in quotes:
        size = lengths.get(quote, 0)
        if not size or any(a in dropped for a in quote.iterancestors("blockquote")):
            continue  # empty, or inside a dropped quote (which brings it back with it, or not at all)
        anchor = quote  # climb through wrappers that hold nothing but the quote (<div class="embed">)
        while anchor.getparent() is not None and anchor.getparent().get(MARK) not in present and \
                lengths.get(anchor.getparent(), 0) == size:
            anchor = anchor.getparent()
        parent = anchor.getparent()
        if parent is None or parent.get(MARK) not in present:
            continue
        clone = copy.deepcopy(quote)
        clone.tail = None
        before = next((present[s.get(MARK)] for s in anchor.itersiblings(preceding=True)
                       if isinstance(s.tag, str) and s.get(MARK) in present), None)
        target = present[parent.get(MARK)]
        if before is not None and before.getparent() is target:
            before.addnext(clone)
        else:
            target.insert(0, clone)
        restored += 1
    return restored


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
    # Readability's choice on the page as it is comes first: pruning by class words may not remove it.
    keep, first = readability_choice(doc, url) if active else ([], None)
    removed = postfilters.prune_document(doc, skip, keep)
    content = _main_content(doc, first, removed, url)
    text = ""
    if content is not None:
        restore_quotes(doc, content)
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
