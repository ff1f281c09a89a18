"""Turn the cleaned documents into training data: a train/val split, text files, token files and meta.json.

Every `cleaned/<source>/*.txt` is one document, taken in arrival order (`item_sort_key`). A document goes to
validation iff sha256(split_salt + "\\n" + item id), read as a number in [0, 1), is below `val_fraction`: a pure
function of the id, so an item never changes split as the corpus grows and validation never leaks into training.
(Raising val_fraction only moves documents from train to val; changing the salt reshuffles everything.) When no
document of two or more falls in val, the run warns and leaves val empty: promoting one would make that
document's split depend on the rest of the corpus.

Output format (version `model.token_files.PROCESSED_VERSION`), in processed/:
- `train.txt`, `val.txt`: UTF-8, each document's text followed directly by `<|endoftext|>` (no added newline).
  A literal `<|endoftext|>` inside a document is removed (logged and counted), so the marker only separates.
- `train.bin`, `val.bin`: flat little-endian arrays (uint16 when vocab_size <= 65,535, else uint32), the ids of
  the matching .txt: `decode(bin) == txt`; every document is followed by id 0 (end of text). Read them with
  `model.token_files.open_tokens` (np.memmap).
- `meta.json`: format and version, tokenizer (its `to_dict()`), vocab_size, dtype, per-split docs /
  chars (document characters, markers excluded) / tokens (markers included), per-source counts, val_fraction,
  split_salt, the inputs fingerprint (sha256 over item id + sha256 of each cleaned file) and output sizes.

Tokenizer (`tokenizer` setting): `char` (default), `byte` or `bpe`. With `char`, token ids never move: the
tokenizer starts from the previous meta.json and only appends new characters (in first-appearance order over
documents in item order), so a corpus that grew by newer items gets the same ids incrementally or from scratch.
`--force` re-encodes but keeps the ids; delete processed/ to renumber. `byte` has 272 fixed ids. `bpe` reads the
tokenizer JSON that `scripts/train_tokenizer.py` wrote (`tokenizer_file`, default
`dataset/metadata/bpe_tokenizer.json`); its fingerprint is part of the run fingerprint, so a retrained tokenizer
means every document is encoded again (and a model trained on the old ids cannot simply resume). Switching the
tokenizer type starts afresh (a char vocabulary is rebuilt from scratch when switching back).

One pass over the documents (after a hashing pass that decides whether there is work): each piece first extends
the vocabulary, then is encoded, so ids are what a separate vocabulary pass would give; the token files start in
the dtype of the starting vocabulary and are widened in place if it outgrows uint16.

Crash safety: outputs are streamed (one document, in ~1 MiB pieces, at a time) into hidden temp files; then a
pending meta is written, meta.json is removed, the outputs are renamed into place and the pending meta becomes
meta.json. A kill leaves the previous complete outputs with their meta.json, or no meta.json (readers refuse;
the pending meta keeps the tokenizer so the re-run writes the same bytes). Same inputs and config: no work.

Chat format (`format: chat`): every cleaned document is a chat transcript (assistant/transcripts.py); it is replayed
through a memory store and the live chat prompt builder (assistant/examples.py), and each assistant turn becomes one
document of processed/: the memory block, the recent turns, the user's message, then the reply, within
`chat_block_size` tokens. Split, counts and fingerprints work as above, per transcript (docs count examples).
First, term links are mined from the training split's transcripts (assistant/term_links.py; `chat_term_links`)
and the examples retrieve with them; they are kept in meta.json's `chat` entry, which the trainer copies into
its checkpoints, so live chat retrieves with the same links.

**Reads:** `dataset/cleaned/<source>/*.txt`, `dataset/processed/meta.json` (previous tokenizer).
**Writes:** `dataset/processed/{train,val}.{txt,bin}`, `dataset/processed/meta.json`,
`dataset/metadata/prepare_manifest.json`.
**Usage:**
    python scripts/prepare_data.py
    python scripts/prepare_data.py --val-fraction 0.05 --dataset-dir /data/stories
"""

import sys
from pathlib import Path

import hashlib
import logging
from dataclasses import dataclass

