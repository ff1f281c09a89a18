"""Inference-only weight layouts: weight-only int8 linear layers (one scale per output channel), float linear
layers stored transposed, and fp16/bf16 casts.

int8: each row w[o, :] of a linear weight is stored as round(w / s[o]) in int8 with s[o] = max|w[o, :]| / 127, so
the round-trip error of any weight is at most s[o] / 2 (half a quantisation step of its own row). Activations are
never quantised ("weight-only"): y = (x @ q.T) * s + b. On the CPU the product runs in PyTorch's packed int8 kernel
(`torch._weight_int8pack_mm`) with the activations rounded to bfloat16 (its fast path; with float32 activations
it measured ~10x slower) and unit scales, the float32 per-row scales then applied to the output (so no scale is
rounded). Elsewhere it dequantises one layer at a time (`q.to(x.dtype)`, a transient) and scales the output.

Transposed float layout: batch-1 decoding multiplies a vector by each weight, and `x @ Wt` with Wt = W.T stored
contiguously ([in, out]) measured ~1.5x faster than `F.linear(x, W)` on a 2-core CPU (the weights stream from
RAM row by row); `TransposedLinear` keeps that layout and computes the same product.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.float32}
QMAX = 127
BLAS_MAX_ROWS = 16  # float32 products of at most this many rows run through numpy's BLAS (see TransposedLinear)
PACKED_INT8 = hasattr(torch, "_weight_int8pack_mm")  # PyTorch >= 2.3


def quantize_weight(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(int8 weight [out, in], float32 scale [out]) of a float weight [out, in]; all-zero rows get scale 1."""
    w = w.detach().float()
    scale = w.abs().amax(dim=1) / QMAX
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.round(w / scale[:, None]).clamp_(-QMAX, QMAX).to(torch.int8)
    return q, scale


def dequantize_weight(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The float32 weight an int8 weight and its scales stand for."""
    return q.float() * scale[:, None]


class Int8Linear(nn.Module):
    """A linear layer y = x @ W.T + b with W held as int8 plus one float32 scale per output channel."""

    def __init__(self, q: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        self.in_features, self.out_features = q.shape[1], q.shape[0]
        self.register_buffer("qweight", q)
        self.register_buffer("scale", scale.float())
        self.register_buffer("bias", None if bias is None else bias.detach().float())
        self._ones: torch.Tensor | None = None  # unit scales for the packed kernel (made on first use)

    @classmethod
    def from_float(cls, weight: torch.Tensor, bias: torch.Tensor | None = None) -> "Int8Linear":
        q, scale = quantize_weight(weight)
        return cls(q, scale, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and PACKED_INT8:
            flat = x.reshape(-1, self.in_features).to(torch.bfloat16)
            if self._ones is None:
                self._ones = torch.ones(self.out_features, dtype=torch.bfloat16)
            y = torch._weight_int8pack_mm(flat, self.qweight, self._ones).view(*x.shape[:-1], self.out_features)
            y = y.to(x.dtype) * self.scale.to(x.dtype)
        else:
            y = F.linear(x, self.qweight.to(x.dtype)) * self.scale.to(x.dtype)
        return y if self.bias is None else y + self.bias.to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 per-channel"


class TransposedLinear(nn.Module):
    """y = x @ Wt + b with the float weight stored transposed ([in, out], contiguous): same result as nn.Linear,
    faster for batch-1 decoding (see the module docstring)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        self.in_features, self.out_features = weight.shape[1], weight.shape[0]
        self.weight_t = nn.Parameter(weight.detach().t().contiguous(), requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias.detach(), requires_grad=False)

    @classmethod
    def sharing(cls, weight_t: nn.Parameter) -> "TransposedLinear":
        """A bias-free layer over an existing transposed weight (the tied output head of TransposedEmbedding)."""
        layer = cls.__new__(cls)
        nn.Module.__init__(layer)
        layer.in_features, layer.out_features = weight_t.shape
        layer.weight_t, layer.bias = weight_t, None
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight_t
        if w.dtype == torch.float32 and x.dtype == torch.float32 and x.device.type == "cpu" \
                and x.numel() <= BLAS_MAX_ROWS * self.in_features and not (torch.is_grad_enabled() and x.requires_grad):
            # Decoding: a few rows times the whole matrix, bound by how fast the weights stream from memory.
            # numpy's OpenBLAS sgemv streamed 1.5-1.9x faster than torch's x @ Wt here (19 vs 13 GB/s on 1
            # thread, 28 vs 15 on 2; 24 layer matrices in a row); the result is the same product.
            y = torch.from_numpy(np.matmul(x.numpy(), w.numpy()))
        else:
            y = x.to(w.dtype) @ w  # (the GPT's CPU attention returns float32 for bf16 input)
        return y if self.bias is None else y + self.bias


class TransposedEmbedding(nn.Module):
    """A token embedding read from the transposed matrix [C, V] that a tied output head multiplies by: the head
    then streams its weights in the fast layout (x @ Wt: ~3.5x faster than F.linear for a 32,000 x 288 head on
    one core) and the model still holds one copy of the matrix. Looking up a token reads one strided column."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.weight_t = nn.Parameter(weight.detach().t().contiguous(), requires_grad=False)

    @property
    def weight(self) -> torch.Tensor:
        """The embedding as [V, C] (a view of the transposed storage: writes to it reach the head too)."""
        return self.weight_t.t()

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.weight_t.t()[idx]


def transpose_linears(module: nn.Module, skip: tuple[nn.Module, ...] = ()) -> int:
    """Replace every nn.Linear under `module` (in place, except those in `skip`) by a TransposedLinear."""
    n = 0
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Linear) and not any(child is s for s in skip):
            setattr(module, name, TransposedLinear(child.weight, child.bias))
            n += 1
        elif not isinstance(child, nn.Linear):
            n += transpose_linears(child, skip)
    return n


def quantize_linears(module: nn.Module) -> int:
    """Replace every nn.Linear under `module` (in place) by an Int8Linear; returns how many were replaced. A tied
    output head gets its own int8 copy; the embedding it shares weights with stays float."""
    n = 0
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Linear):
            setattr(module, name, Int8Linear.from_float(child.weight, child.bias))
            n += 1
        else:
            n += quantize_linears(child)
    return n


def cast_floats(module: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Parameters of `module` cast to `dtype` in place (tied parameters stay tied); buffers (int8 weights and
    scales, the rotary tables) are left as they are."""
    for p in module.parameters():
        p.data = p.data.to(dtype)
    return module
