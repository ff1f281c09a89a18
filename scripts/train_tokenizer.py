"""Train a byte-level BPE tokenizer on the cleaned documents (for `prepare_data.py --tokenizer bpe`).

Not a stage of its own: run it once, before prepare, when a profile names `tokenizer: bpe` (run.py runs it right
before prepare for a profile with a `tokenizer` section and `prepare: {tokenizer: bpe}`). It reads every
`cleaned/<source>/*.txt` in arrival order (`item_sort_key`), streaming (one document, in ~1 MiB pieces cut where
the encoding does not change, at a time; a literal `<|endoftext|>` is left out as prepare does), and trains a
BPE of `vocab_size` ids with the HuggingFace `tokenizers` library: the 16 special strings at ids 0..15, the 256
byte symbols, then the learned merges (see `model/bpe.py`). The whole corpus is used (train and val
documents alike): a tokenizer is a fixed vocabulary, not a model of the text.

The output is the library's own JSON (loaded without pickle), written atomically. Same documents and settings
give the same bytes; a second run with nothing new does no work. Because every token id depends on it, an
existing tokenizer trained on other documents or settings is only replaced with `--force` (then prepare
re-encodes everything, and a model trained with the old one cannot resume from its checkpoint). A small corpus
can end with fewer ids than `vocab_size` (no pair left that occurs `min_frequency` times): the summary says so.

**Reads:** `dataset/cleaned/<source>/*.txt`, `dataset/metadata/tokenizer_manifest.json` (previous run).
**Writes:** `dataset/metadata/bpe_tokenizer.json` (or `output`), `dataset/metadata/tokenizer_manifest.json`.
**Usage:**
    python scripts/train_tokenizer.py --vocab-size 8192
    python scripts/train_tokenizer.py --vocab-size 32000 --force --dataset-dir /data/stories
    python scripts/prepare_data.py --tokenizer bpe
"""

import sys

import hashlib
import logging
from dataclasses import dataclass
from typing import Iterator

from tqdm import tqdm

from common.cli import require_dataset, stage_main
from common.config import StageFailed, UserError, config_dict, opt
from common.fsio import atomic_write_text, read_json
from common.ledger import write_manifest
from common.paths import DatasetPaths
from corpus.prepare_io import inputs_fingerprint, list_cleaned_items
from corpus.prepare_io import iter_pieces, strip_markers, tokenizer_file
from model.bpe import MAX_BPE_VOCAB, MIN_BPE_VOCAB, BPETokenizer, safe_chunks, train_bpe

STAGE = "tokenizer"  # config section name and manifest name; not in run.py's stage chain
TRAIN_CHUNK = 1 << 14  # characters per text handed to the trainer (cut after newline runs: same counts)
TRAINER_VERSION = 1  # bump when the pipeline in model/bpe.py changes: old files are then stale
log = logging.getLogger("miniature_memory.tokenizer")


@dataclass
class TokenizerConfig:
    # 8,192: about 4 characters per token on English prose with a 4-8k vocabulary, while the embedding
    # (vocab x width) stays small next to a ~10M-parameter model.
    vocab_size: int = opt(8192, "number of ids, specials (16) and the 256 bytes included (272 or more)")
    min_frequency: int = opt(2, "a pair of tokens must occur this often to become a merge")
    output: str = opt("", "where to write the tokenizer JSON; empty = metadata/bpe_tokenizer.json; a relative "
                          "path is taken from the dataset folder (prepare's tokenizer_file must match)")
    keep_existing: bool = opt(False, "when the tokenizer file exists but was made from other documents or "
                                     "settings, keep it (with a warning) instead of failing: a growing corpus keeps "
                                     "its token ids and its model can resume (run.py's profiles set it)")


def check_config(cfg: TokenizerConfig) -> None:
    """One-line UserError for settings the trainer cannot use."""
    if not MIN_BPE_VOCAB <= cfg.vocab_size <= MAX_BPE_VOCAB:
        raise UserError(f"vocab_size must be between {MIN_BPE_VOCAB} (16 specials + 256 bytes) and "
                        f"{MAX_BPE_VOCAB:,}, got {cfg.vocab_size}")
    if cfg.min_frequency < 1:
        raise UserError(f"min_frequency must be at least 1, got {cfg.min_frequency}")


