"""The KV-cached decoder: a GPT's own submodules fed one new token at a time against a preallocated cache of
exactly `block_size` slots per layer, with a sliding window past the block (generation/inference.py's module
docstring describes the ring, the pinned tokens and the learned-position reset)."""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F

from generation.numpy_step import NumpyStep, supports, torch_attention
from generation.quantize import DTYPES
from model.cpu import cpu_has_native_bf16
from model.gpt import GPT, ModelConfig, apply_rotary

ROPE_CHUNK = 256  # rotary cos/sin rows computed at a time for the growing query positions

CACHE_DTYPES = ("auto", "fp32", "bf16")
_cache_setting = "fp32"  # what decoders built from now on keep their keys and values in (set_cache_dtype)


def set_cache_dtype(name: str) -> str:
    """Decoders built from now on keep the keys and values of float32 weights in `name`: "fp32" (exact, the
    library's default), "bf16" (half the bytes each step reads), or "auto" (see default_cache_dtype). Weights
    in bf16/fp16 keep their own dtype. Returns the previous setting."""
    global _cache_setting
    if name not in CACHE_DTYPES:
        raise ValueError(f"KV cache dtype must be one of {', '.join(CACHE_DTYPES)}, not {name!r}")
    before, _cache_setting = _cache_setting, name
    return before


@contextmanager
def cache_dtype(name: str) -> Iterator[None]:
    """set_cache_dtype(name) inside the `with`, the previous setting after."""
    before = set_cache_dtype(name)
    try:
        yield
    finally:
        set_cache_dtype(before)


def default_cache_dtype(model: GPT) -> torch.dtype:
    """The dtype a decoder built now keeps `model`'s keys and values in. "auto" picks bfloat16 only where
    torch's fused attention reads the cache (float32 products in torch, or int8 weights; with the products in
    numpy's BLAS the attention runs in numpy, which has no bfloat16) on a CPU with native bfloat16: 8 rows of
    `small` decoded together went from 1,129 to 1,474 tokens/s, while the loss on held-out text moved by 1e-4
    nats (see ROADMAP section 10)."""
    p = next(model.wte.parameters())
    if p.dtype != torch.float32 or p.device.type != "cpu" or _cache_setting == "fp32":
        return p.dtype
    if _cache_setting == "bf16":
        return torch.bfloat16
    return torch.bfloat16 if torch_attention(model) and cpu_has_native_bf16() else p.dtype


def cache_dtype_name(model: GPT) -> str:
    """default_cache_dtype(model) as the commands spell it (fp32, bf16, fp16)."""
    dtype = default_cache_dtype(model)
    return next(name for name, dt in DTYPES.items() if dt == dtype)  # "fp32" before "int8", both float32


