"""Write a memory probes file for the continuity benchmark (format: story_memory/probes.py, DATA_FORMAT.md).

Three sources, one per run:
- `--demo N`: N demo stories from index `--start` (default 100000: far from the 800 the demo profile trains on,
  so the model is scored on stories it never saw); probes ask for a character's town, pet, pet's name, colour or
  object, each with exactly `--distractors` wrong values of the same attribute (demo/probes.py).
- `--from-text FILE...`: plain UTF-8 text files, one document each; name probes (a name mentioned again at least
  `--min-distance` characters after its previous mention, other names of the document as distractors; at most
  `--max-per-doc` per document, up to `--distractors` each).
- `--from-processed`: the same name probes from the documents of `dataset/processed/<split>.txt` (default: val).
  `--min-doc-chars N` keeps the documents of at least N characters (a corpus of book parts beside short stories:
  probes from the books only).

**Reads:** the text files, or `dataset/processed/<split>.txt`; nothing for `--demo`.
**Writes:** `--out FILE` (atomically; replaced when it exists).
**Usage:**
    python scripts/make_probes.py --demo 200 --out probes/demo.jsonl
    python scripts/make_probes.py --from-text book1.txt book2.txt --min-distance 4000 --out probes/books.jsonl
    python scripts/make_probes.py --from-processed --split val --dataset-dir dataset --out probes/val.jsonl
    python scripts/make_probes.py --from-processed --min-doc-chars 6000 --out probes/long-val.jsonl
"""

from __future__ import annotations

import sys

import argparse
from pathlib import Path

from common.cli import dataset_paths, exit_code
from common.config import StageFailed, UserError
from common.fsio import printable
from common.text_format import EOT
from demo.probes import MAX_DISTRACTORS, demo_probe_records
from story_memory.probes import Probe, corpus_probes, probe_from_record, write_probes

MAX_DEMO_STORIES = 10_000  # about 120,000 probes and 400 MB of contexts
MAX_TEXT_BYTES = 256 * 10**6  # one input document; every probe repeats a prefix of it


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="make_probes.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--demo", type=int, metavar="N", help="probes from N demo stories")
    source.add_argument("--from-text", nargs="+", metavar="FILE", help="plain text files, one document each")
    source.add_argument("--from-processed", action="store_true",
                        help="the documents of processed/<split>.txt of --dataset-dir")
    p.add_argument("--seed", type=int, default=1234, help="demo generator seed (the demo profile's: 1234)")
    p.add_argument("--start", type=int, default=100_000, help="index of the first demo story")
    p.add_argument("--split", choices=("train", "val"), default="val", help="split read by --from-processed")
    p.add_argument("--dataset-dir", metavar="DIR", default=None, help="dataset folder (default: dataset/)")
    p.add_argument("--min-distance", type=int, default=1000, metavar="CHARS",
                   help="characters from the fact's last earlier mention to the probe, at least")
    p.add_argument("--max-per-doc", type=int, default=10, help="name probes per document, at most (not --demo)")
    p.add_argument("--min-doc-chars", type=int, default=0, metavar="CHARS",
                   help="name probes only from documents of at least this many characters (not --demo)")
    p.add_argument("--distractors", type=int, default=3, help="wrong candidates per probe (exactly, for --demo; "
                                                              "up to, for name probes)")
    p.add_argument("--out", required=True, metavar="FILE", help="the probes file to write (JSON lines)")
    return p


def check_numbers(args: argparse.Namespace) -> None:
    """One-line UserError for counts that cannot work."""
    if args.demo is not None and not 1 <= args.demo <= MAX_DEMO_STORIES:
        raise UserError(f"--demo must be from 1 to {MAX_DEMO_STORIES:,}, got {args.demo}")
    if not 0 <= args.start <= 10**12:
        raise UserError(f"--start must be from 0 to 10**12, got {args.start}")
    if args.min_distance < 0:
        raise UserError(f"--min-distance must be >= 0, got {args.min_distance}")
    if args.min_doc_chars < 0:
        raise UserError(f"--min-doc-chars must be >= 0, got {args.min_doc_chars}")
    if args.max_per_doc < 1:
        raise UserError(f"--max-per-doc must be >= 1, got {args.max_per_doc}")
    if not 1 <= args.distractors <= MAX_DISTRACTORS:
        raise UserError(f"--distractors must be from 1 to {MAX_DISTRACTORS}, got {args.distractors}")


def read_document(path: Path) -> str:
    """A text file as one document; UserError when it is missing, not a regular file, too big or not UTF-8."""
    name = printable(str(path))
    if path.is_dir():
        raise UserError(f"{name} is a folder; give text files")
    if not path.exists():
        raise UserError(f"input not found: {name}")
    if not path.is_file():  # a device or a pipe could be endless
        raise UserError(f"{name} is not a regular file")
    with open(path, "rb") as f:
        data = f.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        raise UserError(f"{name} is larger than {MAX_TEXT_BYTES:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{name} is not UTF-8 text") from None


def processed_documents(dataset_dir: str | None, split: str) -> list[tuple[str, str]]:
    """(id, text) of each document of processed/<split>.txt; the id is `<split>:<n>` (0-based order in the file)."""
    path = dataset_paths(dataset_dir).processed / f"{split}.txt"
    if not path.is_file():
        raise UserError(f"no {printable(str(path))}: run the prepare stage first (or check --dataset-dir)")
    docs = read_document(path).split(EOT)
    return [(f"{split}:{i}", doc) for i, doc in enumerate(docs) if doc.strip()]


def make(args: argparse.Namespace) -> list[Probe]:
    """The probes the arguments ask for."""
    if args.demo is not None:
        records = demo_probe_records(args.demo, args.seed, args.min_distance, args.distractors, args.start)
        return [probe_from_record(r) for r in records]
    if args.from_text:
        documents = [(Path(f).name, read_document(Path(f))) for f in args.from_text]
    else:
        documents = processed_documents(args.dataset_dir, args.split)
    documents = [(name, text) for name, text in documents if len(text) >= args.min_doc_chars]
    return corpus_probes(documents, args.min_distance, args.max_per_doc, args.distractors)


def main(argv: list[str] | None = None) -> int:
    """Write the probes file; exit code 0, 2 for bad input, 1 when no probe was found or the file can't be written."""
    args = parser().parse_args(argv)

    def work() -> int:
        check_numbers(args)
        probes = make(args)
        if not probes:
            raise StageFailed(f"found no probes at --min-distance {args.min_distance}: give longer documents with "
                              f"recurring names, or a smaller --min-distance")
        write_probes(Path(args.out), probes)
        chance = sum(1 / (1 + len(p.distractors)) for p in probes) / len(probes)
        print(f"wrote {len(probes):,} probes to {args.out} (chance level {chance:.3f})")
        return 0

    return exit_code("make_probes.py", work)


if __name__ == "__main__":
    sys.exit(main())
