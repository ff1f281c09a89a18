"""Detection of pages that hold no real story: JavaScript shells, walls (login, paywall, app, consent), errors.

`js_shell_evidence(doc)` looks at the raw page (before any rendering): almost no visible text plus scripts, a
`<noscript>` asking for JavaScript, or an empty app root (`<div id="root"></div>`). `classify(doc, text, title,
page_text)` looks at a page after extraction: a wall or error phrase in the page together with a short story
text means the page is that wall, not a story (a long story with "Subscribe to our newsletter" in the footer is
still a story). Each verdict is `(reason, evidence)` with a stable snake_case reason code:

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

from scraper.extract.html_text import element_text

SHELL_MAX_WORDS = 40  # visible words below which a page with scripts counts as a JavaScript shell
SHELL_HINT_MAX_WORDS = 120  # ... or below which an empty app root (<div id="root"></div>) decides it
SHELL_NOSCRIPT_MAX_WORDS = 60  # ... or below which a <noscript> asking for JavaScript decides it
SHELL_PARAGRAPH_WORDS = 40  # a page with a <p> this long has content of its own: never a shell
WALL_MAX_WORDS = 250  # a wall phrase in the story text rejects pages with fewer words than this (teasers)
WALL_PAGE_MAX_WORDS = 80  # a wall phrase elsewhere on the page rejects pages with fewer story words than this
ERROR_MAX_WORDS = 150  # an error title only rejects pages whose text is shorter than this
MIN_WORDS = 8  # fewer extracted words than this: no_content
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


def classify(doc, text: str, title: str | None, page_text: str) -> tuple[str, dict] | None:
    """(reason, evidence) when the page holds no real story, None for a story.

    `doc` is the parsed page, `text` the extracted story text, `page_text` the visible text of the whole page
    before pruning (walls often live in elements the post-filters remove).
    """
    words = len(text.split())
    base = {"words": words}
    if words < ERROR_MAX_WORDS:
        for t in _title_texts(doc, title):
            m = ERROR_TITLE.search(t)
            if m:
                return "error_page", {**base, "title": t[:120], "match": m.group(0)}
        m = ERROR_TEXT.search(page_text if words < MIN_WORDS * 4 else text)
        if m:
            return "error_page", {**base, "match": m.group(0)}
    if words < WALL_MAX_WORDS:
        for reason, rx in WALLS:
            # In the story text itself: the page IS the wall (a teaser then "subscribe to continue").
            # Elsewhere on the page (a banner, a footer box): only when almost nothing else is there.
            m = rx.search(text)
            if m is None and words < (MIN_WORDS * 4 if reason == "consent_wall" else WALL_PAGE_MAX_WORDS):
                m = rx.search(page_text)
            if m:
                return reason, {**base, "match": m.group(0)[:120]}
        if words < SHELL_HINT_MAX_WORDS and doc.xpath("//input[@type='password']"):
            return "login_wall", {**base, "match": "password form"}
    if words < MIN_WORDS:
        return "no_content", {**base, "chars": len(text)}
    return None