def rope_rows(cfg: ModelConfig, start: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary cos / signed-sin rows [n, D] for positions start..start+n-1 (float64 angles, then float32), the
    same values as `model.gpt.rotary_tables` for positions inside the block."""
    D = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_base ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    angles = torch.outer(torch.arange(start, start + n, dtype=torch.float64), inv_freq)
    cos, sin = angles.cos(), angles.sin()
    return torch.cat((cos, cos), -1).float(), torch.cat((-sin, sin), -1).float()


class KVDecoder:
    """Feeds tokens through a GPT's submodules against a fixed-size KV cache (see the module docstring)."""

    def __init__(self, model: GPT, pinned: int = 0, numpy_step: bool = True, rows: int = 1,
                 cache_dtype: torch.dtype | None = None):
        cfg = model.cfg
        self.model, self.cfg = model, cfg
        self.cap = cfg.block_size
        self.rope = cfg.pos == "rope"
        self.P = max(0, min(int(pinned), self.cap // 2 - 1))  # the window always keeps recent tokens too
        self.R = self.cap - self.P  # ring slots (rope); learned: unused
        self.B = max(1, int(rows))  # sequences decoded together, in lockstep (same length, same slots)
        p = next(model.wte.parameters())
        dt = p.dtype
        shape = (cfg.n_layer, self.B, cfg.n_head, self.cap, cfg.head_dim)
        cache_dt = default_cache_dtype(model) if cache_dtype is None else cache_dtype
        self.k = torch.zeros(shape, dtype=cache_dt, device=p.device)
        self.v = torch.zeros(shape, dtype=cache_dt, device=p.device)
        # un-rotated keys of the pinned tokens [L, B, P, H, D] (rope: re-rotated as the window slides)
        self.k_pinned = torch.zeros((cfg.n_layer, self.B, self.P, cfg.n_head, cfg.head_dim), dtype=dt,
                                    device=p.device)
        self.n = 0            # tokens fed since the last reset (rope: = the next token's position)
        self.history: list[list[int]] = []  # learned layout: each row's ids in the cache, for re-encoding
        self._rope_start, self._rope_cos, self._rope_sin = -1, None, None
        self.scale = 1.0 / math.sqrt(cfg.head_dim)
        # float32 on the CPU: single-token steps run in numpy (generation/numpy_step.py: ~2x faster there)
        self.fast = NumpyStep(model, self.k, self.v) if numpy_step and supports(model) else None

    # --------------------------------------------------------------------------------------------- positions
    def _rope_at(self, pos: torch.Tensor | int, n: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """cos/sin rows [n, D] for positions pos..pos+n-1."""
        if n > 1 or self._rope_cos is None or not self._rope_start <= pos < self._rope_start + ROPE_CHUNK:
            if n > 1:
                cos, sin = rope_rows(self.cfg, pos, n)
                dev = self.k.device
                return cos.to(dev), sin.to(dev)
            self._rope_start = pos
            cos, sin = rope_rows(self.cfg, pos, ROPE_CHUNK)
            self._rope_cos, self._rope_sin = cos.to(self.k.device), sin.to(self.k.device)
        i = pos - self._rope_start
        return self._rope_cos[i:i + 1], self._rope_sin[i:i + 1]

    # --------------------------------------------------------------------------------------------- forward
    def _run(self, rows: list[list[int]], slot: int, pos: int, prefill: bool) -> torch.Tensor:
        """Feed each row's ids (all of them when prefill, else one; every row as long) whose first goes to cache
        `slot` at position `pos`; returns the float logits [B, V] of each row's last one."""
        m, cfg = self.model, self.cfg
        B, T, H, D = len(rows), len(rows[0]), cfg.n_head, cfg.head_dim
        if self.fast is not None:
            if prefill:  # always slot 0, position 0
                cos, sin = self._rope_at(0, T) if self.rope else (None, None)
                return self.fast.prefill(rows, self.k_pinned.numpy() if self.P else None, cos, sin)
            cos, sin = self._rope_at(pos) if self.rope else (None, None)
            return self.fast([r[0] for r in rows], slot, pos, min(self.n + 1, self.cap), cos, sin)
        idx = torch.tensor(rows, dtype=torch.long, device=self.k.device)
        x = m.wte(idx)  # [B, T, C]
        if m.wpe is not None:
            x = x + m.wpe.weight[pos:pos + T]
        if self.rope:
            cos, sin = self._rope_at(pos, T)
            cos, sin = cos[:, None, None], sin[:, None, None]  # [T, 1, 1, D] against qk [B, T, 2, H, D]
        valid = slot + T if prefill else min(self.n + 1, self.cap)
        for li, block in enumerate(m.blocks):
            a = block.attn
            qkv = a.qkv(block.norm1(x)).view(B, T, 3, H, D)
            qk, v = qkv[:, :, :2], qkv[:, :, 2]
            if a.qk_norm is not None:
                qk = a.qk_norm(qk)
            if self.rope:
                if prefill and self.P:
                    self.k_pinned[li] = qk[:, :self.P, 1]
                qk = apply_rotary(qk, cos.to(qk.dtype), sin.to(qk.dtype))
            qk = qk.to(self.k.dtype)
            q = qk[:, :, 0].transpose(1, 2)  # [B, H, T, D]
            self.k[li, :, :, slot:slot + T] = qk[:, :, 1].transpose(1, 2)
            self.v[li, :, :, slot:slot + T] = v.transpose(1, 2)
            if prefill:
                y = F.scaled_dot_product_attention(q, self.k[li, :, :, :valid], self.v[li, :, :, :valid],
                                                   is_causal=True)
            else:
                y = F.scaled_dot_product_attention(q, self.k[li, :, :, :valid], self.v[li, :, :, :valid])
            y = y.to(x.dtype)
            x = x + a.proj(y.transpose(1, 2).reshape(B, T, cfg.n_embd))
            x = x + block.mlp(block.norm2(x))
        return m.lm_head(m.norm_f(x[:, -1])).float()

    def prefill(self, ids: list[int]) -> torch.Tensor:
        """Reset the cache and encode `ids` (its first P pinned, then the most recent that fit) in every row;
        logits [V] (of row 0; every row holds the same)."""
        return self.prefill_rows([list(ids)] * self.B)[0]

    def step(self, token: int) -> torch.Tensor:
        """Feed one token (a one-row decoder); logits [V] of the next."""
        return self.step_rows([token])[0]

    def prefill_rows(self, rows: list[list[int]]) -> torch.Tensor:
        """Reset the cache and encode one id list per row (all as long; the first P of each pinned, then the
        most recent that fit); logits [B, V]."""
        if len(rows) != self.B or len({len(r) for r in rows}) != 1:
            raise ValueError(f"prefill needs {self.B} rows of one length")
        n = len(rows[0])
        if n > self.cap:
            keep = self.cap if self.rope else self.cap // 2
            rows = [r[:self.P] + r[n - (keep - self.P):] for r in rows]
        self.n = len(rows[0])
        self.history = [list(r) for r in rows] if not self.rope else []
        return self._run(rows, 0, 0, prefill=True)

    def step_rows(self, tokens: list[int]) -> torch.Tensor:
        """Feed one token per row; logits [B, V] of the next."""
        if len(tokens) != self.B:
            raise ValueError(f"step needs {self.B} tokens, got {len(tokens)}")
        if not self.rope:
            if self.n >= self.cap:  # block full: re-encode the pinned tokens and the most recent half block
                keep = self.cap // 2 - self.P - 1
                return self.prefill_rows([h[:self.P] + h[len(h) - keep:] + [t]
                                          for h, t in zip(self.history, tokens)])
            for h, t in zip(self.history, tokens):
                h.append(t)
            logits = self._run([[t] for t in tokens], self.n, self.n, prefill=False)
            self.n += 1
            return logits
        r = self.n - self.P  # index of this token among the ring tokens
        slot = self.P + r % self.R
        if r >= self.R and self.P:
            self._place_pinned(self.n - self.R + 1 - self.P)
        logits = self._run([[t] for t in tokens], slot, self.n, prefill=False)
        self.n += 1
        return logits

    def _place_pinned(self, first_pos: int) -> None:
        """Rotate the pinned keys to positions first_pos.. (just before the oldest ring token once this step's
        token has overwritten it)."""
        cos, sin = rope_rows(self.cfg, first_pos, self.P)
        view = (1, 1, self.P, 1, self.cfg.head_dim)  # against k_pinned [L, B, P, H, D]
        cos = cos.to(self.k.device, self.k_pinned.dtype).view(view)
        sin = sin.to(self.k.device, self.k_pinned.dtype).view(view)
        self.k[:, :, :, :self.P] = apply_rotary(self.k_pinned, cos, sin).transpose(2, 3)
