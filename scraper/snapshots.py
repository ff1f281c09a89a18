"""Fetched HTML kept on disk, so extraction can be redone later without fetching again.

Layout: `<dataset>/snapshots/<host>/<first 20 hex of sha256(canonical url)>.html.gz` for a story's first page
and `...__p<N>.html.gz` for page N >= 2 of a multi-page story. `<host>` is the URL's lowercase host name, with
`_<port>` appended for a non-default port (`127.0.0.1_8123`; no ':' so the name works on every file system).
The content is the page as UTF-8 text (decoded from the response charset; for browser-rendered pages, the
rendered DOM), gzip-compressed with a zero timestamp and no file name in the header, so the same HTML always
gives the same bytes. Files are written atomically. The manifest's `snapshots` field lists the paths relative to
the dataset folder, in reading order. Read one with `read_snapshot(paths, rel)` (or just
`gzip.decompress(path.read_bytes()).decode("utf-8")`).
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from urllib.parse import urlsplit

from common.fsio import atomic_write_bytes
from common.paths import DatasetPaths

SNAPSHOT_DIR = "snapshots"
HASH_HEX = 20
GZIP_LEVEL = 6


def host_folder(url: str) -> str:
    """The folder name of a URL's host: `example.com`, `127.0.0.1_8123`, IPv6 colons as '-'."""
    parts = urlsplit(url)
    host = (parts.hostname or "unknown").lower().replace(":", "-")
    host = re.sub(r"[^a-z0-9._-]", "_", host) or "unknown"
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return f"{host}_{port}" if port and port != default else host


def snapshot_rel(url: str, page: int = 1) -> str:
    """Path of a snapshot relative to the dataset folder, for canonical `url` and 1-based `page`."""
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:HASH_HEX]
    suffix = f"__p{page}" if page >= 2 else ""
    return f"{SNAPSHOT_DIR}/{host_folder(url)}/{digest}{suffix}.html.gz"


def encode_snapshot(html: str) -> bytes:
    """Deterministic gzip bytes of an HTML string (UTF-8; unpaired surrogates replaced)."""
    data = bytearray(gzip.compress(html.encode("utf-8", errors="replace"), compresslevel=GZIP_LEVEL, mtime=0))
    data[9] = 255  # the header's OS byte: zlib writes the build platform's; 255 ("unknown") is the same everywhere
    return bytes(data)


def decode_snapshot(data: bytes) -> str:
    """The HTML string back out of snapshot bytes."""
    return gzip.decompress(data).decode("utf-8")


def write_snapshot(paths: DatasetPaths, url: str, page: int, html: str) -> str:
    """Write page `page` of canonical `url` atomically; return its dataset-relative path."""
    rel = snapshot_rel(url, page)
    atomic_write_bytes(paths.root / rel, encode_snapshot(html))
    return rel


class MissingSnapshot(Exception):
    """A snapshot that is gone, unreadable, or named outside the dataset folder (one-line message)."""


def read_snapshot(paths: DatasetPaths, rel: str) -> str:
    """The HTML of a snapshot given its dataset-relative path (as stored in the manifest, so untrusted: a path
    that leaves the dataset folder is refused). Raises MissingSnapshot when it cannot be used."""
    root = paths.root.resolve()
    path = (root / rel).resolve()
    if root not in path.parents:
        raise MissingSnapshot(f"snapshot path outside the dataset folder: {rel}")
    try:
        return decode_snapshot(path.read_bytes())
    except FileNotFoundError:
        raise MissingSnapshot(f"snapshot missing: {rel}") from None
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError) as e:
        raise MissingSnapshot(f"snapshot unreadable: {rel} ({type(e).__name__})") from None
