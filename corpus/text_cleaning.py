"""The pure text side of the clean stage: `clean_text(text, rules) -> text`, and the rules it follows.

Steps, in this order:
 0. Project Gutenberg's header and licence go: only the text between its START and END marker lines stays
    (corpus/book_parts.py; a text without them is unchanged).
 1. HTML: <script>/<style>/<noscript>/<template> go with their content, comments too; known tags become
    paragraph breaks (<p>, <div>, <h1>...), line breaks (<br>), a space (<td>) or nothing (<i>, <span>...);
    <hr> becomes a scene break; entities (&amp; &nbsp; &#8217;) are decoded; repeated until nothing changes
    (double-escaped &amp;lt;p&amp;gt; too). Only known tag names with no attributes or attributes with '=' are
    tags and entities need their ';', so "x < y and y > z", "a<b and c>d", "I <3 you", "AT&T", "&c" survive.
 2. Line endings: CRLF, CR, U+2028, VT, FF -> LF; U+2029 -> blank line. (NEL is left to ftfy: it is usually
    mojibake for '…'.)
 3. Invisible characters go: C0 controls but newline and tab, DEL, terminal colour codes, BOM, zero-width
    space, word joiner, soft hyphen, bidi marks, ftfy's list of unwanted format characters. ZWJ and ZWNJ stay
    (spelling in Persian and Indic scripts; they glue emoji together).
 4. ftfy repairs mojibake ("cafÃ©" -> "café"), with options chosen so legitimate text is not changed:
    uncurl_quotes=False (“curly” quotes stay curly), fix_character_width=False (fullwidth CJK punctuation
    such as ！ and ？ stays as written), unescape_html=False (step 1 does it, requiring the ';'),
    fix_latin_ligatures=True (ﬁ -> fi, ĳ -> ij: typesetting, not text), normalization NFC. C1 controls
    it leaves are then removed. It only runs where one of its fixes applies (`needs_ftfy`); else just NFC.
 5. Whitespace inside lines: every Unicode space (tab, NBSP, ideographic space...) becomes ' ', runs collapse
    to one, lines are stripped at both ends (indentation is layout, not text).
 6. Site artifacts (rules file): inline patterns are cut out of lines, then lines that fully match a line
    pattern go. NFC again (a cut can bring a letter next to a combining accent).
 7. Layout: scene-break lines become `* * *` with one blank line around (never first, last or doubled);
    inside other lines "* * *" becomes "***", so the marker string only ever means a scene break; at most
    one blank line between paragraphs; hard-wrapped paragraphs are unwrapped (`unwrap_paragraph`); no
    leading or trailing blank lines; the text ends with exactly one newline ("" when nothing is left).
Each step is idempotent; when one step's output gives an earlier one new work (rare: `is_settled` lists the
cases), the pass repeats, so clean_text(clean_text(x)) == clean_text(x) (property-tested).

Nothing here drops a character for not being ASCII: accents, curly quotes, dashes, Cyrillic, CJK survive.
"""

from __future__ import annotations

import html
import re
import unicodedata

import ftfy
import ftfy.badness
import ftfy.chardata

from common.text_format import SCENE_BREAK
from corpus.book_parts import END_RE, START_RE, strip_gutenberg
from corpus.clean_rules import Rules, default_rules

MAX_PASSES = 4  # clean_text repeats its steps until nothing changes, at most this often
FTFY_CONFIG = ftfy.TextFixerConfig(unescape_html=False, uncurl_quotes=False, fix_character_width=False,
                                   fix_latin_ligatures=True, fix_line_breaks=True, normalization="NFC",
                                   explain=False)

# --- step 1: HTML -------------------------------------------------------------------------------------------
_BLOCK_TAGS = ("address article aside blockquote body caption center dd details dialog div dl dt fieldset "
               "figcaption figure footer form h1 h2 h3 h4 h5 h6 head header html li main nav ol p pre section "
               "summary table tbody tfoot thead title tr ul").split()
_INLINE_TAGS = ("a abbr acronym audio b base bdi bdo big button cite code col colgroup data del dfn em embed "
                "font i iframe img input ins kbd label link mark meta object option param path picture q rp "
                "rt ruby s samp select small source span strike strong sub sup svg textarea time tt u var "
                "video wbr").split()
