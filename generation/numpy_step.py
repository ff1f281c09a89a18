"""One decoding step of a float32 GPT on the CPU in numpy: the same arithmetic as the GPT's own modules for
rows of one new token each, reading and writing the KVDecoder's cache tensors in place (numpy views of them; a
bfloat16 cache, which numpy cannot hold, through torch, whose fused attention then reads it).

Why a second implementation of the step: decoding one token multiplies a vector by every weight once, so its
floor is the time to stream the weights from memory, and everything else is per-operation overhead. Measured on
the 2-core VM (torch 2.13, `small` preset shape, the 24 layer matrices in a row): torch's `x @ Wt` streamed them
at ~13 GB/s on 1 thread and ~15 on 2, numpy's OpenBLAS sgemv at ~19 and ~28; a torch operation on a 384-vector
costs ~3-5 us of dispatch where numpy's costs ~1 us, and a step is ~40 small operations per layer.
bench/generate.py prints the result against the machine's bandwidth limit. The torch path
(generation/kv_decoder.py) stays the reference: bf16/fp16 and GPUs use it, and tests hold this step to its logits.

Prefill (encoding a whole prompt, or a rolling summary and its window after every fold) runs here too, as one
matrix product per linear layer for all its tokens; in the last layer only the last token goes past the keys and
values, since only its logits are wanted (a quarter of the prefill's arithmetic in a 4-layer model).

Linear layers: float ones (nn.Linear, quantize.TransposedLinear) multiply in numpy's BLAS, or in torch when
`torch_products` is on (generation/threads.py times both and picks): OpenBLAS packs the weight matrix for every
product of two rows or more, so 8 rows of the `small` shape took 5.1 ms there against 1.9 ms in torch (1 thread,
2-core Intel Xeon, torch 2.13, the 25 matrices in a row), while for one row the two were even there and numpy
ahead on the AMD EPYC above. Weight-only int8 ones (quantize.Int8Linear) run their own torch kernel on a
zero-copy view. Supported: every ModelConfig option (norm,
positions, MLP kind, QK-norm, biases, tied or untied head); `supports(model)` says whether the weights qualify.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from generation.quantize import PACKED_INT8, Int8Linear, TransposedEmbedding, TransposedLinear
from model.gpt import GPT


def supports(model: GPT) -> bool:
    """True when every floating parameter is a float32 CPU tensor (linear layers may also be int8)."""
    return all(p.device.type == "cpu" and p.dtype == torch.float32
               for p in list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()])


def blas_products(model: GPT) -> bool:
    """True when the model's weight products can run in numpy's BLAS (float32 on the CPU), False when they run in
    torch (int8, bf16, fp16, GPUs)."""
    return supports(model) and not any(isinstance(m, Int8Linear) for m in model.modules())


def _arr(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().numpy()


_torch_products = False  # float32 weight products in torch instead of numpy's BLAS (set_torch_products)


def set_torch_products(on: bool) -> bool:
    """Steps built from now on multiply float32 weights in torch (True) or numpy's BLAS; returns the previous
    setting. Process-wide, like the thread pools it goes with (generation/threads.py)."""
    global _torch_products
    before, _torch_products = _torch_products, bool(on)
    return before


def torch_products() -> bool:
    return _torch_products


def torch_attention(model: GPT) -> bool:
    """True when a step built now runs its attention in torch's fused kernel: where torch holds the threads
    (float32 products in torch, or int8 weights); numpy otherwise (generation/threads.py sizes the pools)."""
    return torch_products() or not blas_products(model)


def _linear(module: nn.Module, in_torch: bool):
    """x [B, in] float32 array -> [B, out] float32 array, for each linear layer kind; float weights multiply in
    torch when `in_torch` (the same [in, out] memory, no copy)."""
    if isinstance(module, TransposedLinear):
        w, b = module.weight_t.detach(), module.bias
    elif isinstance(module, nn.Linear):
        w, b = module.weight.detach().t(), module.bias
    elif isinstance(module, Int8Linear):
        return _int8_linear(module)
    else:
        raise TypeError(f"no numpy step for {type(module).__name__}")
    b = None if b is None else b.detach()
    if in_torch:
        if b is None:
            return lambda x: torch.mm(torch.from_numpy(x), w).numpy()
        return lambda x: torch.addmm(b, torch.from_numpy(x), w).numpy()
    w, b = _arr(w), _arr(b)
    if b is None:
        return lambda x: x @ w
    return lambda x: x @ w + b


def _int8_linear(module: Int8Linear):
    """Int8Linear's own CPU arithmetic (bfloat16 activations into torch's packed int8 kernel, float32 per-row
    scales on the output) with the fewest torch calls; elsewhere the module itself."""
    if not PACKED_INT8:
        return lambda x: module(torch.from_numpy(x)).numpy()
    q, ones = module.qweight, torch.ones(module.out_features, dtype=torch.bfloat16)
    scale, b = _arr(module.scale), _arr(module.bias)

    def int8_linear(x: np.ndarray) -> np.ndarray:
        y = torch._weight_int8pack_mm(torch.from_numpy(x).to(torch.bfloat16), q, ones).float().numpy() * scale
        return y if b is None else y + b
    return int8_linear


def _norm(module: nn.Module):
    """x [..., C] -> normalised x (LayerNorm with or without bias, or RMSNorm), as the module computes it."""
    g, b = _arr(module.weight), _arr(getattr(module, "bias", None))
    inv_n = np.float32(1.0 / g.shape[0])
    add = np.add.reduce  # the ufunc itself: ndarray.mean adds ~4 us of Python per call
    if isinstance(module, nn.LayerNorm):
        eps = module.eps

        def layer_norm(x: np.ndarray) -> np.ndarray:
            xc = x - add(x, axis=-1, keepdims=True) * inv_n
            y = xc * (1.0 / np.sqrt(add(xc * xc, axis=-1, keepdims=True) * inv_n + eps)) * g
            return y if b is None else y + b
        return layer_norm
    eps = module.eps if module.eps is not None else float(torch.finfo(torch.float32).eps)

    def rms_norm(x: np.ndarray) -> np.ndarray:
        return x * (1.0 / np.sqrt(add(x * x, axis=-1, keepdims=True) * inv_n + eps)) * g
    return rms_norm


def _fused(module: nn.Module | None):
    """The module itself on zero-copy views, for prefill: on a [T, C] block torch's fused norm (one pass) beats
    numpy's ~8 element-wise passes (~47 against ~94 us for 128 tokens), while on one token numpy's lower call cost
    wins (the step keeps _norm)."""
    if module is None:
        return None
    return lambda x: module(torch.from_numpy(x)).numpy()


def _activation(kind: str):
    if kind == "relu2":
        def relu2(h: np.ndarray) -> np.ndarray:
            h = np.maximum(h, 0.0)
            return h * h
        return relu2
    if kind == "swiglu":
        def swiglu(h: np.ndarray) -> np.ndarray:
            gate, up = np.split(h, 2, axis=-1)
            return gate / (1.0 + np.exp(-gate)) * up
        return swiglu
    # GELU needs erf, which numpy lacks: torch's on a zero-copy view
    return lambda h: F.gelu(torch.from_numpy(h)).numpy()


class NumpyStep:
    """Feeds one token per row through a float32 GPT against the caches `k`, `v` ([L, B, H, cap, D] torch
    tensors, written in place); see the module docstring."""

    def __init__(self, model: GPT, k: torch.Tensor, v: torch.Tensor):
        cfg = model.cfg
        self.H, self.D, self.C = cfg.n_head, cfg.head_dim, cfg.n_embd
        # A float32 cache is also read and written as numpy views of the same memory; a bfloat16 one
        # (KVDecoder's cache_dtype) only through torch, which casts on the way in and runs the attention on it.
        self.k_t, self.v_t = k, v
        self.half_cache = k.dtype != torch.float32
        self.k, self.v = (None, None) if self.half_cache else (k.numpy(), v.numpy())
        wte = model.wte
        self.emb = _arr(wte.weight_t).T if isinstance(wte, TransposedEmbedding) else _arr(wte.weight)
        self.wpe = _arr(model.wpe.weight) if model.wpe is not None else None
        self.rope = cfg.pos == "rope"
        self.scale = np.float32(1.0 / math.sqrt(self.D))
        self.layers = []
        self.in_torch = in_torch = torch_products()
        self.attention_in_torch = torch_attention(model) or self.half_cache
        for block in model.blocks:
            a = block.attn
            self.layers.append((_norm(block.norm1), _linear(a.qkv, in_torch),
                                None if a.qk_norm is None else _norm(a.qk_norm), _linear(a.proj, in_torch),
                                _norm(block.norm2), _linear(block.mlp.fc, in_torch), _activation(cfg.mlp),
                                _linear(block.mlp.proj, in_torch)))
        self.norm_f, self.head = _norm(model.norm_f), _linear(model.lm_head, in_torch)
        self.prefill_norms = [(_fused(b.norm1), _fused(b.attn.qk_norm), _fused(b.norm2)) for b in model.blocks]
        self._causal: dict[int, torch.Tensor] = {}  # additive causal masks [T, T] by length

    def _store(self, li: int, where: int | slice, k: np.ndarray, v: np.ndarray) -> None:
        """Write keys and values into layer li's cache at slot(s) `where` (a bfloat16 cache rounds them)."""
        if self.half_cache:
            self.k_t[li, :, :, where] = torch.from_numpy(k)
            self.v_t[li, :, :, where] = torch.from_numpy(v)
        else:
            self.k[li, :, :, where] = k
            self.v[li, :, :, where] = v

    @torch.no_grad()  # the fused norms are the modules themselves: no graph, whoever calls
    def prefill(self, rows: list[list[int]], pinned: np.ndarray | None, cos: torch.Tensor | None,
                sin: torch.Tensor | None) -> torch.Tensor:
        """Encode each row's ids (all as long, T <= the cache) into cache slots [0, T) at positions 0..T-1, each
        attending causally; float32 logits [B, V] of each row's last token. `pinned` ([L, B, P, H, D] array or
        None): gets the un-rotated keys of the first P tokens (rope). `cos`/`sin`: the rotary rows [T, D]."""
        H, D, C = self.H, self.D, self.C
        x = self.emb[np.asarray(rows)]  # [B, T, C]
        B, T = x.shape[:2]
        if self.wpe is not None:
            x = x + self.wpe[:T]
        if self.rope:
            cos_a, sin_a = cos.numpy()[:, None, None], sin.numpy()[:, None, None]  # [T, 1, 1, D]
            half = D // 2
        causal = self._causal.get(T)
        if causal is None:
            causal = self._causal[T] = torch.full((T, T), -torch.inf).triu(1)
        last = len(self.layers) - 1
        for li, ((_, qkv, _, proj, _, fc, act, down), (norm1, qk_norm, norm2)) in enumerate(
                zip(self.layers, self.prefill_norms)):
            qkv_out = qkv(norm1(x).reshape(B * T, C)).reshape(B, T, 3, H, D)
            qk, v = qkv_out[:, :, :2], qkv_out[:, :, 2]
            if qk_norm is not None:
                qk = qk_norm(qk)
            if self.rope:
                if pinned is not None and pinned.shape[2]:
                    pinned[li] = qk[:, :pinned.shape[2], 1]
                swapped = np.concatenate((qk[..., half:], qk[..., :half]), axis=-1)
                qk = qk * cos_a + swapped * sin_a
            q = qk[:, :, 0].transpose(0, 2, 1, 3)  # [B, H, T, D]
            keys, values = qk[:, :, 1].transpose(0, 2, 1, 3), v.transpose(0, 2, 1, 3)
            self._store(li, slice(0, T), keys, values)  # the prompt attends to its exact keys, whatever the cache
            if li == last:  # only the last token's output is wanted from here on
                q, x, mask = q[:, :, -1:], x[:, -1:], None
            else:
                mask = causal
            scores = torch.from_numpy(np.matmul(q * self.scale, keys.transpose(0, 1, 3, 2)))  # [B, H, Tq, T]
            if mask is not None:
                scores += mask
            scores = torch.softmax(scores, -1).numpy()  # one fused pass (numpy's exp, max, sum: ~2.5x slower)
            Tq = q.shape[2]
            y = np.matmul(scores, values).transpose(0, 2, 1, 3).reshape(B * Tq, C)  # [B*Tq, C]
            x = x + proj(y).reshape(B, Tq, C)
            x = x + down(act(fc(norm2(x).reshape(B * Tq, C)))).reshape(B, Tq, C)
        return torch.from_numpy(self.head(self.norm_f(x[:, -1])))

    def __call__(self, tokens: list[int], slot: int, pos: int, valid: int,
                 cos: torch.Tensor | None, sin: torch.Tensor | None) -> torch.Tensor:
        """Feed `tokens` (one per row) at cache `slot` and position `pos`, attending to cache slots [0, valid);
        float32 logits [B, V]. `cos`/`sin`: the rotary rows [1, D] of `pos` (rope layout)."""
        H, D, C = self.H, self.D, self.C
        x = self.emb[tokens]  # [B, C] (a copy: the gather)
        B = x.shape[0]
        if self.wpe is not None:
            x = x + self.wpe[pos]
        if self.rope:
            cos_a, sin_a = cos.numpy()[0], sin.numpy()[0]
            half = D // 2
        for li, (norm1, qkv, qk_norm, proj, norm2, fc, act, down) in enumerate(self.layers):
            qkv_out = qkv(norm1(x)).reshape(B, 3, H, D)
            qk, v = qkv_out[:, :2], qkv_out[:, 2]
            if qk_norm is not None:
                qk = qk_norm(qk)
            if self.rope:  # rotate-half form, as model.gpt.apply_rotary
                swapped = np.concatenate((qk[..., half:], qk[..., :half]), axis=-1)
                qk = qk * cos_a + swapped * sin_a
            q, k = qk[:, 0], qk[:, 1]  # [B, H, D]
            self._store(li, slot, k, v)
            if self.attention_in_torch:  # one fused call (8 rows of `small`: 1.0 ms a step against 1.5 in numpy)
                q_t = torch.from_numpy(q)[:, :, None].to(self.k_t.dtype)
                y = F.scaled_dot_product_attention(q_t, self.k_t[li, :, :, :valid], self.v_t[li, :, :, :valid])
                y = y.float().numpy()  # [B, H, 1, D]
            else:
                keys, values = self.k[li, :, :, :valid], self.v[li, :, :, :valid]  # [B, H, valid, D]
                scores = np.matmul(keys, (q * self.scale)[..., None])[..., 0]  # [B, H, valid]
                scores = np.exp(scores - scores.max(-1, keepdims=True))
                scores /= scores.sum(-1, keepdims=True)
                y = np.matmul(scores[:, :, None, :], values)  # [B, H, 1, D]
            x = x + proj(y.reshape(B, C))
            x = x + down(act(fc(norm2(x))))
        return torch.from_numpy(self.head(self.norm_f(x)))
