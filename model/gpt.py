"""A small decoder-only transformer (GPT) for char-level language modelling, tuned to train fast on a CPU.

The model only: no I/O, no torch.compile (the trainer may wrap it), imports torch only.

Two layouts share one implementation:
- the default layout: LayerNorm without bias (PyTorch's fused CPU kernel: ~5x cheaper than the composite
  RMSNorm there, same quality), rotary positions, ReLU^2 MLP, QK-norm, zero-initialised residual projections, tied
  embeddings, no biases. Chosen by `bench/model_choices.py` (table in its docstring): rotary positions were the
  big win, ReLU^2 matched or beat SwiGLU/GELU, and the others were neutral to slightly positive;
- the plain GPT-2 layout (`ModelConfig.gpt2(vocab_size, ...)`): LayerNorm with bias, learned absolute positions,
  GELU MLP, scaled-normal residual projections, like nanoGPT.

Attention is causal self-attention through `torch.nn.functional.scaled_dot_product_attention(is_causal=True)`
with one fused QKV projection. Weight init follows nanoGPT: normal(0, 0.02) for linear and embedding weights,
zero biases, residual projections scaled by 1/sqrt(2 * n_layer) (or zero when `zero_init_proj`).

Shapes in comments: B batch, T time (<= block_size), C n_embd, H n_head, D head dim (C / H), V vocab, F FFN width.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

NORMS = ("rmsnorm", "layernorm")
POSITIONS = ("rope", "learned")
MLPS = ("swiglu", "relu2", "gelu")
MAX_BLOCK_SIZE = 1 << 16  # longest context a config may ask for: far above any preset, bounds the tables it sizes
HIDDEN_MULTIPLE = 16  # FFN widths are rounded up to this (whole SIMD vectors / GEMM tiles on CPU and GPU)


def round_up(n: float, multiple: int = HIDDEN_MULTIPLE) -> int:
    """Smallest multiple of `multiple` that is >= n (and >= multiple)."""
    return max(multiple, int(math.ceil(n / multiple)) * multiple)


@dataclass
class ModelConfig:
    """Shape and layout of a GPT. Defaults are the measured CPU winners; `ModelConfig.gpt2(...)` is nanoGPT's layout.
    Invalid values raise ValueError with a one-line message (the trainer turns it into a UserError)."""

    vocab_size: int
    block_size: int = 256          # longest context (tokens)
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128              # width C; must divide by n_head (and C / n_head must be even with rope)
    ffn_mult: float = 4.0          # FFN size relative to n_embd, parameter-equivalent across MLP kinds: gelu/relu2
                                   # use hidden = ffn_mult * C; swiglu (3 matrices) uses 2/3 of that so its
                                   # parameter count matches; rounded up to a multiple of 16
    ffn_widths: list[int] | None = None  # per-layer actual hidden widths (overrides ffn_mult), len == n_layer
    dropout: float = 0.0           # on embeddings, attention weights and residual branches (0 = off)
    bias: bool = False             # biases in linear layers and LayerNorm
    tie_embeddings: bool = True    # output head shares the token-embedding matrix
    norm: str = "layernorm"        # "layernorm" (fused CPU kernel; no bias unless `bias`) | "rmsnorm"
    pos: str = "rope"              # "rope" (rotary, no parameters) | "learned" (absolute, block_size x C)
    mlp: str = "relu2"             # "relu2" (relu(x)^2) | "swiglu" | "gelu"
    qk_norm: bool = True           # normalise queries and keys per head (same norm kind) before attention
    zero_init_proj: bool = True    # residual output projections start at zero (each block starts as identity)
    rope_base: float = 10000.0     # rotary frequency base
    grad_checkpoint: bool = False  # recompute block activations in backward (GPU presets: memory for compute)

    def __post_init__(self) -> None:
        for key in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{key} must be a whole number >= 1 (got {value!r})")
            setattr(self, key, int(value))
        if self.block_size > MAX_BLOCK_SIZE:  # the rotary tables and the KV cache grow with it
            raise ValueError(f"block_size must be <= {MAX_BLOCK_SIZE:,} (got {self.block_size:,})")
        for key in ("ffn_mult", "dropout", "rope_base"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"{key} must be a finite number (got {value!r})")
        if self.rope_base <= 0:
            raise ValueError(f"rope_base must be > 0 (got {self.rope_base!r})")
        for key in ("bias", "tie_embeddings", "qk_norm", "zero_init_proj", "grad_checkpoint"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"{key} must be true or false (got {getattr(self, key)!r})")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)} (got {self.norm!r})")
        if self.pos not in POSITIONS:
            raise ValueError(f"pos must be one of {', '.join(POSITIONS)} (got {self.pos!r})")
        if self.mlp not in MLPS:
            raise ValueError(f"mlp must be one of {', '.join(MLPS)} (got {self.mlp!r})")
        if self.pos == "rope" and self.head_dim % 2:
            raise ValueError(f"rotary positions need an even head size (n_embd / n_head = {self.head_dim})")
        if self.ffn_widths is not None:
            if not isinstance(self.ffn_widths, (list, tuple)) or not all(
                    isinstance(w, numbers.Integral) and not isinstance(w, bool) for w in self.ffn_widths):
                raise ValueError("ffn_widths must be a list of whole numbers")
            self.ffn_widths = [int(w) for w in self.ffn_widths]
            if len(self.ffn_widths) != self.n_layer or min(self.ffn_widths) < 1:
                raise ValueError(f"ffn_widths needs {self.n_layer} positive widths (one per layer)")
        if self.ffn_mult <= 0 or not 0.0 <= self.dropout < 1.0:
            raise ValueError("ffn_mult must be > 0 and dropout in [0, 1)")

    @classmethod
    def gpt2(cls, vocab_size: int, **overrides) -> "ModelConfig":
        """nanoGPT's plain GPT-2 layout: LayerNorm + bias, learned positions, GELU, no QK-norm, scaled-normal init."""
        base = dict(norm="layernorm", pos="learned", mlp="gelu", bias=True, qk_norm=False, zero_init_proj=False,
                    tie_embeddings=True, ffn_mult=4.0)
        base.update(overrides)
        return cls(vocab_size=vocab_size, **base)

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def hidden_widths(self) -> list[int]:
        """Actual FFN hidden width F of every layer."""
        if self.ffn_widths is not None:
            return list(self.ffn_widths)
        scale = 2.0 / 3.0 if self.mlp == "swiglu" else 1.0
        return [round_up(self.ffn_mult * self.n_embd * scale)] * self.n_layer

    def to_dict(self) -> dict:
        return asdict(self)