_TAG_SUBST = {**{t: "\n\n" for t in _BLOCK_TAGS}, **{t: "" for t in _INLINE_TAGS},
              "br": "\n", "td": " ", "th": " ", "hr": "\n\n***\n\n"}
# A tag is a known name, then nothing or attributes with at least one '=': "<b and c>" in prose is no tag.
_TAG_RE = re.compile(r"</?(%s)(?:\s[^<>=]*=[^<>]*|\s*/?)>" % "|".join(sorted(_TAG_SUBST, key=len, reverse=True)),
                     re.I)
_DROP_RE = re.compile(r"<(script|style|noscript|template)(?:\s[^<>]*)?>.*?</\1\s*>", re.I | re.S)
_COMMENT_RE = re.compile(r"<!--.*?-->|<!doctype[^<>]*>|<\?xml[^<>]*\?>", re.I | re.S)
_ENTITY_RE = re.compile(r"&(?:#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[A-Za-z][A-Za-z0-9]{1,31});")


def strip_html(text: str) -> str:
    """Tags to breaks, scripts/styles/comments dropped, entities decoded; repeated until stable."""
    while True:
        new = text
        if "<" in new:
            new = _DROP_RE.sub("", new)
            new = _COMMENT_RE.sub("", new)
            new = _TAG_RE.sub(lambda m: _TAG_SUBST[m.group(1).lower()], new)
        if "&" in new:
            new = _ENTITY_RE.sub(lambda m: html.unescape(m.group()), new)
        if new == text:  # terminates: every round consumes a '<' or shortens an entity
            return text
        text = new


# --- steps 2-5: characters and whitespace -------------------------------------------------------------------
_NEWLINE_RE = re.compile("\r\n?|[\u2028\x0b\x0c]")  # not NEL (\x85): mostly mojibake of '…', for ftfy
_ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_INVISIBLE = ("\x00-\x08\x0e-\x1f\x7f\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u206f"
              "\ufeff\ufff9-\ufffc")  # includes everything ftfy's remove_control_chars removes
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}\ud800-\udfff]")
_INVISIBLE_C1_RE = re.compile(f"[{_INVISIBLE}\x80-\x9f\ud800-\udfff]")  # after ftfy has used the C1 bytes
_SPACES_RE = re.compile(r"[^\S\n]{2,}|[^\S\n ]")  # only what must change: runs, and tabs, NBSP, ...
_LINE_EDGE_RE = re.compile(r" \n ?|\n ")
# Characters some ftfy step acts on (besides mojibake, which `is_bad` spots): C1 controls, Latin ligatures.
_FTFY_TRIGGER_RE = re.compile("[\x80-\x9f%s]" % "".join(map(chr, ftfy.chardata.LIGATURES)))
# ftfy's mojibake test cannot match text made only of ASCII, its "common" characters and quotation marks
# (checked for every string of up to 3 such characters, and by tests/test_clean.py), so lines of English
# with “curly quotes”, — and … skip that slow test.
_MAYBE_MOJIBAKE_RE = re.compile("[^\x00-\x7f%s“”‘’«»„‹›]" % ftfy.badness.MOJIBAKE_CATEGORIES["common"])


def normalize_newlines(text: str) -> str:
    """CRLF, CR, U+2028 (line sep), VT, FF -> LF; U+2029 (paragraph sep) -> blank line."""
    return _NEWLINE_RE.sub("\n", text.replace("\u2029", "\n\n"))


def squeeze_spaces(text: str) -> str:
    """Every run of non-newline whitespace -> one space; lines stripped at both ends."""
    return _LINE_EDGE_RE.sub("\n", _SPACES_RE.sub(" ", text)).strip(" ")


