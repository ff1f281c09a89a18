"""Check every raw file: its name, its index record, its sha256 (tamper detection), size, encoding and content.

A raw file can be edited or deleted by hand at any time, so every run rechecks every file under raw/, reading
each one once in 1 MB chunks (memory stays flat however large a file is). Usable items are kept; the others are
rejected with one reason code, the first of these that applies:

    bad_name         not raw/<source>/<YYYYMMDD_HHMMSS>__<source>__<doc id>__<12 hex>.txt: a stray file directly
                     in raw/, a nested folder, a name that does not parse or is not valid UTF-8, a doc id with
                     characters other than letters, digits, '.', '-', '_', a source field that is not its folder
                     name, or something that is not a regular file
    unreadable       the file cannot be opened (permissions)
    no_index_record  metadata/raw_index.jsonl has no line for it (e.g. a file copied in by hand)
    sha256_mismatch  its content is not what was recorded at import: the file was edited (the stage fails)
    too_large        more than max_bytes bytes (hashed in chunks, never held in memory)
    binary           NUL bytes, or more than max_control_share of its bytes are control characters
    not_utf8         not valid UTF-8
    empty            no bytes, or only whitespace

Index records whose file is gone (deleted by a user) are logged and counted as `missing`; they are not items.
Hidden files and folders (names starting with '.', such as the temp file of an interrupted write) are ignored,
so a killed import leaves no trace in this stage's outputs. Raw files are never modified. When any file was
tampered with, all outputs are still written and the stage then exits with code 1 naming the first such file.

**Reads:** `dataset/raw/**`, `dataset/metadata/raw_index.jsonl`.
**Writes:** `dataset/metadata/validate_ledger.jsonl` (rewritten in full, only when its bytes change),
`dataset/rejected/<reason>/validate.jsonl`, `dataset/metadata/validate_manifest.json`.
**Usage:**
    python scripts/validate_raw.py
    python scripts/validate_raw.py --dataset-dir /data/stories --max-bytes 5000000
"""

import sys
from pathlib import Path

import codecs
import hashlib
import logging
import os
import re
import stat
from dataclasses import dataclass

from tqdm import tqdm

from common.cli import require_dataset, stage_main
from common.config import StageFailed, UserError, config_dict, fingerprint, opt
from common.fsio import HASH_CHUNK, dumps_json, printable, write_if_changed
from common.ledger import LEDGER_VERSION, write_manifest, write_rejections
from common.paths import DatasetPaths
from common.rawstore import item_sort_key, parse_raw_name, read_raw_index

STAGE = "validate"
REASONS = ("bad_name", "unreadable", "no_index_record", "sha256_mismatch", "too_large", "binary", "not_utf8",
           "empty")
# Control bytes that never belong in prose; tab, newlines, vertical tab and form feed are allowed.
CONTROL = bytes(b for b in range(32) if b not in b"\t\n\r\v\f") + b"\x7f"
NOT_CONTROL = bytes(b for b in range(256) if b not in CONTROL)
DOC_ID_RE = re.compile(r"^[A-Za-z0-9._-]+$")  # what rawstore.safe_doc_id produces
log = logging.getLogger("miniature_memory.validate")


@dataclass
class ValidateConfig:
    max_bytes: int = opt(20_000_000, "reject raw files larger than this (bytes; 20 MB)")
    max_control_share: float = opt(0.05, "reject as binary when more than this share of the bytes are "
                                         "control characters (0-1; random binary data has about 0.12)")


def item_id(rel: str) -> str:
    """Item id of a path relative to raw/: `<source>/<stem>` for a .txt file, the printable path otherwise."""
    rel = printable(rel)
    return rel[:-4] if rel.endswith(".txt") else rel


def name_problem(rel: str) -> str | None:
    """Why a path relative to raw/ is not a valid raw item name (None when it is one)."""
    if printable(rel) != rel:
        return "file name is not valid UTF-8"
    parts = rel.split("/")
    if len(parts) == 1:
        return "not inside a source folder (raw/<source>/<file>)"
    if len(parts) > 2:
        return "inside a sub-folder of a source folder"
    folder, name = parts
    fields = parse_raw_name(name)
    if fields is None:
        return "name does not follow <YYYYMMDD_HHMMSS>__<source>__<doc id>__<12 hex digits>.txt"
    if not DOC_ID_RE.match(fields["doc_id"]):
        return f"doc id '{fields['doc_id']}' has characters other than letters, digits, '.', '-', '_'"
    if fields["source"] != folder:
        return f"source '{fields['source']}' in the name is not the folder name '{folder}'"
    return None


def walk_raw(raw: Path) -> list[tuple[str, Path]]:
    """(path relative to raw/, path) of every visible non-folder entry under raw/, including stray ones."""
    out = []
    for dirpath, dirnames, filenames in os.walk(raw):
        here = Path(dirpath)
        links = [d for d in dirnames if (here / d).is_symlink()]  # not descended: reported as entries
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in links)
        for name in filenames + links:
            if not name.startswith("."):
                out.append(((here / name).relative_to(raw).as_posix(), here / name))
    return out


def scan_file(path: Path, inspect: bool = True, chunk: int = HASH_CHUNK) -> dict:
    """One streaming pass: sha256 and size, plus (when `inspect`) NUL/control byte counts, UTF-8 validity
    (`bad_utf8_at`: offset of the first invalid byte or None), characters and whether any is not whitespace."""
    h = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = nul = control = chars = 0
    bad_at, has_text = None, False
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
            if inspect:
                nul += block.count(0)
                control += len(block.translate(None, NOT_CONTROL))
                if bad_at is None:
                    buffered = len(decoder.getstate()[0])  # bytes of a character split across blocks
                    try:
                        text = decoder.decode(block)
                    except UnicodeDecodeError as e:
                        bad_at = size - buffered + e.start
                    else:
                        chars += len(text)
                        has_text = has_text or bool(text.strip())
            size += len(block)
    if inspect and bad_at is None:
        buffered = len(decoder.getstate()[0])
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as e:  # the file ends inside a multi-byte character
            bad_at = size - buffered + e.start
    return {"sha256": h.hexdigest(), "bytes": size, "inspected": inspect, "nul": nul, "control": control,
            "bad_utf8_at": bad_at, "chars": chars, "has_text": has_text}