def _norm(cfg: ModelConfig, dim: int) -> nn.Module:
    if cfg.norm == "rmsnorm":
        return nn.RMSNorm(dim, eps=1e-6)  # composite ops: on CPU several times slower than LayerNorm's kernel
    return nn.LayerNorm(dim, bias=cfg.bias)


def rotary_tables(head_dim: int, length: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and signed-sin tables [length, D] for `apply_rotary` (rotate-half form: pairs (i, i + D/2))."""
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    angles = torch.outer(torch.arange(length, dtype=torch.float64), inv_freq)  # [T, D/2]
    cos, sin = angles.cos(), angles.sin()
    return torch.cat((cos, cos), -1).float(), torch.cat((-sin, sin), -1).float()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x [B, T, ..., D] by position (cos/sin [T, 1.., D]): x * cos + swap_halves(x) * signed sin."""
    half = x.shape[-1] // 2
    return x * cos + torch.cat((x[..., half:], x[..., :half]), dim=-1) * sin


class Attention(nn.Module):
    """Causal multi-head self-attention: one fused QKV matmul, QK-norm and rotary applied to q and k together
    (one op each instead of two), then SDPA."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head, self.head_dim, self.dropout = cfg.n_head, cfg.head_dim, cfg.dropout
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.proj.residual = True
        # One norm (learnable gain shared by q and k, so the gain also acts as a learnable temperature).
        self.qk_norm = _norm(cfg, cfg.head_dim) if cfg.qk_norm else None
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        B, T, C = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.n_head, self.head_dim)  # [B, T, 3, H, D]
        qk, v = qkv[:, :, :2], qkv[:, :, 2]
        if self.qk_norm is not None:
            qk = self.qk_norm(qk)
        if rope is not None:
            cos, sin = rope[0][:T, None, None].to(qk.dtype), rope[1][:T, None, None].to(qk.dtype)
            qk = apply_rotary(qk, cos, sin)
        qk = qk.to(v.dtype)  # under CUDA autocast the norm returns float32 while v is bf16/fp16 (no-op otherwise)
        q, k, v = qk[:, :, 0].transpose(1, 2), qk[:, :, 1].transpose(1, 2), v.transpose(1, 2)  # [B, H, T, D]
        if x.device.type == "cpu" and v.dtype != torch.float32:
            # CPU bf16 autocast: the matmuls gain ~2x from bf16, but the CPU flash-attention kernel's bf16 backward
            # is ~3.5x slower than its float32 one (measured at B12 H4 T64 D32), so attention runs in float32
            with torch.autocast("cpu", enabled=False):
                y = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), is_causal=True,
                                                   dropout_p=self.dropout if self.training else 0.0).to(v.dtype)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                               dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(B, T, C)  # [B, H, T, D] -> [B, T, C]
        return self.resid_drop(self.proj(y))


class MLP(nn.Module):
    """Position-wise feed-forward: SwiGLU (fused gate+up matrix), ReLU^2 or GELU."""

    def __init__(self, cfg: ModelConfig, hidden: int):
        super().__init__()
        self.kind = cfg.mlp
        n_in = 2 * hidden if cfg.mlp == "swiglu" else hidden
        self.fc = nn.Linear(cfg.n_embd, n_in, bias=cfg.bias)
        self.proj = nn.Linear(hidden, cfg.n_embd, bias=cfg.bias)
        self.proj.residual = True
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc(x)
        if self.kind == "swiglu":
            gate, up = h.chunk(2, dim=-1)
            h = F.silu(gate) * up
        elif self.kind == "relu2":
            h = F.relu(h).square()
        else:
            h = F.gelu(h)
        return self.drop(self.proj(h))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, cfg: ModelConfig, hidden: int):
        super().__init__()
        self.norm1, self.attn = _norm(cfg, cfg.n_embd), Attention(cfg)
        self.norm2, self.mlp = _norm(cfg, cfg.n_embd), MLP(cfg, hidden)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), rope)
        return x + self.mlp(self.norm2(x))


class GPT(nn.Module):
    """Decoder-only transformer: token ids [B, T] -> logits [B, T, V] (and mean cross-entropy with targets)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd) if cfg.pos == "learned" else None
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg, w) for w in cfg.hidden_widths())
        self.norm_f = _norm(cfg, cfg.n_embd)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.wte.weight
        if cfg.pos == "rope":
            cos, sin = rotary_tables(cfg.head_dim, cfg.block_size, cfg.rope_base)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        else:
            self.rope_cos = self.rope_sin = None
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        std = 0.02
        if isinstance(module, nn.Linear):
            if getattr(module, "residual", False):
                if self.cfg.zero_init_proj:
                    nn.init.zeros_(module.weight)
                else:
                    nn.init.normal_(module.weight, 0.0, std / math.sqrt(2 * self.cfg.n_layer))
            else:
                nn.init.normal_(module.weight, 0.0, std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, 0.0, std)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx [B, T] -> (logits [B, T, V], mean cross-entropy or None); targets of -1 are ignored."""
        logits = self.lm_head(self.hidden(idx))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)
        return logits, loss

    def hidden(self, idx: torch.Tensor) -> torch.Tensor:
        """idx [B, T] -> the final normalised hidden states [B, T, C] (what the output head reads)."""
        B, T = idx.shape
        if T > self.cfg.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size {self.cfg.block_size}")
        x = self.wte(idx)
        if self.wpe is not None:
            x = x + self.wpe.weight[:T]
        x = self.drop(x)
        rope = (self.rope_cos, self.rope_sin) if self.rope_cos is not None else None
        for block in self.blocks:
            if self.cfg.grad_checkpoint and self.training and torch.is_grad_enabled():
                x = checkpoint(block, x, rope, use_reentrant=False)
            else:
                x = block(x, rope)
        return self.norm_f(x)

    def num_params(self, exclude_embeddings: bool = False) -> int:
        """Number of parameters (a tied matrix counts once); optionally without token/position embeddings."""
        n = sum(p.numel() for p in self.parameters())
        if exclude_embeddings:
            n -= self.wte.weight.numel() + (self.wpe.weight.numel() if self.wpe is not None else 0)
        return n

    @torch.no_grad()
    def resize_vocab(self, new_vocab_size: int, seed: int = 0) -> None:
        """Grow the vocabulary to `new_vocab_size`: old embedding/output rows are kept bit-identical; new rows are
        drawn from normal(0, 0.02) with a generator seeded from (seed, old size, new size), so the same growth
        always gives the same weights whatever the global RNG state. Shrinking is refused (ValueError)."""
        old = self.cfg.vocab_size
        if new_vocab_size < old:
            raise ValueError(f"cannot shrink the vocabulary from {old} to {new_vocab_size}")
        if new_vocab_size == old:
            return
        gen = torch.Generator(device="cpu").manual_seed(seed * 1_000_003 + old * 65_537 + new_vocab_size)

        def grown(weight: torch.Tensor) -> nn.Parameter:
            extra = torch.empty(new_vocab_size - old, weight.shape[1], dtype=torch.float32)
            extra.normal_(0.0, 0.02, generator=gen)
            rows = torch.cat([weight.detach(), extra.to(device=weight.device, dtype=weight.dtype)], dim=0)
            return nn.Parameter(rows, requires_grad=weight.requires_grad)

        self.wte.weight = grown(self.wte.weight)
        self.wte.num_embeddings = new_vocab_size
        self.lm_head.weight = self.wte.weight if self.cfg.tie_embeddings else grown(self.lm_head.weight)
        self.lm_head.out_features = new_vocab_size
        self.cfg.vocab_size = new_vocab_size


MB = 1024 * 1024


def estimate_memory_mb(cfg: ModelConfig, batch_size: int, optimizer: str = "adamw") -> dict:
    """Estimated float32 training memory in MB for one micro-batch of `batch_size` x block_size tokens:
    {"weights", "grads", "optimizer", "activations", "total"}.

    Activations = what autograd keeps for backward (per-op counts measured with saved-tensor hooks on this
    implementation) + the largest transient of backward (logits gradient, one layer's FFN gradients). Validated
    against measured peak-RSS deltas in `bench/model_choices.py memory` (see the table there)."""
    n_params = param_count(cfg)
    state = {"adamw": 2, "adam": 2, "muon": 1, "sgd": 1}
    if optimizer not in state:
        raise ValueError(f"optimizer must be one of {', '.join(state)} (got {optimizer!r})")
    B, T, C, H, V = batch_size, cfg.block_size, cfg.n_embd, cfg.n_head, cfg.vocab_size
    btc = B * T * C
    # per layer, in units of B*T*C: norm inputs/outputs 2+2, qkv 3, attention output + its [B,T,C] copy 2
    # (+1: allocator slack measured on the GPT-2 layout); rotary/QK-norm keep the normed q,k (2) and, measured
    # against peak RSS, ~6 more of backward temporaries and the contiguous q/k copies SDPA makes
    per_c = 9.0 + (8.0 if (cfg.pos == "rope" or cfg.qk_norm) else 0.0)
    if cfg.norm == "rmsnorm":  # the composite RMSNorm keeps one more tensor per norm (q and k count double)
        per_c += 2.0 + (2.0 if cfg.qk_norm else 0.0)
    per_layer_extra = 0.0
    if cfg.dropout > 0:  # masks on residual branches; attention falls back to the math kernel (T x T maps)
        per_c += 3.0
        per_layer_extra = 3.0 * B * H * T * T
    widths = cfg.hidden_widths()
    f_units = 4.0 if cfg.mlp == "swiglu" else 2.0  # swiglu: gate+up, silu(gate), product; others: pre/post act
    saved = [per_c * btc + f_units * B * T * w + per_layer_extra for w in widths]
    head = (2.0 + (1.0 if cfg.norm == "rmsnorm" else 0.0) + (1.0 if cfg.dropout > 0 else 0.0)) * btc + B * T * V
    if cfg.grad_checkpoint:  # only each block's input is kept; one block is recomputed at a time
        kept = len(widths) * btc + max(saved)
    else:
        kept = sum(saved)
    transient = 2 * btc + 2 * B * T * max(widths) * (2 if cfg.mlp == "swiglu" else 1) + 2 * B * T * V
    acts = kept + head + transient
    out = {"weights": n_params * 4 / MB, "grads": n_params * 4 / MB,
           "optimizer": state[optimizer] * n_params * 4 / MB, "activations": acts * 4 / MB}
    out["total"] = sum(out.values())
    return out


def param_count(cfg: ModelConfig) -> int:
    """Parameter count of GPT(cfg) computed from the config alone (no allocation)."""
    C, V, b = cfg.n_embd, cfg.vocab_size, int(cfg.bias)
    norm = C * (2 if cfg.norm == "layernorm" and cfg.bias else 1)
    n = V * C + (cfg.block_size * C if cfg.pos == "learned" else 0) + norm  # wte, wpe, final norm
    if not cfg.tie_embeddings:
        n += V * C
    for F_ in cfg.hidden_widths():
        n += 2 * norm
        n += 3 * C * C + 3 * C * b + C * C + C * b  # qkv, proj
        if cfg.qk_norm:
            n += norm // C * cfg.head_dim
        n_in = 2 * F_ if cfg.mlp == "swiglu" else F_
        n += C * n_in + n_in * b + F_ * C + C * b
    return n
