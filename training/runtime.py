"""The machine a run lives on: CPU threads, the device and its autocast dtype, backend switches, the DDP job
(torchrun), and memory (the process's RSS, the pre-flight memory guard, glibc's mmap threshold).

Nothing here knows the model or the loop, so each piece is testable on its own.
"""

from __future__ import annotations

import logging
import os
import resource
import sys
from dataclasses import dataclass

import torch

from common.config import UserError
from model.cpu import cpu_has_native_bf16

log = logging.getLogger("miniature_memory.train")
FALLBACK_RAM_MB = 2048        # when /proc/meminfo is unreadable: the 2 GB machine this project targets
RAM_SHARE = 0.85              # default max_ram_mb: this share of MemAvailable
DEFAULT_BASELINE_MB = 200     # Python + torch + numpy resident before the model, where it cannot be measured
# Measured peak RSS / model.estimate_memory_mb total on the CPU presets (tiny, small, max-safe; 20 steps each):
# 1.1-1.4 beyond the measured process baseline (backward temporaries, allocator fragmentation, thread pools).
PEAK_FACTOR = 1.4
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


# ----------------------------------------------------------------------------------------------- devices, DDP
@dataclass
class Dist:
    """Where this process sits in a (possibly one-process) data-parallel job."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    initialized_here: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def pick_device(pref: str, dist: Dist) -> torch.device:
    """The torch device for `pref` ('auto', 'cpu', 'cuda', 'cuda:N'); one GPU per local rank under torchrun."""
    if pref == "auto":
        pref = "cuda" if torch.cuda.is_available() else "cpu"
    if pref.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"device '{pref}' asked for, but this torch build sees no CUDA GPU; use device: cpu")
        if pref == "cuda":
            pref = f"cuda:{dist.local_rank}" if dist.world > 1 else "cuda"
    elif pref != "cpu" and pref != "mps":
        raise UserError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', not {pref!r}")
    return torch.device(pref)


def autocast_dtype(pref: str, device: torch.device) -> torch.dtype:
    """The compute dtype: bf16 on CUDA cards that have it, fp16 on older ones; on the CPU bf16 where the cores
    multiply bf16 natively (AVX512-BF16 or AMX: matmuls ~2x faster, measured 1.4-1.6x per training step at
    nanoGPT's CPU-recipe shape with equal loss per step), else float32 (emulated bf16 would be slower)."""
    if pref == "auto":
        if device.type == "cpu":
            return torch.bfloat16 if cpu_has_native_bf16() else torch.float32
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if pref not in DTYPES:
        raise UserError(f"dtype must be 'auto' or one of {', '.join(DTYPES)}, not {pref!r}")
    return DTYPES[pref]


def torchrun_world_size() -> int:
    """The number of processes of the torchrun job this one belongs to (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def setup_distributed(device_pref: str) -> Dist:
    """Join the torchrun job described by RANK/WORLD_SIZE/LOCAL_RANK (NCCL on CUDA, gloo on CPU), if any."""
    world = torchrun_world_size()
    if world <= 1:
        return Dist()
    import torch.distributed as tdist
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_pref != "cpu" and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local)
    here = False
    if not tdist.is_initialized():
        tdist.init_process_group(backend="nccl" if use_cuda else "gloo", rank=rank, world_size=world)
        here = True
    return Dist(rank, world, local, here)


def exit_process(code: int) -> None:
    """End the process with `code`. In a torchrun job, skip the interpreter's teardown: DDP keeps the gloo group
    alive past destroy_process_group (its worker threads stay; torch 2.13), and tearing those down while the
    interpreter finalizes aborts about one run in a hundred ("terminate called without an active exception",
    exit -6) after everything was written. Callers have written and closed their files by now."""
    if torchrun_world_size() <= 1:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def configure_backends(device: torch.device) -> None:
    """TF32 matmuls and convolutions on CUDA (free speed on Ampere and later, no effect elsewhere). On the CPU,
    denormal floats are flushed to zero: zero-initialised projections and small AdamW moments produce them, and
    each one costs ~100 cycles in elementwise kernels (measured 4x slower relu^2/mul ops at the tiny preset)."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    torch.set_flush_denormal(True)  # CPU-side math (the whole model on a CPU); a no-op where unsupported


def default_threads() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# ----------------------------------------------------------------------------------------------- memory
def current_rss_mb() -> float:
    """Resident memory of this process now (MB), from /proc/self/statm; the default baseline elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float(DEFAULT_BASELINE_MB)


def set_malloc_mmap_threshold(mb: float) -> bool:
    """glibc only: blocks above `mb` MB get their own mmap, returned to the OS when freed. glibc's default threshold
    grows to 32 MB after the first frees, so freed activation tensors stay in a fragmenting heap; a fixed 1 MB
    threshold measured ~25% lower peak RSS on the small preset, but ~50% more CPU time per step (every large
    tensor is a fresh, zeroed mapping): a trade for RAM-starved machines, off by default. True when set."""
    if mb <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-3, int(mb * 2**20)))  # -3 = M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False  # not glibc (musl, ...): nothing to tune


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB): VmHWM on Linux, which starts afresh at exec; ru_maxrss,
    the fallback elsewhere, keeps across exec the peak of the process that spawned this one (a test runner's)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def available_ram_mb() -> float | None:
    """MemAvailable from /proc/meminfo (MB), or None where there is none."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None


def default_max_ram_mb() -> int:
    """85% of the available RAM, or 2,048 MB when it cannot be read."""
    avail = available_ram_mb()
    return int(avail * RAM_SHARE) if avail else FALLBACK_RAM_MB


def check_memory(estimate: dict, baseline_mb: float, limit_mb: int, explicit: bool) -> float:
    """Estimated peak RSS (MB): the process baseline plus PEAK_FACTOR x the model's estimate; a UserError naming
    the setting to lower when it exceeds `limit_mb`."""
    total = baseline_mb + PEAK_FACTOR * estimate["total"]
    if total <= limit_mb:
        return total
    if estimate["activations"] >= estimate["weights"] + estimate["grads"] + estimate["optimizer"]:
        advice = "lower batch_size (raise grad_accum to keep the tokens per step), block_size, or set grad_checkpoint"
    else:
        advice = "lower n_embd or n_layer (the weights and AdamW state dominate)"
    parts = ", ".join(f"{k} {estimate[k]:,.0f}" for k in ("weights", "grads", "optimizer", "activations"))
    source = "max_ram_mb" if explicit else "max_ram_mb (default: 85% of the available RAM)"
    raise UserError(f"estimated peak memory {total:,.0f} MB exceeds {source}={limit_mb:,} MB (process "
                    f"{baseline_mb:,.0f} + {PEAK_FACTOR:g} x ({parts})): {advice}")