def check_content(scan: dict, record: dict, cfg: ValidateConfig) -> tuple[str | None, dict]:
    """(reason or None, evidence) for a scanned file that has an index record."""
    n = scan["bytes"]
    if scan["sha256"] != record.get("sha256"):
        return "sha256_mismatch", {"expected": record.get("sha256"), "actual": scan["sha256"], "bytes": n,
                                   "recorded_bytes": record.get("bytes")}
    if n > cfg.max_bytes or not scan["inspected"]:
        return "too_large", {"bytes": n, "max_bytes": cfg.max_bytes}
    if scan["nul"]:
        return "binary", {"nul_bytes": scan["nul"], "bytes": n}
    share = scan["control"] / n if n else 0.0
    if share > cfg.max_control_share:
        return "binary", {"control_share": round(share, 4), "max_control_share": cfg.max_control_share}
    if scan["bad_utf8_at"] is not None:
        return "not_utf8", {"byte_offset": scan["bad_utf8_at"]}
    if not scan["has_text"]:
        return "empty", {"bytes": n}
    return None, {"bytes": n, "chars": scan["chars"]}


def check_entry(rel: str, path: Path, index: dict[str, dict], cfg: ValidateConfig) -> dict:
    """The ledger record of one entry under raw/: {"item", "keep", "reason", "evidence"}."""
    item, shown = item_id(rel), printable(rel)
    reason, evidence = None, {}
    problem = name_problem(rel)
    try:
        st = os.stat(path)
    except OSError as e:
        st, problem = None, problem or f"cannot stat: {e.strerror}"
    if problem is None and not stat.S_ISREG(st.st_mode):
        problem = "not a regular file"
    if problem:
        reason, evidence = "bad_name", {"path": shown, "problem": problem}
    elif item not in index:
        reason, evidence = "no_index_record", {"path": shown, "bytes": st.st_size}
    else:
        try:
            scan = scan_file(path, inspect=st.st_size <= cfg.max_bytes)
        except OSError as e:
            reason, evidence = "unreadable", {"path": shown, "error": e.strerror or str(e)}
        else:
            reason, evidence = check_content(scan, index[item], cfg)
    return {"item": item, "keep": reason is None, "reason": reason, "evidence": evidence}


def write_ledger(paths: DatasetPaths, cfg: ValidateConfig, records: list[dict]) -> bool:
    """Rewrite the ledger atomically in the common.ledger format, only when its bytes change; True if written."""
    header = {"header": True, "stage": STAGE, "config": fingerprint(cfg), "v": LEDGER_VERSION}
    data = "".join(dumps_json(r) + "\n" for r in [header, *records]).encode("utf-8")
    return write_if_changed(paths.ledger(STAGE), data)


def check_config(cfg: ValidateConfig) -> None:
    if cfg.max_bytes < 1:
        raise UserError(f"max_bytes must be at least 1, got {cfg.max_bytes}")
    if not 0.0 <= cfg.max_control_share <= 1.0:
        raise UserError(f"max_control_share must be between 0 and 1, got {cfg.max_control_share}")


def run(cfg: ValidateConfig, paths: DatasetPaths, force: bool = False) -> dict:
    """Recheck every raw file (always all of them; `force` changes nothing); returns counts
    (checked, kept, rejected, missing). Raises StageFailed after writing everything if a file was tampered."""
    require_dataset(paths)
    check_config(cfg)
    index = read_raw_index(paths, fields=("sha256", "bytes"))
    entries = walk_raw(paths.raw) if paths.raw.is_dir() else []
    records = [(check_entry(rel, path, index, cfg), rel)
               for rel, path in tqdm(entries, desc="validate", unit="file", disable=None)]
    records.sort(key=lambda r: (item_sort_key(r[0]["item"]), printable(r[1])))
    decisions = [rec for rec, _ in records]

    present = {rec["item"] for rec in decisions}
    missing = sorted((i for i in index if i not in present), key=item_sort_key)
    if missing:
        log.warning(f"{len(missing):,} index record(s) have no raw file (deleted?), first: raw/{missing[0]}.txt")

    if write_ledger(paths, cfg, decisions):
        log.debug(f"wrote {paths.ledger(STAGE)}")
    by_reason = write_rejections(paths, STAGE, decisions)
    kept = sum(rec["keep"] for rec in decisions)
    counts = {"checked": len(decisions), "kept": kept, "rejected": len(decisions) - kept, "missing": len(missing)}
    write_manifest(paths, STAGE, config_dict(cfg), {**counts, "by_reason": by_reason},
                   reasons=list(REASONS), missing_items=missing[:100])
    for reason, n in by_reason.items():
        log.info(f"rejected {n:,} as {reason}")

    tampered = [rec for rec in decisions if rec["reason"] == "sha256_mismatch"]
    if tampered:
        raise StageFailed(f"{len(tampered):,} raw file(s) changed since import (sha256_mismatch), first: "
                          f"raw/{tampered[0]['item']}.txt; raw files must never be edited: restore the "
                          f"original, or delete it and import the new text")
    return counts


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, ValidateConfig, run, argv, __doc__, "validate_raw.py")


if __name__ == "__main__":
    sys.exit(main())
