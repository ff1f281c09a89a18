"""HTML to plain text that keeps paragraph breaks and never glues the words of adjacent blocks.

Block elements (p, div, li, headings, table cells, blockquote...) become paragraphs separated by one blank line;
`<br>` is a line break (two in a row make a paragraph break); `<hr>` becomes the scene-break line `* * *`;
`<pre>` keeps its line breaks. Inside a paragraph, runs of whitespace collapse to one space, so the text of
`<div>end</div><div>start</div>` is "end\n\nstart", never "endstart". Script, style and other non-visible
elements contribute nothing. Entities are decoded by lxml; non-ASCII text passes through untouched (a
no-break space becomes a plain space).
"""

from __future__ import annotations

import re

from lxml import etree, html as lxml_html

from common.text_format import SCENE_BREAK

# Elements whose start and end are paragraph boundaries.
BLOCK_TAGS = frozenset("""
    address article aside blockquote body caption center dd details dialog dir div dl dt fieldset figcaption
    figure footer form frame frameset h1 h2 h3 h4 h5 h6 header hgroup html legend li main menu nav ol p
    section summary table tbody td tfoot th thead tr ul
""".split())
# Elements whose content is never visible text.
SKIP_TAGS = frozenset("""
    script style noscript template head title meta link iframe object embed svg canvas video audio source
    track map button select option textarea input img picture
""".split())
_SPACE_RE = re.compile(r"[ \t\r\n\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ZERO_WIDTH_RE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


class _TextBuilder:
    """Collects inline text and pending breaks; a break is only written once real text follows it."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pending = 0  # newlines owed before the next text: 0, 1 (line break) or 2 (paragraph break)
        self.started = False

    def brk(self, n: int) -> None:
        """Ask for a line (1) or paragraph (2) break before the next text."""
        self.pending = max(self.pending, n)

    def line_break(self) -> None:
        """`<br>`: one more newline, at most a paragraph break."""
        self.pending = min(self.pending + 1, 2)

    def text(self, s: str | None, pre: bool = False) -> None:
        if not s:
            return
        s = _ZERO_WIDTH_RE.sub("", s)
        if pre:
            s = s.replace("\r\n", "\n").replace("\xa0", " ")
        else:
            s = _SPACE_RE.sub(" ", s)
        if not s.strip():
            if self.started and not self.pending and s:
                self.parts.append(" ")  # whitespace between inline elements separates words
            return
        if self.pending and self.started:
            self.parts.append("\n" * self.pending)
            s = s.lstrip(" ")
        self.pending = 0
        self.started = True
        self.parts.append(s)

    def result(self) -> str:
        joined = "".join(self.parts)
        lines = [" ".join(line.split(" ")).strip(" ") for line in joined.split("\n")]
        text = "\n".join(re.sub(r" {2,}", " ", line) for line in lines)
        return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _walk(el, out: _TextBuilder, pre: bool) -> None:
    tag = el.tag if isinstance(el.tag, str) else None
    if tag is None:  # comment or processing instruction: only its tail is text
        out.text(el.tail, pre)
        return
    tag = tag.lower().rsplit("}", 1)[-1]
    if tag in SKIP_TAGS or _hidden(el):
        out.text(el.tail, pre)
        return
    if tag == "br":
        out.line_break()
    elif tag == "hr":
        out.brk(2)
        out.text(SCENE_BREAK)
        out.brk(2)
    else:
        is_block = tag in BLOCK_TAGS or tag == "pre"
        if is_block:
            out.brk(2)
        inner_pre = pre or tag == "pre"
        out.text(el.text, inner_pre)
        for child in el:
            _walk(child, out, inner_pre)
        if is_block:
            out.brk(2)
    out.text(el.tail, pre)


def _hidden(el) -> bool:
    """Elements a browser would not show (hidden attribute, display:none, aria-hidden)."""
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    style = el.get("style")
    return bool(style) and re.search(r"display\s*:\s*none|visibility\s*:\s*hidden", style, re.I) is not None


def parse_html(html: str):
    """Parse an HTML string (document or fragment) into an lxml element; never raises on junk."""
    if not html or not html.strip():
        return lxml_html.fromstring("<div></div>")
    try:
        return lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        # e.g. an XML declaration in a str, or nothing parseable: retry without the declaration
        cleaned = re.sub(r"^\s*<\?xml[^>]*>", "", html)
        try:
            return lxml_html.document_fromstring(cleaned)
        except (etree.ParserError, ValueError):
            return lxml_html.fromstring("<div></div>")


def element_text(el) -> str:
    """Plain text of an lxml element and its descendants (the element's own tail excluded)."""
    out = _TextBuilder()
    tail, el.tail = el.tail, None
    try:
        _walk(el, out, pre=False)
    finally:
        el.tail = tail
    return out.result()


def html_to_text(html: str) -> str:
    """Plain text of an HTML string: paragraphs separated by a blank line, `<br>` as a newline."""
    return element_text(parse_html(html))


def paragraphs(text: str) -> list[str]:
    """Split text into its paragraphs (blank-line separated), dropping empty ones."""
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
