"""Import local text into the raw store, or write the built-in demo corpus there.

Accepts `.txt` files, folders of them (searched recursively, also for .jsonl/.json), `.jsonl` files with one
`{"text": ...}` object per line, and `.json` files holding a list of strings or of `{"text": ...}` objects (like a
`dataset.json`). Each text becomes one raw item under `raw/<source>/` (with `--split-chars N`, one item per part
of about N characters, cut at paragraph breaks: corpus/book_parts.py); the same content imported twice from the
same source is skipped with a message. Unusable inputs (binary, not UTF-8, empty, too large) are skipped with a
one-line reason; nothing is ever modified or deleted.

**Reads:** the given files and folders (nothing under dataset/ but the raw index).
**Writes:** `dataset/raw/<source>/*.txt`, appends to `dataset/metadata/raw_index.jsonl`.
**Usage:**
    python scripts/import_text.py stories/ more.jsonl --source mybooks
    python scripts/import_text.py books/ --source gutenberg --split-chars 12000   # long books in parts
    python scripts/import_text.py --demo             # the built-in demo corpus into raw/demo/
    python scripts/import_text.py --demo-chat        # the built-in chat transcripts into raw/demo-chat/
"""

import sys
from pathlib import Path

import json
import logging
from dataclasses import dataclass
from typing import Iterator

from tqdm import tqdm

from common.cli import stage_main
from common.config import UserError, config_dict, opt
from common.fsio import parse_json, printable
from common.ledger import write_manifest
from common.paths import DatasetPaths
from common.rawstore import RawStore, Unstorable
from corpus.book_parts import split_parts

STAGE = "import"
SUFFIXES = (".txt", ".jsonl", ".json")
log = logging.getLogger("miniature_memory.import")


@dataclass
class ImportConfig:
    inputs: list[str] = opt([], "files or folders to import (.txt, .jsonl, .json)")
    source: str = opt("local", "source name the items are filed under (raw/<source>/)")
    text_key: str = opt("text", "field that holds the text in .jsonl/.json objects")
    max_file_mb: float = opt(64.0, "skip input files larger than this (MB)")
    split_chars: int = opt(0, "cut each text into parts of about this many characters at paragraph breaks, each "
                              "its own item (0: whole texts; books: 12000 gives prepare validation documents); "
                              "a Project Gutenberg header and licence become parts of their own")
    demo: bool = opt(False, "write the built-in demo corpus into raw/demo/ (no inputs needed)")
    demo_stories: int = opt(800, "how many demo stories to generate")
    demo_seed: int = opt(1234, "seed of the demo generator (same seed, same corpus)")
    demo_chat: bool = opt(False, "write the built-in chat transcripts (a user telling an assistant about "
                                 "themselves across sessions) into raw/demo-chat/")
    demo_chat_users: int = opt(400, "how many demo chat users (one transcript of demo_chat_sessions each)")
    demo_chat_sessions: int = opt(12, "sessions per demo chat transcript")


class Skip(Exception):
    """An input that cannot be imported; the message is the one-line reason."""


class StoreFailed(Exception):
    """Writing the raw store failed (disk full...): stops the import, unlike an input that cannot be read."""

    def __init__(self, error: OSError):
        super().__init__(str(error))
        self.error = error


