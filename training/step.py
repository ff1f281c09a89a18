"""The pieces of an optimizer step that need no run state: a fresh model, AdamW with its parameter groups, the
learning-rate schedule, and the token windows (seeded training batches, fixed evaluation windows)."""

from __future__ import annotations

import math

import numpy as np
import torch

from model.gpt import GPT, ModelConfig
from training.config import TrainConfig

EVAL_SEED_OFFSET = 7_777_777   # eval windows: seed + this (independent of the training generators)


def build_model(mcfg: ModelConfig, seed: int) -> GPT:
    """A freshly initialised model (weights drawn from `seed`)."""
    torch.manual_seed(seed)
    return GPT(mcfg)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
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


def lr_at(step: int, lr: float, min_lr: float, warmup: int, decay_iters: int) -> float:
    """Learning rate of optimizer step `step` (0-based): linear warmup, cosine decay to min_lr, then flat."""
    if step < warmup:
        return lr * (step + 1) / (warmup + 1)
    if step >= decay_iters:
        return min_lr
    ratio = (step - warmup) / max(1, decay_iters - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


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


