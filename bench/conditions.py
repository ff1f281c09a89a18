"""The conditions a benchmark figure was measured under, printed and stored beside the figure.

A figure without its conditions cannot be compared: every benchmark calls `measure_conditions()` once, prints
`format_conditions(...)` at the top of its report and stores the dict in its JSON output. Both sides of a ratio
run in the same benchmark process tree, so they share these conditions unless a row says otherwise (a row that
runs the reference in another dtype or thread count states its own).

**Usage:**
    from bench.conditions import measure_conditions, format_conditions
    cond = measure_conditions(dtype="fp32", threads=1)
    print(format_conditions(cond))
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

# CPU flags that change the speed of what we benchmark (SIMD width, native bf16/fp16 and int8 dot products).
RELEVANT_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
                  "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "avx_vnni", "neon", "asimd", "sve")


def cpu_model_and_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, list[str]]:
    """The CPU's model name and which of RELEVANT_FLAGS it has (Linux /proc/cpuinfo; platform elsewhere)."""
    model, flags = "", set()
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key in ("model name", "hardware", "cpu model") and not model:
                model = value.strip()
            elif key in ("flags", "features") and not flags:
                flags = set(value.split())
    except OSError:
        pass
    model = model or platform.processor() or platform.machine()
    return model, [f for f in RELEVANT_FLAGS if f in flags]


def measure_conditions(dtype: str | None = None, threads: int | None = None, **extra) -> dict:
    """Dtype, threads, torch/numpy/python versions, CPU model and flags, cores; `extra` is stored as given."""
    model, flags = cpu_model_and_flags()
    cond: dict = {"dtype": dtype, "threads": threads, "cpu": model, "cpu_flags": flags,
                  "cores": os.cpu_count(), "python": platform.python_version(), "platform": sys.platform}
    try:
        import torch  # optional: the extraction benchmark runs without it
        cond["torch"] = torch.__version__
        if threads is None:
            cond["threads"] = torch.get_num_threads()
    except ImportError:
        cond["torch"] = None
    try:
        import numpy
        cond["numpy"] = numpy.__version__
    except ImportError:
        cond["numpy"] = None
    cond.update(extra)
    return cond


def format_conditions(cond: dict) -> str:
    """One readable line block: 'conditions: dtype fp32, 1 thread(s), torch 2.13.0, CPU ... (flags), N cores'."""
    parts = []
    if cond.get("dtype"):
        parts.append(f"dtype {cond['dtype']}")
    if cond.get("threads") is not None:
        parts.append(f"{cond['threads']} thread(s)")
    if cond.get("torch"):
        parts.append(f"torch {cond['torch']}")
    parts.append(f"python {cond.get('python')}")
    flags = ",".join(cond.get("cpu_flags") or []) or "none of the tracked flags"
    parts.append(f"CPU {cond.get('cpu')} ({cond.get('cores')} cores; {flags})")
    known = {"dtype", "threads", "torch", "python", "cpu", "cpu_flags", "cores", "numpy", "platform"}
    parts += [f"{k} {v}" for k, v in cond.items() if k not in known]
    return "conditions: " + "; ".join(parts)


if __name__ == "__main__":
    print(format_conditions(measure_conditions()))
