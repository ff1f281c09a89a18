"""What this CPU computes natively: training picks its autocast dtype from it (training/runtime.py) and generation
its KV cache dtype (generation/kv_decoder.py)."""

from __future__ import annotations

import torch


def cpu_has_native_bf16() -> bool:
    """True when this CPU has bf16 dot-product instructions (AVX512-BF16 or AMX tiles) that torch can use."""
    cpu = getattr(torch, "cpu", None)
    try:
        return bool(cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported())
    except AttributeError:  # older torch without these probes: keep float32
        return False
