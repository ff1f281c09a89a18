"""What resuming checks and restores besides the tensors: that the configured model and the dataset's tokenizer
still fit the checkpoint, and the Python/numpy RNG states that travel in it as JSON."""

from __future__ import annotations

import random

import numpy as np
import torch

from common.config import UserError
from model.gpt import ModelConfig
from training.config import MODEL_FIELDS

# Fields a resumed run may change: they do not change which weights exist or what they mean.
RESUME_FREE_FIELDS = ("dropout", "grad_checkpoint", "zero_init_proj")


def check_resume_shape(saved: dict, mcfg: ModelConfig, ckpt_path) -> None:
    """Refuse to resume a checkpoint whose weights the configured model could not hold."""
    for key in MODEL_FIELDS:
        if key in RESUME_FREE_FIELDS or key not in saved:
            continue
        if saved[key] != getattr(mcfg, key):
            raise UserError(f"{ckpt_path} was trained with {key}={saved[key]!r}, the config says "
                            f"{getattr(mcfg, key)!r}: use the same value, another --out-dir, or --init scratch")


def check_tokenizer_growth(old: dict, new: dict) -> int:
    """Number of new ids when `new` extends `old` (same specials, old characters first, in order); UserError when
    ids would move."""
    if old == new:
        return 0
    if old.get("type") != new.get("type") or old.get("specials") != new.get("specials"):
        raise UserError(f"the dataset's tokenizer ({new.get('type')}) is not the checkpoint's ({old.get('type')}, "
                        f"different specials): train with --init scratch or a new --out-dir")
    old_chars, new_chars = old.get("chars"), new.get("chars")
    if not isinstance(old_chars, list) or not isinstance(new_chars, list) or len(new_chars) < len(old_chars):
        raise UserError("the dataset's tokenizer has fewer ids than the checkpoint's: the data was prepared "
                        "anew with other ids; train with --init scratch or a new --out-dir")
    for i, (a, b) in enumerate(zip(old_chars, new_chars)):
        if a != b:
            raise UserError(f"the dataset's tokenizer renumbered characters (id {i + len(new.get('specials', []))} "
                            f"was {a!r}, is now {b!r}): train with --init scratch or a new --out-dir")
    return len(new_chars) - len(old_chars)


def python_numpy_rng() -> dict:
    """Python's and numpy's global RNG states as JSON-able values."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": [version, list(internal), gauss],
            "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]}


def set_python_numpy_rng(saved: dict) -> None:
    """Inverse of `python_numpy_rng`."""
    version, internal, gauss = saved["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = saved["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))


def seed_all(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and Python's random."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