def fix_characters(text: str) -> str:
    """Drop invisible/control characters, repair mojibake with ftfy, NFC; visible text only changes where
    ftfy replaces a mojibake sequence with the character it stood for."""
    if "\x1b" in text:
        text = _ANSI_RE.sub("", text)
    text = nfc(_INVISIBLE_RE.sub("", text))  # NFC first: ftfy's mojibake test looks at composed characters
    while needs_ftfy(text):
        # ftfy fixes line by line and its verdict on a line can depend on the newline after it: give every
        # line one, as in the final text, so the next pass sees what this one saw
        fixed = ftfy.fix_text(text + "\n", FTFY_CONFIG)
        fixed = fixed[:-1] if fixed.endswith("\n") else fixed  # (a lossy repair can swallow that newline)
        text = _INVISIBLE_C1_RE.sub("", fixed)
        if text == fixed:  # else a control character ftfy left may have hidden mojibake: look again
            break
    return nfc(text)


def needs_ftfy(text: str) -> bool:
    """Whether ftfy would change more than NFC: mojibake (ftfy's own `is_bad` test), C1 controls, ligatures.

    Our FTFY_CONFIG leaves every other ftfy step nothing to do once steps 2-3 ran, so skipping ftfy here saves
    most of its cost (it runs at about 1.5 MB/s) without changing the result (tested)."""
    if text.isascii():
        return False
    if _FTFY_TRIGGER_RE.search(text):
        return True
    # ftfy tests each line (with its newline) on its own, so do we: only the lines that could hold mojibake
    return bool(_MAYBE_MOJIBAKE_RE.search(text)) and any(
        ftfy.badness.is_bad(line + "\n") for line in text.split("\n") if _MAYBE_MOJIBAKE_RE.search(line))


def nfc(text: str) -> str:
    """Unicode NFC (cheap when the text already is)."""
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


# --- steps 6-7: artifacts and layout -----------------------------------------------------------------------
_STARS_RE = re.compile(r"\*(?: \*){2,}")
_DIALOGUE_OPENERS = "\"'“‘«»„‚‹›「『—–-•*"
_SENTENCE_ENDS = ".!?…\"'”’»«)]:;"


