"""Decode an HTML response body to text: never crashes, whatever the server claims.

Order (the HTML standard's, with two safety nets):
1. a byte-order mark;
2. the `charset` of the HTTP Content-Type header;
3. a `<meta charset>` / `<meta http-equiv="Content-Type" content="...; charset=...">` in the first 4 KiB;
4. UTF-8, then windows-1252, then the declared charset (or UTF-8) with replacement characters.
A declared UTF-8 that does not decode (latin-1 bytes served as UTF-8: a common lie) falls through to the next
step instead of filling the text with U+FFFD. A declared single-byte charset is overridden by UTF-8 only when the
bytes are valid UTF-8 *and* contain multi-byte sequences, which legacy-encoded text practically never is.
Unknown labels are ignored, and so are labels of Python codecs that are not text encodings of a web page
(`base64`, `rot13`, `zip`, `hex`, `uu`...: bytes-to-bytes codecs; `undefined`, which always raises; `idna`,
`punycode` and the escape codecs): a page declaring one decodes like a page declaring nothing. Like browsers,
`iso-8859-1`/`ascii` labels decode as windows-1252 (its superset).
"""

from __future__ import annotations

import codecs
import re

META_SCAN_BYTES = 4096
META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
WINDOWS_1252_ALIASES = {"latin_1", "iso8859-1", "ascii"}  # Python codec names the web decodes as cp1252
# Text codecs that are no page's charset: they raise on ordinary bytes or mean something else entirely.
NOT_PAGE_CODECS = {"undefined", "idna", "punycode", "unicode_escape", "raw_unicode_escape", "utf-7"}


def text_codec(label: str | None) -> str | None:
    """Python's codec name for a charset label when it is a real text encoding, else None (see docstring)."""
    if not label or not isinstance(label, str):
        return None
    try:
        info = codecs.lookup(label.strip().strip("\"'"))
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in NOT_PAGE_CODECS:
        return None  # _is_text_encoding is False for base64, rot13, zip, hex, uu, bz2, quopri...
    try:
        b"<html>".decode(info.name)
    except (UnicodeError, LookupError, ValueError, TypeError):
        return None
    return info.name


def normalize_label(label: str | None) -> str | None:
    """Python's codec name for a charset label, or None when unknown or not a page encoding."""
    name = text_codec(label)
    if name in WINDOWS_1252_ALIASES:
        return "cp1252"
    return name


def header_charset(content_type: str | None) -> str | None:
    """The raw charset label of a Content-Type header value."""
    m = HEADER_CHARSET.search(content_type or "")
    return m.group(1) if m else None


def meta_charset(body: bytes) -> str | None:
    """The raw charset label declared by a <meta> tag near the start of the document."""
    m = META_CHARSET.search(body[:META_SCAN_BYTES])
    return m.group(1).decode("ascii", "replace") if m else None


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeError, LookupError):
        return None


def _is_multibyte_utf8(body: bytes) -> bool:
    return not body.isascii() and _strict(body, "utf-8") is not None


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, codec actually used) for an HTML body; see the module docstring for the order."""
    for bom, codec in BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(codec, errors="replace"), codec
    declared = [normalize_label(header_charset(content_type)), normalize_label(meta_charset(body))]
    for codec in declared:
        if not codec:
            continue
        if codec.startswith("utf-16") or codec.startswith("utf-32"):
            codec = "utf-8"  # a document that still parses as ASCII-compatible cannot be UTF-16 (HTML standard)
        if codec != "utf-8" and _is_multibyte_utf8(body):
            return body.decode("utf-8"), "utf-8"
        text = _strict(body, codec)
        if text is not None:
            return text, codec
    for codec in ("utf-8", "cp1252"):
        text = _strict(body, codec)
        if text is not None:
            return text, codec
    fallback = next((c for c in declared if c and not c.startswith(("utf-16", "utf-32"))), "utf-8")
    return body.decode(fallback, errors="replace"), fallback
