"""Checks on what a checkpoint says about its model and run, made before any memory is spent on them.

A checkpoint's JSON state is data read from a file that may have been edited or damaged. Before a model is built
from it, its `model_config` must be a valid `ModelConfig` (whole numbers where they belong, finite floats, n_head
dividing n_embd, a bounded block_size) and must describe exactly as many weights as the file holds (read from the
safetensors header, so a tampered vocab_size or width never turns into a giant allocation). After the model is
built, every stored tensor must have the shape of the model's tensor of that name. Every failure is a one-line
UserError naming the file; resume (training/trainer.py), generate and evaluate (generation/inference.py) share them.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from common.config import UserError
from model.gpt import ModelConfig, param_count

MODEL_FIELDS = {f.name for f in dataclasses.fields(ModelConfig)}


def saved_model_config(state: dict, path: Path, **overrides) -> ModelConfig:
    """The ModelConfig stored in a checkpoint's state (unknown keys ignored, `overrides` applied); UserError when
    it is missing or invalid."""
    mc = state.get("model_config")
    if not isinstance(mc, dict):
        raise UserError(f"{path}: its state has no model_config: not a checkpoint of this project, or damaged")
    try:
        return ModelConfig(**{**{k: v for k, v in mc.items() if k in MODEL_FIELDS}, **overrides})
    except (TypeError, ValueError) as e:  # TypeError: a required field (vocab_size) is missing
        raise UserError(f"{path}: invalid model_config in its state ({' '.join(str(e).split())})") from None


def check_aliases(state: dict, stored: set[str], path: Path) -> dict[str, str]:
    """The state's tied-weight aliases ({alias: stored name}); UserError unless each names a stored tensor."""
    aliases = state.get("aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(a, str) and isinstance(s, str) and s in stored
                                                for a, s in aliases.items()):
        raise UserError(f"{path}: its tied-weight aliases name tensors the file does not hold (damaged state)")
    return aliases


def check_weight_count(mcfg: ModelConfig, shapes: dict[str, tuple], path: Path) -> None:
    """UserError when the stored model tensors (name -> shape, tied matrices once) do not hold exactly the
    parameters `mcfg` describes. Computed from the config alone: call it before building the model."""
    stored = sum(math.prod(s) for s in shapes.values())
    wanted = param_count(mcfg)
    if stored != wanted:
        raise UserError(f"{path}: its model_config describes {wanted:,} weights but the file holds {stored:,} "
                        f"(vocab_size {mcfg.vocab_size:,}, n_embd {mcfg.n_embd:,}, n_layer {mcfg.n_layer:,}): "
                        f"the state does not match the weights (damaged or edited)")


def check_shapes(expected: dict[str, tuple], shapes: dict[str, tuple], aliases: dict[str, str], path: Path) -> None:
    """UserError unless the stored tensors (with their aliases) are exactly the model's, each with its shape."""
    got = {**shapes, **{a: shapes[s] for a, s in aliases.items()}}
    missing, extra = sorted(expected.keys() - got.keys()), sorted(got.keys() - expected.keys())
    if missing:
        raise UserError(f"{path}: no weights for {missing[0]!r} (and {len(missing) - 1} more) of its model_config")
    if extra:
        raise UserError(f"{path}: unexpected tensor {extra[0]!r} for its model_config")
    for name, shape in expected.items():
        if tuple(got[name]) != tuple(shape):
            raise UserError(f"{path}: tensor {name!r} has shape {tuple(got[name])}, its model_config gives "
                            f"{tuple(shape)} (damaged or edited)")


def check_run_state(state: dict, path: Path) -> None:
    """UserError when the run counters a resume reads (step, tokens, time, best loss) are not sane values."""
    def whole(key: str, allow_none: bool = False) -> bool:
        v = state.get(key, 0)
        return (v is None and allow_none) or (type(v) is int and v >= 0)

    def finite(key: str, allow_none: bool = False) -> bool:
        v = state.get(key, 0.0)
        return (v is None and allow_none) or (type(v) in (int, float) and math.isfinite(v) and v >= 0)

    for key, ok in (("step", whole("step")), ("tokens_seen", whole("tokens_seen")),
                    ("elapsed_s", finite("elapsed_s")), ("best_loss", finite("best_loss", True)),
                    ("best_step", whole("best_step", True))):
        if not ok:
            raise UserError(f"{path}: its state holds {key}={state.get(key)!r}, not a valid value (damaged or "
                            f"edited)")
    for key in ("tokenizer", "data", "rng"):
        if not isinstance(state.get(key), dict):
            raise UserError(f"{path}: its state has no valid {key!r} entry (damaged, or not a training checkpoint)")