def _defuse(line: str) -> str:
    """'* * *' inside a text line -> '***' (same star count), so the marker string only means a scene break."""
    return _STARS_RE.sub(lambda m: "*" * (len(m.group()) // 2 + 1), line) if "* *" in line else line


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def unwrap_paragraph(lines: list[str], wrap_min_width: int = 55, wrap_max_width: int = 100) -> list[list[str]]:
    """Join a hard-wrapped paragraph (lines broken at a fixed width, like Project Gutenberg) into one line.

    Returns the paragraphs it becomes: `[lines]` untouched unless every test below holds. The paragraph must
    have 2+ lines, its longest line L between the two widths, and every break must be a width break: the next
    line's first word would not have fitted (len(line) + 1 + len(word) > L); one short line anywhere means
    the breaks were made by hand (verse, letters, dialogue lines) and nothing is joined. Three or more lines
    that all start with a capital letter read as verse and are left alone. A line that opens with a dialogue
    mark after a line that ends a sentence starts a new paragraph (two speakers never end up on one line).
    'well-' + 'known' joins as 'well-known'; CJK joins without a space. Output paragraphs are single lines,
    which this test never accepts again, so unwrapping is idempotent.
    """
    n = len(lines)
    if n < 2:
        return [lines]
    width = max(map(len, lines))
    if not wrap_min_width <= width <= wrap_max_width:
        return [lines]
    for i in range(n - 1):
        if len(lines[i]) + 1 + len(lines[i + 1].split(" ", 1)[0]) <= width:
            return [lines]
    if n >= 3 and all(line[0].isupper() for line in lines[1:]):
        return [lines]
    out, cur = [], lines[0]
    for prev, nxt in zip(lines, lines[1:]):
        if nxt[0] in _DIALOGUE_OPENERS and prev[-1] in _SENTENCE_ENDS:
            out.append([cur])
            cur = nxt
        elif (prev[-1] == "-" and len(prev) > 1 and prev[-2].isalpha() and nxt[0].isalpha()) \
                or _wide(prev[-1]) or _wide(nxt[0]):
            cur += nxt
        else:
            cur += " " + nxt
    out.append([cur])
    return out


def remove_artifacts(text: str, rules: Rules) -> str:
    """Cut inline artifacts out of each line (until none are left; a line left empty goes), then drop lines
    that fully match a line pattern."""
    if rules.inline_re is not None and rules.inline_re.search(text):
        lines = []
        for line in text.split("\n"):
            while line and rules.inline_re.search(line):
                line = squeeze_spaces(rules.inline_re.sub("", line))  # a cut can bring two parts together
                if not line:
                    break
            else:
                lines.append(line)  # a line that was only an artifact goes, rather than becoming a blank line
        text = "\n".join(lines)
    drop = whole_line_matches(text, rules.line_re, rules.line_finder)
    if drop:
        text = "\n".join(line for line in text.split("\n") if line not in drop)
    return text


def whole_line_matches(text: str, full: re.Pattern | None, finder: re.Pattern | None) -> set[str]:
    """The non-empty lines of `text` that `full` matches completely (`finder` locates candidates fast)."""
    found: set[str] = set()
    if full is not None:
        for m in finder.finditer(text):
            end = text.find("\n", m.start())
            line = text[m.start():end if end >= 0 else len(text)]
            if line and full.fullmatch(line):
                found.add(line)
    return found


def layout(text: str, rules: Rules) -> str:
    """Scene breaks, paragraphs and unwrapping of squeezed text; ends with one newline ("" if empty)."""
    blocks: list[str | None] = []  # paragraph text, or None for a scene break
    para: list[str] = []

    def close() -> None:
        if para:
            for p in (unwrap_paragraph(para, rules.wrap_min_width, rules.wrap_max_width)
                      if rules.unwrap else [para]):
                blocks.append(_defuse("\n".join(p)))
            para.clear()

    scenes = whole_line_matches(text, rules.scene_re, rules.scene_finder)
    for line in text.split("\n"):
        if not line:
            close()
        elif line in scenes:
            close()
            if blocks and blocks[-1] is not None:
                blocks.append(None)
        else:
            para.append(_defuse(line))
    close()
    if blocks and blocks[-1] is None:
        blocks.pop()
    out = "\n\n".join(SCENE_BREAK if b is None else b for b in blocks)
    return out + "\n" if out else ""


def clean_once(text: str, rules: Rules) -> tuple[str, str, str]:
    """One pass of steps 0-7: the cleaned text, and the text right after step 4 and after step 6 (for
    `is_settled`: lines that have not changed since are known to need nothing from those steps)."""
    fixed = fix_characters(normalize_newlines(strip_html(strip_gutenberg(text))))
    tidy = nfc(remove_artifacts(squeeze_spaces(fixed), rules))
    return layout(tidy, rules), fixed, tidy


def _new_lines(text: str, before: str) -> str:
    known = set(before.split("\n"))
    return "\n".join(line for line in text.split("\n") if line not in known)


def is_settled(text: str, rules: Rules, fixed: str = "", tidy: str = "") -> bool:
    """True when no step before `layout` would change `text` (layout is idempotent by design).

    Lines unchanged since `fixed` (after step 4) or `tidy` (after step 6) are known to need nothing from ftfy
    or the artifact rules, so only the others are tested (ftfy's mojibake test costs about 0.3 s per MB)."""
    if START_RE.search(text) or END_RE.search(text):
        return False  # a second pair of Project Gutenberg markers
    if ("<" in text or "&" in text) and strip_html(text) != text:
        return False  # e.g. cutting an artifact out of "&am[...]p;" made an entity
    if _INVISIBLE_C1_RE.search(text) or nfc(text) != text:
        return False
    if not text.isascii() and needs_ftfy(_new_lines(text, fixed)) and fix_characters(text) != text:
        return False  # e.g. cutting a control character or an artifact brought mojibake together
    new = _new_lines(text, tidy)
    if rules.inline_re is not None and rules.inline_re.search(new):
        return False
    return not whole_line_matches(new, rules.line_re, rules.line_finder)  # e.g. an unwrapped line


def clean_text(text: str, rules: Rules | None = None) -> str:
    """Clean one document (see the module docstring); idempotent; "" when nothing is left.

    One pass is almost always enough; when a step's output gives an earlier step new work (the examples in
    `is_settled`), the pass is repeated, at most MAX_PASSES times, so clean_text(clean_text(x)) == clean_text(x).
    """
    rules = rules or default_rules()
    for _ in range(MAX_PASSES):
        text, fixed, tidy = clean_once(text, rules)
        if is_settled(text, rules, fixed, tidy):
            break
    return text
