"""Long texts as the pipeline wants them: cut into parts at paragraph breaks, and rid of Project Gutenberg's
header and licence.

A whole book imported as one item is one document, so a few books give `prepare` no validation documents and a
model trained on them is scored on nothing held out. `split_parts` cuts a text into parts of about `max_chars`
characters (each part ends at the first paragraph break after it reaches `max_chars`; a paragraph longer than
that stays whole), losslessly: the parts joined give the text back byte for byte, so raw/ still holds every
character that was imported.

Project Gutenberg files wrap the book between two marker lines, `*** START OF THE PROJECT GUTENBERG EBOOK <TITLE>
***` and `*** END OF THE PROJECT GUTENBERG EBOOK <TITLE> ***` ("THIS" instead of "THE" in older files): above the
first is a header (title, author, release date), below the second the licence, some 19,000 characters (older files
also close the book with a line "End of the Project Gutenberg EBook of <title>" just above the end marker: the end
starts there). The "Produced by <volunteers>" line under the start marker stays. `split_parts` always cuts right
after the start line and right before the end line, and never inside the licence, so the header and the licence are
parts of their own; `strip_gutenberg` (the clean stage's first step) keeps only what lies between the markers, so
those parts clean to nothing and are rejected as `empty_after_clean`, while the book's own parts lose nothing.
"""

from __future__ import annotations

import re

# A marker is a whole line: "*** START OF THE PROJECT GUTENBERG EBOOK GRIMMS' FAIRY TALES ***" (any case,
# "THIS" for "THE", "E-BOOK" for "EBOOK", spaces around the stars optional).
_MARKER = r"^[ \t]*\*{3}[ \t]*{kind} OF TH(?:E|IS) PROJECT GUTENBERG E-?BOOK\b[^\n]*$"
START_RE = re.compile(_MARKER.replace("{kind}", "START"), re.I | re.M)
# The end: the marker line, or the closing line older files put a few lines above it ("End of the Project
# Gutenberg EBook of <title>, by <author>", "End of Project Gutenberg's <title>"), whichever comes first.
END_RE = re.compile(_MARKER.replace("{kind}", "END") + r"|^[ \t]*End of (?:the )?Project Gutenberg\b[^\n]*$",
                    re.I | re.M)
# A paragraph break: a line holding nothing but spaces (any line ending), and the line endings around it.
_BREAK_RE = re.compile(r"(?:\r\n|\r|\n)[ \t]*(?:\r\n|\r|\n)(?:[ \t]*(?:\r\n|\r|\n))*")
_LINE_END_RE = re.compile(r"\r\n|\r|\n")


def strip_gutenberg(text: str) -> str:
    """The text between Project Gutenberg's start and end marker lines (from the start of the text when there is
    no start line, to its end when there is no end line); any other text unchanged."""
    start = START_RE.search(text)
    if start is not None:
        text = text[_line_end(text, start.end()):]
    end = END_RE.search(text)
    if end is not None:
        text = text[:end.start()]
    return text


def split_parts(text: str, max_chars: int) -> list[str]:
    """Cut `text` into parts of about `max_chars` characters at paragraph breaks (see the module docstring);
    "".join(parts) == text. max_chars <= 0 or a short text: [text]."""
    if max_chars <= 0:
        return [text]
    start, end = START_RE.search(text), END_RE.search(text)
    head_end = _line_end(text, start.end()) if start is not None else 0
    tail_start = end.start() if end is not None and end.start() >= head_end else len(text)
    parts = [text[:head_end]] if head_end else []
    parts += _cut(text[head_end:tail_start], max_chars)
    if tail_start < len(text):
        parts.append(text[tail_start:])
    return [p for p in parts if p] or [text]


def _cut(body: str, max_chars: int) -> list[str]:
    parts, begin = [], 0
    while len(body) - begin > max_chars:
        brk = _BREAK_RE.search(body, begin + max_chars)
        if brk is None:
            break
        parts.append(body[begin:brk.end()])
        begin = brk.end()
    rest = body[begin:]
    if parts and not rest.strip():
        parts[-1] += rest  # trailing blanks stay with the last paragraph, never a part of their own
    else:
        parts.append(rest)
    return parts


def _line_end(text: str, pos: int) -> int:
    """Index just past the line ending at or after `pos` (len(text) when the text ends first)."""
    m = _LINE_END_RE.search(text, pos)
    return m.end() if m is not None else len(text)