def corpus_texts(paths: DatasetPaths, items: list[str], digest: "hashlib._Hash") -> Iterator[str]:
    """The documents in item order, in pieces that BPE pre-tokenises exactly like whole documents; `digest`
    sees (item id, sha256 of the file) in order, as `inputs_fingerprint` computes it."""
    for item in tqdm(items, desc="tokenizer: train", unit="doc", disable=None):
        h = hashlib.sha256()
        for piece in iter_pieces(paths.cleaned_file(item), BPETokenizer, h):
            piece, _ = strip_markers(piece)
            if piece:
                # Small chunks: the library buffers a few hundred texts from the iterator at a time.
                yield from safe_chunks(piece, TRAIN_CHUNK)
        digest.update(f"{item}\t{h.hexdigest()}\n".encode("utf-8"))


def run_fingerprint(cfg: TokenizerConfig, inputs_fp: str) -> str:
    """What decides the tokenizer: the documents, the settings that shape it and the pipeline version. (Not the
    library version: a file another version wrote stays valid, and replacing it would change the ids.)"""
    blob = f"{TRAINER_VERSION}\n{cfg.vocab_size}\n{cfg.min_frequency}\n{inputs_fp}"
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def run(cfg: TokenizerConfig, paths: DatasetPaths, force: bool = False) -> dict:
    """Train and write the BPE tokenizer (no work when documents and settings are unchanged); returns counts."""
    check_config(cfg)
    require_dataset(paths)
    if not paths.cleaned.is_dir():
        raise UserError(f"no cleaned/ folder in {paths.root}: run the clean stage first")
    items = list_cleaned_items(paths)
    if not items:
        raise UserError(f"no cleaned documents under {paths.cleaned}: run the clean stage first")
    out = tokenizer_file(paths, cfg.output)
    try:
        inputs_fp = inputs_fingerprint(paths, items)
    except FileNotFoundError as e:
        raise StageFailed(f"cleaned file vanished while reading ({e.filename}); re-run") from None
    fingerprint = run_fingerprint(cfg, inputs_fp)
    old = read_json(paths.manifest(STAGE)) or {}
    current = out.is_file() and old.get("fingerprint") == fingerprint and old.get("output") == str(out) \
        and hashlib.sha256(out.read_bytes()).hexdigest() == old.get("sha256")
    if current and not force:
        counts = {"docs": len(items), "vocab_size": old.get("counts", {}).get("vocab_size", 0), "unchanged": True}
        write_manifest(paths, STAGE, config_dict(cfg), counts,
                       **{k: old.get(k) for k in ("fingerprint", "output", "sha256", "tokenizer", "library")})
        return counts
    if out.exists() and not force and cfg.keep_existing:
        log.warning(f"tokenizer: keeping {out}, made from other documents or settings (keep_existing; --force "
                    f"retrains it, which changes every token id)")
        return {"docs": len(items), "kept": True}
    if out.exists() and not force:
        raise UserError(f"{out} exists but was not made from these documents and settings; replacing it changes "
                        f"every token id (prepare re-encodes, training cannot resume): pass --force to replace it")
    seen = hashlib.sha256()
    try:
        tok = train_bpe(corpus_texts(paths, items, seen), cfg.vocab_size, cfg.min_frequency, length=None)
    except FileNotFoundError as e:
        raise StageFailed(f"cleaned file vanished while training ({e.filename}); re-run") from None
    if seen.hexdigest() != inputs_fp:
        raise StageFailed("cleaned files changed while the tokenizer was training; re-run")
    atomic_write_text(out, tok.json)
    if tok.vocab_size < cfg.vocab_size:
        log.warning(f"the corpus gave only {tok.vocab_size:,} ids of the {cfg.vocab_size:,} asked for "
                    f"(no more pairs occurring {cfg.min_frequency}+ times)")
    counts = {"docs": len(items), "vocab_size": tok.vocab_size, "unchanged": False}
    import tokenizers
    write_manifest(paths, STAGE, config_dict(cfg), counts, fingerprint=fingerprint, output=str(out),
                   sha256=hashlib.sha256(tok.json.encode("utf-8")).hexdigest(), tokenizer=tok.fingerprint,
                   library=f"tokenizers {tokenizers.__version__}")
    log.info(f"tokenizer: {tok.vocab_size:,} ids written to {out}")
    return counts


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, TokenizerConfig, run, argv, __doc__, "train_tokenizer.py")


if __name__ == "__main__":
    sys.exit(main())