from tqdm import tqdm

from common.cli import require_dataset, stage_main
from common.config import StageFailed, UserError, config_dict, opt
from common.fsio import read_json
from common.ledger import write_manifest
from common.paths import DatasetPaths
from corpus.prepare_io import inputs_fingerprint, list_cleaned_items  # noqa: F401  (train_tokenizer, tests)
from corpus.prepare_io import (OUTPUT_NAMES, PENDING_META, SplitWriters, cleanup_temp_files, commit_outputs,
                                iter_pieces, strip_markers, tokenizer_file)
from model.token_files import META_NAME, PROCESSED_FORMAT, PROCESSED_VERSION, SPLITS, token_dtype
from model.tokenizer import EOT, TOKENIZER_TYPES, CharTokenizer, Tokenizer

STAGE = "prepare"
log = logging.getLogger("miniature_memory.prepare")


@dataclass
class PrepareConfig:
    # 0.1 of an 800-story demo corpus (~1-3 MB) is ~80 documents, ~100-300 thousand characters: enough
    # windows of a few hundred characters for a steady validation loss, while training keeps 90%.
    val_fraction: float = opt(0.1, "share of documents held out for validation, chosen by a hash of the item id")
    split_salt: str = opt("split-v1", "salt of the split hash; changing it reshuffles which documents are val")
    tokenizer: str = opt("char", "char (grows with the data), byte (272 fixed ids) or bpe (scripts/train_tokenizer.py)")
    tokenizer_file: str = opt("", "bpe only: the tokenizer JSON; empty = metadata/bpe_tokenizer.json of the dataset; "
                                  "a relative path is taken from the dataset folder")
    format: str = opt("text", "text (each document as it is) or chat (each document is a chat transcript; every "
                              "assistant turn becomes one example: memory block, recent turns, the message, the "
                              "reply; assistant/examples.py)")
    chat_block_size: int = opt(256, "chat only: the block of the model that will train on the examples (tokens)")
    chat_reply_tokens: int = opt(48, "chat only: room kept for the reply, end marker included (tokens)")
    chat_memory_tokens: int = opt(96, "chat only: the memory block at most (tokens)")
    chat_term_links: bool = opt(True, "chat only: learn term links from the training transcripts (question words "
                                      "-> words of the messages that answered them; assistant/term_links.py) and "
                                      "retrieve with them, in the examples and, through the checkpoint, in chat")


