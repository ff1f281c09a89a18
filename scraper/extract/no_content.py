"""Detection of pages that hold no real story: JavaScript shells, walls (login, paywall, app, consent), errors.

`js_shell_evidence(doc)` looks at the raw page (before any rendering): almost no visible text plus scripts, a
`<noscript>` asking for JavaScript, or an empty app root (`<div id="root"></div>`). `classify(doc, text, title,
page_text)` looks at a page after extraction. A wall verdict needs strong evidence, because real articles
mention cookies, subscriptions and apps all the time: the wall's own paragraphs (short paragraphs holding a wall
phrase) must be a large part of what the page says, and what is left once they are set aside (of the extracted
text, and of the page's prose) must be short: a teaser at most, and nothing at all for a consent wall. A long
story with "We use cookies" in a banner, or a short news item about cookie law, is still a story. Each verdict is
`(reason, evidence)` with a stable snake_case reason code:

    js_shell      content built by JavaScript; the static HTML has none (fetch renders it in a browser)
    login_wall    "log in to continue reading", password forms, members-only pages
    paywall       "subscribe to continue reading", subscriber-only stories
    app_wall      "download the app to read this story", "open in app"
    consent_wall  a cookie/consent gate in front of the content
    error_page    404/500 pages, "page not found", "something went wrong"
    no_content    nothing readable left (empty or a few words)
"""

from __future__ import annotations

import re

from scraper.extract.html_text import element_text, paragraphs

SHELL_MAX_WORDS = 40  # visible words below which a page with scripts counts as a JavaScript shell
SHELL_HINT_MAX_WORDS = 120  # ... or below which an empty app root (<div id="root"></div>) decides it
SHELL_NOSCRIPT_MAX_WORDS = 60  # ... or below which a <noscript> asking for JavaScript decides it
SHELL_PARAGRAPH_WORDS = 40  # a page with a <p> this long has content of its own: never a shell
WALL_MAX_WORDS = 250  # words left beside a login/paywall/app wall (a teaser; the page's prose) must be fewer
WALL_MIN_SHARE = 1 / 3  # ... and the wall's words at least this share of what else the page says (measured:
# walls 0.56-55x, real articles with a wall phrase on the page at most 0.14x even when extraction finds nothing)
WALL_PARAGRAPH_MAX_WORDS = 120  # a longer paragraph that holds a wall phrase is prose about it, not a wall
PROSE_MIN_WORDS = 12  # page paragraphs at least this long count as the page's own prose
ERROR_MAX_WORDS = 150  # an error title only rejects pages whose text is shorter than this
MIN_WORDS = 8  # fewer extracted words than this: no_content
CONSENT_MAX_WORDS = MIN_WORDS * 4  # a consent wall shows no story: fewer words than this beside it
APP_ROOT_IDS = re.compile(r"^(root|app|__next|__nuxt|___gatsby|svelte|main-app|app-root|application|react-root)$",
                          re.IGNORECASE)
NOSCRIPT_JS = re.compile(r"(enable|turn on|requires?|need|activate)\b.{0,40}\bjavascript|javascript\b.{0,40}"
                         r"\b(required|disabled|needed|enabled)", re.IGNORECASE)

ERROR_TITLE = re.compile(r"\b(404|403|410|500|502|503)\b|page not found|not found|internal server error|"
                         r"server error|something went wrong|page (does not|doesn't|does no longer) exist|"
                         r"no longer available|error \d{3}|\boops\b", re.IGNORECASE)
ERROR_TEXT = re.compile(r"\b(404|500)\b.{0,40}(not found|error)|page (you|you're|you are) looking for|"
                        r"page not found|internal server error|(does not|doesn't) exist", re.IGNORECASE)
WALLS: tuple[tuple[str, re.Pattern], ...] = (
    # App walls first: they usually also offer "log in to continue" as the way past them.
    ("app_wall", re.compile(
        r"(download|get|install) (the|our) (free )?app|open (this story )?in (the )?app|"
        r"continue (reading )?in the app|read (this story |the full story |it )?in (the|our) app|"
        r"available (only )?(on|in) the app|get it on google play|download on the app store|"
        r"only available in (the|our) app", re.IGNORECASE)),
    ("login_wall", re.compile(
        r"\b(log ?in|sign ?in|register)\b.{0,30}\bto (continue|read|view|access|see|unlock|keep reading)|"
        r"you (must|need to) (be )?(logged|signed) ?in|members[- ]only|only (available )?(to|for) members|"
        r"create (a free|an) account to (read|continue|view)|please (log|sign) ?in\b", re.IGNORECASE)),
    ("paywall", re.compile(
        r"subscribe (now )?to (continue|keep) reading|subscribers? only|subscription required|"
        r"to continue reading,? (please )?(subscribe|become a (member|subscriber))|become a (paid )?subscriber|"
        r"unlock (this|the full|the rest of( this)?) (story|chapter|article)|premium (content|story|members?)|"
        r"already a subscriber|start your (free )?trial|for paying (members|subscribers)", re.IGNORECASE)),
    ("consent_wall", re.compile(
        r"accept (all )?cookies|we (and our partners )?use cookies|cookie (settings|preferences|policy)|"
        r"manage (your )?(privacy|consent|cookie) (choices|settings|preferences)|before you continue|"
        r"consent to (the use of )?cookies", re.IGNORECASE)),
)


