"""Crash-safe file primitives: atomic rewrites, append-only JSONL with torn-tail tolerance, hashing.

Every file the pipeline rewrites goes through `atomic_write_*` (temp file in the same folder, fsync, rename),
so a kill -9 leaves either the old file or the new one, never half of either. Append-only logs go through
`append_jsonl`; their readers ignore a torn last line, and `repair_torn_tail` cuts it off before the next
append so later lines never glue onto a fragment.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

HASH_CHUNK = 1 << 20  # bytes read at a time when hashing a file
log = logging.getLogger("miniature_memory")


def printable(name: str) -> str:
    """A file name as valid UTF-8 text: bytes that are not UTF-8 (surrogate-escaped by the OS layer) become \\xNN,
    so the name can be logged and stored in JSON."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def parse_json(data: bytes | str) -> object:
    """json.loads that raises only ValueError for bad input: JSON nested too deeply to parse (RecursionError) and
    integers of more than 4,300 digits (which Python refuses) are reported as bad JSON, not crashes."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ValueError as e:
        if "integer string conversion" in str(e):  # Python's guard against quadratic-time int parsing
            raise ValueError("a number of more than 4,300 digits") from None
        raise


def fsync_dir(path: Path) -> None:
    """Flush a folder's entry table so a rename inside it survives a power cut (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sync_filesystem(path: Path) -> None:
    """Flush everything written on the filesystem that holds `path` to disk in one call (Linux `syncfs`; `os.sync`
    elsewhere), for writers of many small files that skipped their own fsyncs (atomic_write_bytes(fsync=False)):
    each fsync of a small file cost ~0.33 ms on the 2-core VM and the journal served them one at a time, however
    many processes asked (3,000 files of 3 KB: 0.98 s from one process, 0.82 s from two), while the same files
    written without fsync and flushed by one syncfs took 0.46 s."""
    libc_syncfs = _syncfs()
    if libc_syncfs is not None:
        fd = os.open(path, os.O_RDONLY)
        try:
            if libc_syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    if hasattr(os, "sync"):
        os.sync()  # no syncfs, or it failed: flush every filesystem


def can_sync_filesystem() -> bool:
    """Whether sync_filesystem flushes anything here (not on Windows, which has neither call: writers fsync each
    file there instead)."""
    return _syncfs() is not None or hasattr(os, "sync")


@functools.cache  # looked up once per process, not at every flush
def _syncfs():
    """libc's syncfs(fd) on Linux, else None (the standard library has no wrapper for it)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None


def atomic_write_via(path: Path, write: Callable[[Path], None], sync_dir: bool = True, fsync: bool = True) -> None:
    """Let `write` fill a temp file beside `path`, then fsync and rename it into place (for writers that want a
    file name, like safetensors): readers see the old or the new file, never a mix. With sync_dir=False the
    caller takes over fsyncing the folder (fsync_dir) before it records the file as written anywhere, e.g. once
    for many files of one folder. With fsync=False neither the file nor its folder is fsynced (a kill -9 still
    leaves the old or the new file; a power cut may not): the caller calls sync_filesystem before it records the
    file as written anywhere."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        if fsync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync_dir and fsync:
        fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes, sync_dir: bool = True, fsync: bool = True) -> None:
    """Write `data` to `path` via temp file + fsync + rename: readers see the old or the new file, never a mix
    (sync_dir, fsync: as in atomic_write_via)."""
    atomic_write_via(path, lambda tmp: tmp.write_bytes(data), sync_dir, fsync)


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically write `data` unless the file already holds exactly these bytes; True when it wrote."""
    path = Path(path)
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    atomic_write_bytes(path, data)
    return True


def atomic_write_text(path: Path, text: str) -> None:
    """UTF-8 version of `atomic_write_bytes` (no newline translation)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def dumps_json(obj: Any) -> str:
    """Canonical JSON (sorted keys, no ASCII escaping) so rewritten files are byte-identical run to run."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def write_json(path: Path, obj: Any) -> None:
    """Atomically write pretty, key-sorted JSON (human-readable metadata)."""
    atomic_write_text(path, json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=2) + "\n")


def read_json(path: Path, default: Any = None) -> Any:
    """Read a JSON file; `default` when it is missing."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return default
    return parse_json(data)


def write_jsonl(path: Path, records: Iterable[dict]) -> None:
    """Atomically rewrite a JSONL file with canonical lines."""
    atomic_write_text(path, "".join(dumps_json(r) + "\n" for r in records))


def repair_torn_tail(path: Path) -> None:
    """Cut a partial last line (left by a kill mid-append) so the next append starts on a clean line."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(path, "rb+") as f:
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        # Walk back to the last newline; everything after it is the torn fragment.
        pos = size
        while pos > 0:
            step = min(HASH_CHUNK, pos)
            f.seek(pos - step)
            block = f.read(step)
            nl = block.rfind(b"\n")
            if nl >= 0:
                f.truncate(pos - step + nl + 1)
                break
            pos -= step
        else:
            f.truncate(0)
        f.flush()
        os.fsync(f.fileno())


def append_jsonl(path: Path, records: Iterable[dict], fsync: bool = True) -> int:
    """Append records as JSON lines after repairing any torn tail; returns how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    repair_torn_tail(path)
    n = 0
    with open(path, "a", encoding="utf-8", newline="\n") as f:
        for rec in records:
            f.write(dumps_json(rec) + "\n")
            n += 1
        f.flush()
        if fsync:
            os.fsync(f.fileno())
    return n


def read_jsonl(path: Path) -> Iterator[dict]:
    """Yield the records of a JSONL file; a missing file yields nothing, a torn last line is skipped and a garbled
    line (bad JSON, nested too deeply, a 5,000-digit number) is skipped with a warning."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        for lineno, raw in enumerate(f, 1):
            if not raw.endswith(b"\n"):
                return  # torn last line: the write that made it never finished
            try:
                rec = parse_json(raw)
            except ValueError as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors too
                log.warning(f"{printable(str(path))}:{lineno}: corrupt line ignored ({str(e)[:80]})")
                continue
            if isinstance(rec, dict):
                yield rec


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks so memory stays flat for huge files."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_CHUNK):
            h.update(block)
    return h.hexdigest()