def split_score(item: str, salt: str) -> float:
    """A number in [0, 1) fixed by the item id and salt (first 8 bytes of a sha256)."""
    digest = hashlib.sha256(f"{salt}\n{item}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def split_of(item: str, val_fraction: float, salt: str) -> str:
    """'val' or 'train' for an item: never changes as other items come and go."""
    return "val" if split_score(item, salt) < val_fraction else "train"


def run_fingerprint(cfg: "PrepareConfig", inputs_fp: str, tok: Tokenizer | None = None) -> str:
    """What decides whether the outputs are current: inputs, split settings, output format and (byte, bpe) the
    tokenizer. A char tokenizer is derived from the inputs, so it adds nothing (fingerprints of older runs hold)."""
    blob = f"{PROCESSED_VERSION}\n{cfg.val_fraction!r}\n{cfg.split_salt}\n{inputs_fp}"
    if cfg.tokenizer != "char" and tok is not None:
        blob += f"\n{cfg.tokenizer}\n{tok.fingerprint}"
    if cfg.format == "chat":  # text-format fingerprints stay as they were
        from assistant.examples import EXAMPLES_VERSION
        blob += (f"\nchat {EXAMPLES_VERSION} {cfg.chat_block_size} {cfg.chat_reply_tokens} "
                 f"{cfg.chat_memory_tokens}" + ("" if cfg.chat_term_links else " no-links"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def load_fixed_tokenizer(paths: DatasetPaths, cfg: PrepareConfig) -> Tokenizer:
    """The byte tokenizer, or the BPE tokenizer from its JSON file (UserError when missing or unreadable)."""
    from model.bpe import BPETokenizer, ByteTokenizer
    if cfg.tokenizer == "byte":
        return ByteTokenizer()
    path = tokenizer_file(paths, cfg.tokenizer_file)
    try:
        return BPETokenizer.from_file(path)
    except FileNotFoundError:
        raise UserError(f"no BPE tokenizer at {path}: run scripts/train_tokenizer.py first "
                        f"(or set tokenizer_file)") from None
    except (ValueError, OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: {e}") from None


def load_base_tokenizer(paths: DatasetPaths, cfg: PrepareConfig) -> tuple[Tokenizer, dict | None]:
    """The tokenizer to use and the previous meta.json (None when missing). char: the previous char tokenizer
    to extend (meta.json, else the pending meta of a killed run, else empty); byte, bpe: fixed ones."""
    processed = paths.processed
    for name in (META_NAME, PENDING_META):
        try:
            meta = read_json(processed / name)
        except ValueError:
            meta = None  # unreadable: ignored (meta.json is only ever replaced atomically)
            log.warning(f"ignored unreadable {processed / name}")
        if isinstance(meta, dict) and meta.get("format") == PROCESSED_FORMAT:
            old_meta = meta if name == META_NAME else None
            if cfg.tokenizer != "char":
                return load_fixed_tokenizer(paths, cfg), old_meta
            previous = meta.get("tokenizer")
            if isinstance(previous, dict) and previous.get("type") not in (None, "char"):
                log.info(f"tokenizer changes from {previous.get('type')} to char: new ids from scratch")
                return CharTokenizer(), old_meta
            try:
                return CharTokenizer.from_dict(previous), old_meta
            except ValueError as e:
                raise UserError(f"{processed / name}: {e}; delete {processed} to rebuild from scratch") from None
    return (CharTokenizer() if cfg.tokenizer == "char" else load_fixed_tokenizer(paths, cfg)), None


def outputs_current(processed: Path, meta: dict | None, fingerprint: str) -> bool:
    """True when meta.json describes these inputs and config and every output has its recorded size."""
    if not meta or meta.get("version") != PROCESSED_VERSION or meta.get("fingerprint") != fingerprint:
        return False
    sizes = meta.get("files") or {}
    for name in OUTPUT_NAMES:
        p = processed / name
        if not p.is_file() or p.stat().st_size != sizes.get(name):
            return False
    return True


def write_text_item(out: SplitWriters, path: Path, split: str, tok: Tokenizer, hasher) -> tuple[int, int, int]:
    """One cleaned document as one document of the split (nothing when it is empty); (chars, tokens, markers
    removed)."""
    chars = tokens = markers = 0
    for piece in iter_pieces(path, tok, hasher):
        piece, removed = strip_markers(piece)
        markers += removed
        if tok.add_chars(piece):
            out.fit_vocab(tok.vocab_size)  # past 65,535 ids: uint32 from here on (rare)
        ids = tok.encode(piece)
        out.write(split, piece, ids)
        chars, tokens = chars + len(piece), tokens + len(ids)
    if chars:
        tokens += out.end_document(split)
    return chars, tokens, markers


def write_chat_item(out: SplitWriters, path: Path, split: str, tok: Tokenizer, cfg: "PrepareConfig",
                    hasher, links: dict) -> tuple[int, int, int]:
    """One chat transcript as one document per example; (documents, chars, tokens)."""
    examples = chat_documents(path, tok, cfg, hasher, links)
    out.fit_vocab(tok.vocab_size)  # the transcript's characters were added before counting
    chars = tokens = 0
    for text in examples:
        ids = tok.encode(text)
        out.write(split, text, ids)
        chars, tokens = chars + len(text), tokens + len(ids) + out.end_document(split)
    return len(examples), chars, tokens


def write_splits(paths: DatasetPaths, items: list[str], tok: Tokenizer, cfg: PrepareConfig,
                 links: dict | None = None) -> dict:
    """Stream every document into the temp outputs, extending the vocabulary as new characters appear (ids are
    the same as from a separate vocabulary pass: first appearance in item order). Returns counts, per-source
    stats and the fingerprint of the inputs as read."""
    stats = {s: {"docs": 0, "chars": 0, "tokens": 0} for s in SPLITS}
    sources: dict[str, dict] = {}
    empty = markers = 0
    fp = hashlib.sha256()
    with SplitWriters(paths.processed, token_dtype(tok.vocab_size)) as out:
        for item in tqdm(items, desc="prepare: encode", unit="doc", disable=None):
            split = split_of(item, cfg.val_fraction, cfg.split_salt)
            h = hashlib.sha256()
            if cfg.format == "chat":
                docs, chars, tokens = write_chat_item(out, paths.cleaned_file(item), split, tok, cfg, h, links or {})
            else:
                chars, tokens, removed = write_text_item(out, paths.cleaned_file(item), split, tok, h)
                markers += removed
                docs = 1 if chars else 0
                if not chars:
                    empty += 1
                    log.warning(f"skipped empty document {item}")
            fp.update(f"{item}\t{h.hexdigest()}\n".encode("utf-8"))
            if not docs:
                continue
            st = stats[split]
            st["docs"], st["chars"], st["tokens"] = st["docs"] + docs, st["chars"] + chars, st["tokens"] + tokens
            src = sources.setdefault(item.split("/", 1)[0], {"docs": 0, "val_docs": 0, "chars": 0, "tokens": 0})
            src["docs"] += docs
            src["val_docs"] += docs if split == "val" else 0
            src["chars"] += chars
            src["tokens"] += tokens
        files = out.finish()
    return {"splits": stats, "sources": dict(sorted(sources.items())), "empty_docs": empty,
            "markers_removed": markers, "files": files, "inputs_fingerprint": fp.hexdigest()}


def read_transcript(path: Path, hasher=None) -> str:
    """A cleaned chat transcript's text, end-of-text markers removed."""
    data = path.read_bytes()
    if hasher is not None:
        hasher.update(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise StageFailed(f"{path} is not valid UTF-8; re-run the clean stage") from None
    return strip_markers(text)[0]


def chat_documents(path: Path, tok: Tokenizer, cfg: PrepareConfig, hasher, links: dict) -> list[str]:
    """The training examples of one chat transcript (each becomes a document of processed/)."""
    from assistant.examples import FIXED_TEXT, transcript_examples
    from assistant.prompt import PromptBudget
    from assistant.retrieval import RetrievalConfig
    text = read_transcript(path, hasher)
    tok.add_chars(FIXED_TEXT + text)  # a char tokenizer must know every character before it counts tokens
    budget = PromptBudget(cfg.chat_block_size, cfg.chat_reply_tokens, cfg.chat_memory_tokens)
    return transcript_examples(text, lambda s: len(tok.encode(s, errors="ignore")), budget,
                               RetrievalConfig(links=links))


def chat_term_links(paths: DatasetPaths, items: list[str], cfg: PrepareConfig) -> dict:
    """Term links mined from the training split's transcripts (validation stays unseen); {} when off."""
    if cfg.format != "chat" or not cfg.chat_term_links:
        return {}
    from assistant.term_links import mine_term_links
    from assistant.transcripts import parse_transcript
    train = [i for i in items if split_of(i, cfg.val_fraction, cfg.split_salt) == "train"]
    return mine_term_links(parse_transcript(read_transcript(paths.cleaned_file(i)))
                           for i in tqdm(train, desc="prepare: term links", unit="doc", disable=None))


def chat_meta(cfg: PrepareConfig, links: dict) -> dict | None:
    """The chat example settings a model trained on this data should chat with (the trainer keeps them in its
    checkpoints); None for text data."""
    if cfg.format != "chat":
        return None
    from assistant.examples import EXAMPLES_VERSION
    return {"block_size": cfg.chat_block_size, "reply_tokens": cfg.chat_reply_tokens,
            "memory_tokens": cfg.chat_memory_tokens, "examples_version": EXAMPLES_VERSION, "term_links": links}


def counts_of(meta: dict, new_chars: int, unchanged: bool) -> dict:
    sp = meta["splits"]
    return {"docs": sp["train"]["docs"] + sp["val"]["docs"], "val_docs": sp["val"]["docs"],
            "train_tokens": sp["train"]["tokens"], "val_tokens": sp["val"]["tokens"], "new_chars": new_chars,
            "vocab_size": meta["vocab_size"], "unchanged": unchanged}


def run(cfg: PrepareConfig, paths: DatasetPaths, force: bool = False) -> dict:
    """Write processed/ from cleaned/ (no work when inputs and config are unchanged); returns counts."""
    if not 0.0 <= cfg.val_fraction <= 1.0:
        raise UserError(f"val_fraction must be between 0 and 1, got {cfg.val_fraction}")
    if cfg.format not in ("text", "chat"):
        raise UserError(f"format must be text or chat, got {cfg.format!r}")
    if cfg.format == "chat" and not (16 <= cfg.chat_block_size and 0 < cfg.chat_reply_tokens < cfg.chat_block_size
                                     and 0 <= cfg.chat_memory_tokens < cfg.chat_block_size):
        raise UserError("chat settings: chat_block_size >= 16, 0 < chat_reply_tokens < chat_block_size and "
                        "0 <= chat_memory_tokens < chat_block_size")
    if cfg.tokenizer not in TOKENIZER_TYPES:
        raise UserError(f"tokenizer must be one of {', '.join(TOKENIZER_TYPES)}, got {cfg.tokenizer!r}")
    require_dataset(paths)
    items = list_cleaned_items(paths)
    if not items:
        raise UserError(f"no cleaned documents under {paths.cleaned}: run the clean stage first")
    paths.processed.mkdir(parents=True, exist_ok=True)
    tok, old_meta = load_base_tokenizer(paths, cfg)
    try:
        inputs_fp = inputs_fingerprint(paths, items)
    except FileNotFoundError as e:
        raise StageFailed(f"cleaned file vanished while prepare was running ({e.filename}); re-run") from None
    fingerprint = run_fingerprint(cfg, inputs_fp, tok)
    if not force and outputs_current(paths.processed, old_meta, fingerprint):
        cleanup_temp_files(paths.processed, pending_too=True)
        counts = counts_of(old_meta, 0, True)
        write_manifest(paths, STAGE, config_dict(cfg), counts)
        return counts
    cleanup_temp_files(paths.processed, pending_too=False)
    base_vocab = tok.vocab_size
    try:
        links = chat_term_links(paths, items, cfg)
        result = write_splits(paths, items, tok, cfg, links)
    except FileNotFoundError as e:
        raise StageFailed(f"cleaned file vanished while prepare was running ({e.filename}); re-run") from None
    new_chars = tok.vocab_size - base_vocab
    if result.pop("inputs_fingerprint") != inputs_fp:
        cleanup_temp_files(paths.processed, pending_too=False)
        raise StageFailed("cleaned files changed while prepare was running; re-run prepare")
    meta = {"format": PROCESSED_FORMAT, "version": PROCESSED_VERSION, "tokenizer": tok.to_dict(),
            "vocab_size": tok.vocab_size, "dtype": token_dtype(tok.vocab_size).name, "eot_id": tok.eot_id,
            "eot_marker": EOT,
            "val_fraction": cfg.val_fraction, "split_salt": cfg.split_salt, "fingerprint": fingerprint,
            "chat": chat_meta(cfg, links),
            "inputs_fingerprint": inputs_fp, **result}
    docs = meta["splits"]["train"]["docs"] + meta["splits"]["val"]["docs"]
    if docs >= 2 and cfg.val_fraction > 0 and meta["splits"]["val"]["docs"] == 0:
        log.warning(f"no document fell in validation (val_fraction={cfg.val_fraction:g}); val is empty. "
                    f"Add documents or raise val_fraction")
    commit_outputs(paths.processed, meta)
    counts = counts_of(meta, new_chars, False)
    log.info(f"prepare: vocabulary {base_vocab:,} -> {tok.vocab_size:,} ids ({meta['dtype']})")
    write_manifest(paths, STAGE, config_dict(cfg), counts)
    return counts


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, PrepareConfig, run, argv, __doc__, "prepare_data.py")


if __name__ == "__main__":
    sys.exit(main())
