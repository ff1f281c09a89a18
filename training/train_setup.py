"""Building what the training loop needs: the model (fresh, or from a checkpoint and grown to the data's
vocabulary), the AdamW optimizer with its restored state, the batch sampler, and the checks run before any
memory is spent (config values, model shape against the checkpoint, memory guard)."""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
import torch

from common.config import UserError
from model.gpt import GPT, ModelConfig

log = logging.getLogger("miniature_memory.train")
MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(ModelConfig) if f.name != "vocab_size")
# Fields a resumed run may change: they do not change which weights exist or what they mean.
RESUME_FREE_FIELDS = ("dropout", "grad_checkpoint", "zero_init_proj")
FLOAT_KEYS = ("lr", "min_lr", "weight_decay", "beta1", "beta2", "grad_clip", "max_minutes", "malloc_mmap_mb",
              "ffn_mult", "dropout", "rope_base")


def check_config(cfg) -> None:
    """One-line UserErrors for values no run can use."""
    if cfg.init not in ("resume", "scratch"):
        raise UserError(f"init must be 'resume' or 'scratch', not {cfg.init!r}")
    for key in ("batch_size", "grad_accum", "eval_interval", "eval_iters", "log_interval", "vocab_multiple",
                "block_size"):
        if getattr(cfg, key) < 1:
            raise UserError(f"{key} must be at least 1, got {getattr(cfg, key)}")
    for key in ("max_iters", "warmup_iters", "lr_decay_iters", "ckpt_interval", "threads", "max_ram_mb"):
        if getattr(cfg, key) < 0:
            raise UserError(f"{key} must be 0 or more, got {getattr(cfg, key)}")
    for key in FLOAT_KEYS:  # NaN passes every comparison below, so finiteness comes first
        if not math.isfinite(getattr(cfg, key)):
            raise UserError(f"{key} must be a finite number, got {getattr(cfg, key)}")
    if cfg.lr <= 0:
        raise UserError(f"lr must be > 0, got {cfg.lr}")
    for key in ("min_lr", "weight_decay", "grad_clip", "max_minutes", "malloc_mmap_mb"):
        if getattr(cfg, key) < 0:
            raise UserError(f"{key} must be 0 or more, got {getattr(cfg, key)}")
    for key in ("beta1", "beta2"):
        if not 0 <= getattr(cfg, key) < 1:
            raise UserError(f"{key} must be in [0, 1), got {getattr(cfg, key)}")
    if cfg.param_dtype not in ("float32", "bfloat16"):
        raise UserError(f"param_dtype must be 'float32' or 'bfloat16', not {cfg.param_dtype!r}")
    model_config(cfg, 1)  # the model shape (positive dims, n_head dividing n_embd, ...) before any data is read


def padded_vocab(vocab_size: int, multiple: int) -> int:
    """vocab_size rounded up to a multiple of `multiple`."""
    return -(-vocab_size // multiple) * multiple


def model_config(cfg, vocab_size: int) -> ModelConfig:
    """The ModelConfig of the TrainConfig's shape keys; a bad shape is a one-line UserError."""
    try:
        return ModelConfig(vocab_size=vocab_size, **{k: getattr(cfg, k) for k in MODEL_FIELDS})
    except ValueError as e:
        raise UserError(f"model shape: {e}") from None


def check_resume_shape(saved: dict, mcfg: ModelConfig, ckpt_path) -> None:
    """Refuse to resume a checkpoint whose weights the configured model could not hold."""
    for key in MODEL_FIELDS:
        if key in RESUME_FREE_FIELDS or key not in saved:
            continue
        if saved[key] != getattr(mcfg, key):
            raise UserError(f"{ckpt_path} was trained with {key}={saved[key]!r}, the config says "
                            f"{getattr(mcfg, key)!r}: use the same value, another --out-dir, or --init scratch")


def build_model(mcfg: ModelConfig, seed: int) -> GPT:
    """A freshly initialised model (weights drawn from `seed`)."""
    torch.manual_seed(seed)
    return GPT(mcfg)


def make_optimizer(model: torch.nn.Module, cfg, device: torch.device) -> torch.optim.AdamW:
    """AdamW with decoupled weight decay on the weight matrices only: embeddings (and the output head tied to
    them), norm gains and biases are not decayed (decaying them only pulls rare tokens and scales toward 0)."""
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.dim() >= 2 and id(p) not in embeddings else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    # fused: one kernel per parameter group (CUDA, and CPU since torch 2.4) instead of torch's foreach loops
    if device.type in ("cuda", "cpu"):
        try:
            return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=1e-8, fused=True)
        except (RuntimeError, ValueError):  # a torch without the fused CPU kernel
            pass
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=1e-8)


def sample_windows(data: np.ndarray, n: int, block_size: int, gen: torch.Generator) -> torch.Tensor:
    """n random windows of block_size + 1 consecutive tokens ([n, T+1] int64), start positions drawn from gen."""
    starts = torch.randint(len(data) - block_size, (n,), generator=gen).tolist()
    return torch.from_numpy(np.stack([np.asarray(data[s: s + block_size + 1]) for s in starts]).astype(np.int64))


def to_device(windows: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) [B, T] on the device."""
    if device.type == "cuda":
        windows = windows.pin_memory().to(device, non_blocking=True)
    elif device.type != "cpu":
        windows = windows.to(device)
    return windows[:, :-1], windows[:, 1:]


def eval_starts(n_tokens: int, iters: int, batch: int, block_size: int, seed: int) -> torch.Tensor:
    """The fixed evaluation windows of a split ([iters, batch] start positions): the same at every evaluation
    while the data does not change, so losses are comparable across steps and runs."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(n_tokens - block_size, (iters, batch), generator=gen)
