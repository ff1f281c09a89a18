"""Small pieces of the training loop that need no model: schedule, memory, devices, DDP, RNG states, metrics, plot.

Pure functions where possible, so each is testable without running a training step.
"""

from __future__ import annotations

import io
import logging
import math
import os
import random
import resource
import sys
from dataclasses import dataclass

import numpy as np
import torch

from common.config import UserError
from common.fsio import append_jsonl, atomic_write_bytes, read_jsonl, write_jsonl

log = logging.getLogger("miniature_memory.train")
FALLBACK_RAM_MB = 2048        # when /proc/meminfo is unreadable: the 2 GB machine this project targets
RAM_SHARE = 0.85              # default max_ram_mb: this share of MemAvailable
DEFAULT_BASELINE_MB = 200     # Python + torch + numpy resident before the model, where it cannot be measured
# Measured peak RSS / model.estimate_memory_mb total on the CPU presets (tiny, small, max-safe; 20 steps each):
# 1.1-1.4 beyond the measured process baseline (backward temporaries, allocator fragmentation, thread pools).
PEAK_FACTOR = 1.4
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


# ----------------------------------------------------------------------------------------------- schedule
def lr_at(step: int, lr: float, min_lr: float, warmup: int, decay_iters: int) -> float:
    """Learning rate of optimizer step `step` (0-based): linear warmup, cosine decay to min_lr, then flat."""
    if step < warmup:
        return lr * (step + 1) / (warmup + 1)
    if step >= decay_iters:
        return min_lr
    ratio = (step - warmup) / max(1, decay_iters - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


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


def cpu_has_native_bf16() -> bool:
    """True when this CPU has bf16 dot-product instructions (AVX512-BF16 or AMX tiles) that torch can use."""
    cpu = getattr(torch, "cpu", None)
    try:
        return bool(cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported())
    except AttributeError:  # older torch without these probes: keep float32
        return False


def setup_distributed(device_pref: str) -> Dist:
    """Join the torchrun job described by RANK/WORLD_SIZE/LOCAL_RANK (NCCL on CUDA, gloo on CPU), if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
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


# ----------------------------------------------------------------------------------------------- RNG states
def python_numpy_rng() -> dict:
    """Python's and numpy's global RNG states as JSON-able values."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": [version, list(internal), gauss],
            "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]}


def set_python_numpy_rng(saved: dict) -> None:
    """Inverse of `python_numpy_rng`."""
    version, internal, gauss = saved["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = saved["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))


def seed_all(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and Python's random."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------------------------- tokenizer
def check_tokenizer_growth(old: dict, new: dict) -> int:
    """Number of new ids when `new` extends `old` (same specials, old characters first, in order); UserError when
    ids would move."""
    if old == new:
        return 0
    if old.get("type") != new.get("type") or old.get("specials") != new.get("specials"):
        raise UserError(f"the dataset's tokenizer ({new.get('type')}) is not the checkpoint's ({old.get('type')}, "
                        f"different specials): train with --init scratch or a new --out-dir")
    old_chars, new_chars = old.get("chars"), new.get("chars")
    if not isinstance(old_chars, list) or not isinstance(new_chars, list) or len(new_chars) < len(old_chars):
        raise UserError("the dataset's tokenizer has fewer ids than the checkpoint's: the data was prepared "
                        "anew with other ids; train with --init scratch or a new --out-dir")
    for i, (a, b) in enumerate(zip(old_chars, new_chars)):
        if a != b:
            raise UserError(f"the dataset's tokenizer renumbered characters (id {i + len(new.get('specials', []))} "
                            f"was {a!r}, is now {b!r}): train with --init scratch or a new --out-dir")
    return len(new_chars) - len(old_chars)


# ----------------------------------------------------------------------------------------------- metrics, plot
def trim_metrics(path, last_step: int) -> int:
    """Drop records after `last_step` (written by a run killed before its next checkpoint); returns how many."""
    recs = list(read_jsonl(path))
    keep = [r for r in recs if isinstance(r.get("step"), int) and r["step"] <= last_step]
    if len(keep) != len(recs):
        write_jsonl(path, keep)
    return len(recs) - len(keep)


def append_metrics(path, record: dict) -> None:
    """Append one metrics record; a failed write (disk full) is a one-line UserError (a torn line it may leave is
    cut off by the next append, and records past the last checkpoint are trimmed on resume)."""
    try:
        append_jsonl(path, [record])
    except OSError as e:
        raise UserError(f"cannot append to {path} ({e.strerror or e}): training stopped; the last checkpoint is "
                        f"kept, re-run once the folder can take it (free space?) to continue") from None


def plot_losses(metrics_path, png_path) -> bool:
    """Draw train/val loss against step from metrics.jsonl into a PNG (Agg backend, no pyplot state)."""
    recs = [r for r in read_jsonl(metrics_path) if isinstance(r.get("step"), int)]
    if not recs:
        return False
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for key, label in (("train_loss", "train"), ("val_loss", "val")):
        pts = [(r["step"], r[key]) for r in recs if isinstance(r.get(key), (int, float))]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="." if len(pts) < 40 else None, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    last = recs[-1]
    ax.set_title(f"step {last['step']:,}, {last.get('tokens_seen', 0):,} tokens")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    try:
        atomic_write_bytes(png_path, buf.getvalue())
    except OSError as e:  # only a picture: training goes on (a checkpoint write would stop it, in one line)
        log.warning(f"train: cannot write {png_path} ({e.strerror or e}); the loss curve is not updated")
        return False
    return True