def decode_text(data: bytes) -> str:
    """Bytes of a text file as str; Skip for binary, invalid UTF-8 or empty content."""
    if b"\x00" in data:
        raise Skip("binary content (NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Skip(f"not valid UTF-8 (byte {e.start})") from None
    if not text.strip():
        raise Skip("empty")
    return text


def records_from_json(data: bytes, text_key: str) -> Iterator[tuple[int, dict]]:
    """(index, record) pairs of a .json list of strings or objects."""
    try:
        value = parse_json(decode_text(data))
    except json.JSONDecodeError as e:
        raise Skip(f"not valid JSON (line {e.lineno}): {e.msg}") from None
    except ValueError as e:  # nested too deeply, or a number of more than 4,300 digits
        raise Skip(f"not usable JSON: {str(e)[:100]}") from None
    if not isinstance(value, list):
        raise Skip(f"a .json file must hold a list of strings or of {{\"{text_key}\": ...}} objects")
    for i, rec in enumerate(value):
        yield i, ({text_key: rec} if isinstance(rec, str) else rec)


def records_from_jsonl(path: Path, text_key: str) -> Iterator[tuple[int, dict]]:
    """(line number, record) pairs of a .jsonl file; bad lines are logged and skipped."""
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = parse_json(line)
            except ValueError:  # bad JSON or UTF-8, nested too deeply, a number of more than 4,300 digits
                log.warning(f"skipped {printable(str(path))}:{lineno}: not valid JSON")
                continue
            yield lineno, ({text_key: rec} if isinstance(rec, str) else rec)


def expand_inputs(inputs: list[str]) -> list[tuple[Path, Path]]:
    """(file, base folder) pairs for every importable file; a missing input is a UserError."""
    out = []
    for raw in inputs:
        p = Path(raw).expanduser()
        if p.is_dir():
            out.extend((f, p) for f in sorted(p.rglob("*"))
                       if f.is_file() and f.suffix.lower() in SUFFIXES and not f.name.startswith("."))
        elif p.is_file():
            out.append((p, p.parent))
        else:
            raise UserError(f"input not found: {raw}")
    return out


def import_file(store: RawStore, path: Path, base: Path, cfg: ImportConfig, counts: dict) -> None:
    """Import one file's texts into the store, updating counts."""
    if path.stat().st_size > cfg.max_file_mb * 1e6:
        raise Skip(f"larger than max_file_mb={cfg.max_file_mb:g}")
    # printable(): a file name that is not UTF-8 gets \xNN escapes, so it can go into the index and a doc id.
    stem = printable(str(path.relative_to(base).with_suffix(""))).replace("/", "-")
    suffix = path.suffix.lower()
    if suffix == ".txt":
        entries: Iterator[tuple[int | None, dict]] = iter([(None, {cfg.text_key: decode_text(path.read_bytes())})])
    elif suffix == ".jsonl":
        entries = records_from_jsonl(path, cfg.text_key)
    elif suffix == ".json":
        entries = records_from_json(path.read_bytes(), cfg.text_key)
    else:
        raise Skip(f"unsupported file type '{suffix}' (use {', '.join(SUFFIXES)})")
    shown = printable(str(path))
    for pos, rec in entries:
        where = shown if pos is None else f"{shown}[{pos}]"
        text = rec.get(cfg.text_key) if isinstance(rec, dict) else None
        if not isinstance(text, str) or not text.strip():
            log.warning(f"skipped {where}: no non-empty '{cfg.text_key}' string")
            counts["skipped"] += 1
            continue
        given_id = rec.get("id") if isinstance(rec.get("id"), (str, int, float)) else None  # no list or mapping
        doc_id = str(given_id or (stem if pos is None else f"{stem}-{pos:06d}"))
        title = rec.get("title") if isinstance(rec.get("title"), str) else stem
        url = rec.get("url") if isinstance(rec.get("url"), str) else None
        parts = split_parts(text, cfg.split_chars)
        if len(parts) == 1:
            store_one(store, text, cfg.source, doc_id, title, url, {"input": shown}, where, counts)
            continue
        for k, part in enumerate(parts, 1):
            store_one(store, part, cfg.source, f"{doc_id}-part{k:04d}", title, url,
                      {"input": shown, "part": k, "parts": len(parts)}, f"{where} part {k}", counts)


def store_one(store: RawStore, text: str, source: str, doc_id: str, title: str, url: str | None, extra: dict,
              where: str, counts: dict) -> None:
    """Add one text to the store, counting it as added, unchanged (same content already there) or skipped."""
    try:
        item, added = store.add(text, source, doc_id, title=title, url=url, method="import", extra=extra)
    except Unstorable as e:
        log.warning(f"skipped {where}: {e}")
        counts["skipped"] += 1
        return
    except OSError as e:
        raise StoreFailed(e) from None
    if added:
        counts["added"] += 1
    else:
        log.info(f"already imported: {where} (same content as {item})")
        counts["unchanged"] += 1


def import_demo(store: RawStore, cfg: ImportConfig, counts: dict) -> None:
    """Write the seeded demo corpus with its fixed timestamp, so every fresh run names files identically."""
    from demo.stories import DEMO_TIME, GENERATOR_VERSION, generate_corpus
    stories = generate_corpus(cfg.demo_stories, cfg.demo_seed)
    for story in tqdm(stories, total=cfg.demo_stories, desc="demo corpus", unit="story", disable=None):
        _, added = store.add(story.text, "demo", story.doc_id, title=story.title, method="demo_generator",
                             when=DEMO_TIME, extra={"generator": GENERATOR_VERSION, "seed": cfg.demo_seed})
        counts["added" if added else "unchanged"] += 1


def import_demo_chat(store: RawStore, cfg: ImportConfig, counts: dict) -> None:
    """Write the seeded chat transcripts (demo/dialogues.py, in the assistant/transcripts.py text form)."""
    from demo.dialogues import GENERATOR_VERSION, conversation_text, generate_conversation
    from demo.stories import DEMO_TIME
    for i in tqdm(range(cfg.demo_chat_users), desc="demo chat", unit="user", disable=None):
        conv = generate_conversation(i, cfg.demo_seed, cfg.demo_chat_sessions)
        _, added = store.add(conversation_text(conv), "demo-chat", conv.user_id, title=conv.user_id,
                             method="demo_generator", when=DEMO_TIME,
                             extra={"generator": GENERATOR_VERSION, "seed": cfg.demo_seed,
                                    "sessions": cfg.demo_chat_sessions})
        counts["added" if added else "unchanged"] += 1


def run(cfg: ImportConfig, paths: DatasetPaths, force: bool = False) -> dict:
    """Import everything named in cfg; returns counts (added, unchanged, skipped)."""
    if not cfg.demo and not cfg.demo_chat and not cfg.inputs:
        raise UserError("nothing to import: give files or folders, or --demo for the built-in corpus")
    if cfg.demo_stories < 1 or cfg.demo_chat_users < 1 or cfg.demo_chat_sessions < 1:
        raise UserError("demo_stories, demo_chat_users and demo_chat_sessions must be at least 1")
    if cfg.split_chars < 0:
        raise UserError("split_chars must be 0 (whole texts) or a number of characters")
    files = expand_inputs(cfg.inputs)
    paths.make_dirs()
    counts = {"added": 0, "unchanged": 0, "skipped": 0}
    with RawStore(paths) as store:
        if cfg.demo:
            import_demo(store, cfg, counts)
        if cfg.demo_chat:
            import_demo_chat(store, cfg, counts)
        for path, base in tqdm(files, desc="import", unit="file", disable=None if len(files) > 1 else True):
            try:
                import_file(store, path, base, cfg, counts)
            except Skip as e:
                log.warning(f"skipped {printable(str(path))}: {e}")
                counts["skipped"] += 1
            except StoreFailed as e:
                raise e.error from None  # the store rolls its unflushed batch back on the way out
            except OSError as e:
                log.warning(f"skipped {printable(str(path))}: cannot read ({e.strerror})")
                counts["skipped"] += 1
    write_manifest(paths, STAGE, config_dict(cfg), counts)
    return counts


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, ImportConfig, run, argv, __doc__, "import_text.py", positional="inputs")


if __name__ == "__main__":
    sys.exit(main())
