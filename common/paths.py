"""Where things live under a dataset folder, resolved from the repository, never from the working directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATASET_DIR = REPO_ROOT / "dataset"
TRAINING_OUT_DIR = REPO_ROOT / "training" / "out"
# Environment overrides of the two defaults above (read at call time), e.g. a notebook keeping its checkpoints on
# a mounted Google Drive, or a test running the documented commands in a temporary folder.
DATASET_ENV, OUT_ENV = "MINIATURE_MEMORY_DATASET", "MINIATURE_MEMORY_OUT"


def default_dataset_dir() -> Path:
    """The dataset folder used when none is given: $MINIATURE_MEMORY_DATASET, else dataset/ in the repository."""
    env = os.environ.get(DATASET_ENV)
    return Path(env).expanduser().resolve() if env else DEFAULT_DATASET_DIR


def training_out_dir() -> Path:
    """Root of the training output folders: $MINIATURE_MEMORY_OUT, else training/out/ in the repository."""
    env = os.environ.get(OUT_ENV)
    return Path(env).expanduser().resolve() if env else TRAINING_OUT_DIR


# Team-provided public-domain text beside the checkout, for tests and benchmarks only (the product never needs it).
SHARED_DATA_DIR = REPO_ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class DatasetPaths:
    """The five data folders of one dataset and the well-known files inside them."""

    root: Path

    @classmethod
    def at(cls, root: str | Path | None) -> "DatasetPaths":
        """Paths for `root` (default: `default_dataset_dir()`); relative paths are taken from the working directory."""
        return cls(Path(root).expanduser().resolve() if root else default_dataset_dir())

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def cleaned(self) -> Path:
        return self.root / "cleaned"

    @property
    def processed(self) -> Path:
        return self.root / "processed"

    @property
    def metadata(self) -> Path:
        return self.root / "metadata"

    @property
    def rejected(self) -> Path:
        return self.root / "rejected"

    @property
    def raw_index(self) -> Path:
        """Append-only provenance log: one JSON line per raw file."""
        return self.metadata / "raw_index.jsonl"

    def ledger(self, stage: str) -> Path:
        """Append-only decision journal of a stage (keep/reject per item)."""
        return self.metadata / f"{stage}_ledger.jsonl"

    def manifest(self, stage: str) -> Path:
        """Summary a stage rewrites at the end of every run (config, counts, outputs)."""
        return self.metadata / f"{stage}_manifest.json"

    def make_dirs(self) -> None:
        """Create the folder skeleton (idempotent)."""
        for d in (self.raw, self.cleaned, self.processed, self.metadata, self.rejected):
            d.mkdir(parents=True, exist_ok=True)

    def raw_file(self, item: str) -> Path:
        """The raw text file of an item id (`<source>/<stem>`)."""
        return self.raw / f"{item}.txt"

    def cleaned_file(self, item: str) -> Path:
        """The cleaned text file of an item id: same relative name as its raw file."""
        return self.cleaned / f"{item}.txt"