def _body(doc):
    bodies = doc.xpath("//body")
    return bodies[0] if bodies else doc


def js_shell_evidence(doc) -> dict | None:
    """Evidence that a parsed page is a JavaScript shell, or None when it has content of its own."""
    words = len(element_text(_body(doc)).split())
    if words >= SHELL_HINT_MAX_WORDS:
        return None
    scripts = doc.xpath("//script")
    script_chars = sum(len(s.text or "") for s in scripts)
    noscript = " ".join(" ".join(n.itertext()) for n in doc.xpath("//noscript"))
    noscript_js = bool(NOSCRIPT_JS.search(noscript))
    empty_roots = [el.get("id") for el in doc.xpath("//div[@id]")
                   if APP_ROOT_IDS.match(el.get("id") or "") and not "".join(el.itertext()).strip()]
    evidence = {"visible_words": words, "scripts": len(scripts), "script_chars": script_chars}
    if noscript_js:
        evidence["noscript"] = " ".join(noscript.split())[:120]
    if empty_roots:
        evidence["empty_root"] = empty_roots[0]
    if not scripts or _longest_paragraph(doc) >= SHELL_PARAGRAPH_WORDS:
        return None  # no scripts to build anything, or a real paragraph of text is already there
    if empty_roots or (noscript_js and words < SHELL_NOSCRIPT_MAX_WORDS) or words < SHELL_MAX_WORDS:
        return evidence
    return None


def _longest_paragraph(doc) -> int:
    return max((len(" ".join(p.itertext()).split()) for p in doc.iter("p")), default=0)


def _title_texts(doc, title: str | None) -> list[str]:
    out = [title or ""]
    out += [" ".join("".join(e.itertext()).split()) for e in doc.xpath("//title|//h1")[:3]]
    return [t for t in out if t]


def _wall_paragraphs(paras: list[str], rx: re.Pattern) -> list[str]:
    return [p for p in paras if len(p.split()) <= WALL_PARAGRAPH_MAX_WORDS and rx.search(p)]


def _words(paras) -> int:
    return sum(len(p.split()) for p in paras)


def wall_evidence(reason: str, rx: re.Pattern, text_paras: list[str], page_paras: list[str]) -> dict | None:
    """Evidence that the page is the wall `rx` describes, or None when the evidence is not strong enough.

    The wall's words are those of the short paragraphs (in the extracted text or anywhere on the page) holding
    its phrase. Set aside every wall-like paragraph (a consent banner or a "log in" line beside an app wall are
    no story either): what is left of the extracted text and of the page's own prose (its paragraphs of at
    least PROSE_MIN_WORDS words) must be short (a teaser; nothing for a consent wall) and weigh at most
    1 / WALL_MIN_SHARE times the wall, so a failed extraction of a real article is never called a wall.
    """
    walls = set(_wall_paragraphs(text_paras, rx) + _wall_paragraphs(page_paras, rx))
    if not walls:
        return None
    wall_like = {p for _, other in WALLS for p in _wall_paragraphs(text_paras + page_paras, other)}
    wall_words = _words(walls)
    rest = _words(p for p in text_paras if p not in wall_like)
    prose = _words(p for p in page_paras if p not in wall_like and len(p.split()) >= PROSE_MIN_WORDS)
    limit = CONSENT_MAX_WORDS if reason == "consent_wall" else WALL_MAX_WORDS
    if rest >= limit or prose >= limit or wall_words < WALL_MIN_SHARE * max(rest, prose):
        return None
    match = next(m for m in (rx.search(p) for p in sorted(walls)) if m)
    return {"words": rest, "page_prose_words": prose, "wall_words": wall_words, "match": match.group(0)[:120]}


def classify(doc, text: str, title: str | None, page_text: str) -> tuple[str, dict] | None:
    """(reason, evidence) when the page holds no real story, None for a story.

    `doc` is the parsed page, `text` the extracted story text, `page_text` the visible text of the whole page
    before pruning (walls often live in elements the post-filters remove).
    """
    words = len(text.split())
    base = {"words": words}
    text_paras, page_paras = paragraphs(text), paragraphs(page_text)
    prose = sum(len(p.split()) for p in page_paras if len(p.split()) >= PROSE_MIN_WORDS)
    if words < ERROR_MAX_WORDS:
        for t in _title_texts(doc, title):
            m = ERROR_TITLE.search(t)
            if m and prose < ERROR_MAX_WORDS:
                return "error_page", {**base, "title": t[:120], "match": m.group(0)}
        on_page = words < MIN_WORDS * 4  # next to almost no text, the page's own error message decides
        m = ERROR_TEXT.search(page_text if on_page else text)
        if m and (not on_page or prose < ERROR_MAX_WORDS):
            return "error_page", {**base, "match": m.group(0)}
    for reason, rx in WALLS:
        evidence = wall_evidence(reason, rx, text_paras, page_paras)
        if evidence is not None:
            return reason, evidence
    if max(words, prose) < CONSENT_MAX_WORDS and doc.xpath("//input[@type='password']"):
        return "login_wall", {**base, "match": "password form"}
    if words < MIN_WORDS:
        return "no_content", {**base, "chars": len(text)}
    return None
