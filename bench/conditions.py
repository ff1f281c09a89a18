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
import subprocess
import sys
from pathlib import Path

from common.paths import REPO_ROOT

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


def code_checkout(script: str | None = None) -> dict:
    """Which checkout the project's packages were imported from (`root`), its commit (`commit`, "+changes" when
    tracked files differ from it; "unknown" without git), and `mismatch`: a note when the running script lives in
    another checkout. That happens when a second checkout (a git worktree of an older commit, say) runs its
    scripts with the first one's virtual environment: the editable install maps every package to the first
    checkout, so the "old" run measures the new code. Running with PYTHONPATH set to the second checkout's root
    imports its own packages."""
    def git(*args: str) -> str:
        try:
            res = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return res.stdout.strip() if res.returncode == 0 else ""
    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    if commit != "unknown" and git("status", "--porcelain", "--untracked-files=no"):
        commit += "+changes"
    out = {"root": str(REPO_ROOT), "commit": commit, "mismatch": None}
    script = script if script is not None else sys.argv[0]
    if script.endswith(".py"):
        home = Path(script).resolve().parent.parent
        if home != REPO_ROOT and (home / "common" / "paths.py").is_file():
            out["mismatch"] = (f"this script is from {home} but the packages it imports are from {REPO_ROOT}; "
                               f"run it with PYTHONPATH={home} to measure that checkout's code")
    return out


def measure_conditions(dtype: str | None = None, threads: int | None = None, **extra) -> dict:
    """Dtype, threads, torch/numpy/python versions, CPU model and flags, cores, the code measured (see
    code_checkout); `extra` is stored as given."""
    model, flags = cpu_model_and_flags()
    cond: dict = {"dtype": dtype, "threads": threads, "cpu": model, "cpu_flags": flags,
                  "cores": os.cpu_count(), "python": platform.python_version(), "platform": sys.platform,
                  "code": code_checkout()}
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
    code = cond.get("code") or {}
    if code:
        parts.append(f"code {code.get('root')} @ {code.get('commit')}")
    known = {"dtype", "threads", "torch", "python", "cpu", "cpu_flags", "cores", "numpy", "platform", "code"}
    parts += [f"{k} {v}" for k, v in cond.items() if k not in known]
    line = "conditions: " + "; ".join(parts)
    return line + (f"\nWARNING: {code['mismatch']}" if code.get("mismatch") else "")


if __name__ == "__main__":
    print(format_conditions(measure_conditions()))
