"""Training checkpoints: one safetensors file each, tensors in its body and everything else as JSON in its header.

Layout of a checkpoint file (format `miniature-memory/checkpoint`, version 1):
- tensors `model/<state_dict key>`: the weights (a tied matrix is stored once; `state["aliases"]` maps the
  other names to it);
- tensors `optim/<parameter name>/{exp_avg,exp_avg_sq,step}`: AdamW state keyed by parameter NAME, so a model
  whose vocabulary grew can take the old state back (new rows start at zero);
- tensors `rng/{torch,batch,cuda}`: uint8 generator states, one row per DDP rank ([world_size, n]);
- header metadata `state`: one JSON document with step, tokens seen, schedule position, best loss, config,
  model config, tokenizer, data fingerprint, Python and numpy RNG states, grad-scaler state.

Writes are atomic: a hidden temp file in the same folder, fsync, rename; `best` is a hard link to the `last` file
it was at the time (files are only ever replaced, never changed in place, so the link stays valid).
Loading never unpickles. A file is taken as safetensors by its structure alone (an 8-byte little-endian header
length, a JSON header of that length that parses, tensor offsets that fit the file), never by guessing from its
first bytes: a valid header length may well start with 0x80, pickle's first byte. Anything else (a torch.save zip
or pickle, a truncated file, a tampered header) is refused with a one-line UserError before any other parser
sees it. A write that fails (disk full) is a one-line UserError too, and leaves the previous file as it was.
"""

from __future__ import annotations

import errno
import json
import math
import os
import struct
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from common.config import UserError
from common.fsio import atomic_write_via, fsync_dir

CKPT_FORMAT = "miniature-memory/checkpoint"
CKPT_VERSION = 1
LAST, BEST = "last.safetensors", "best.safetensors"
MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors' own limit
ADAM_KEYS = ("exp_avg", "exp_avg_sq")
# Bytes per element of the safetensors dtypes (a header entry's byte range must match dtype x shape).
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8,
               "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


@dataclass
class Checkpoint:
    """A loaded checkpoint: name -> tensor (CPU, memory-mapped) and the JSON state."""

    path: Path
    tensors: dict[str, torch.Tensor]
    state: dict


def _unique_tensors(prefix: str, sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors of a state dict with shared storage stored once: (tensors, {alias name: stored name})."""
    out, aliases, seen = {}, {}, {}
    for name, t in sd.items():
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.dtype) if t.numel() else None
        if key is not None and key in seen:
            aliases[name] = seen[key]
            continue
        if key is not None:
            seen[key] = name
        out[f"{prefix}{name}"] = t.detach().to("cpu").contiguous()
    return out, aliases


def optimizer_tensors(optimizer: torch.optim.Optimizer, named_params: dict[str, torch.nn.Parameter]) -> dict:
    """AdamW state as `optim/<name>/<key>` tensors (parameters without state yet are left out)."""
    out = {}
    for name, p in named_params.items():
        st = optimizer.state.get(p)
        if not st:
            continue
        for key in ADAM_KEYS:
            out[f"optim/{name}/{key}"] = st[key].detach().to("cpu").contiguous()
        out[f"optim/{name}/step"] = torch.as_tensor(st["step"], dtype=torch.float32).detach().to("cpu").reshape(1)
    return out


def save_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    named_params: dict[str, torch.nn.Parameter], rng: dict[str, torch.Tensor], state: dict) -> None:
    """Write model, optimizer, RNG tensors and the JSON state to `path` atomically."""
    path = Path(path)
    tensors, aliases = _unique_tensors("model/", model.state_dict())
    tensors.update(optimizer_tensors(optimizer, named_params))
    tensors.update({f"rng/{k}": v.detach().to("cpu").contiguous() for k, v in rng.items()})
    meta = {"format": CKPT_FORMAT, "version": CKPT_VERSION, **state, "aliases": aliases}
    header = {"state": json.dumps(meta, sort_keys=True, ensure_ascii=False)}
    try:
        atomic_write_via(path, lambda tmp: save_file(tensors, str(tmp), metadata=header))
    except (OSError, SafetensorError) as e:  # disk full, quota, read-only folder: safetensors wraps the OSError
        raise UserError(f"cannot write checkpoint {path} ({_write_reason(e)}); the previous checkpoint there, if "
                        f"any, is unchanged: re-run once the folder can take it (free space?) to continue") from None


def _write_reason(e: Exception) -> str:
    """A short reason for a failed write: the OS's words for an OSError, else the library's message."""
    if isinstance(e, OSError) and e.errno is not None:
        return e.strerror or errno.errorcode.get(e.errno, str(e.errno))
    return _one_line(e)


def link_best(last: Path, best: Path) -> None:
    """Make `best` the same file as `last` (hard link, atomically replaced; a copy where links are refused)."""
    tmp = best.with_name(f".{best.name}.link.tmp")
    try:
        tmp.unlink(missing_ok=True)
        try:
            os.link(last, tmp)
        except OSError:
            import shutil
            shutil.copyfile(last, tmp)
        os.replace(tmp, best)
    except OSError as e:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise UserError(f"cannot update {best} ({_write_reason(e)}); {last} is written and the previous best is "
                        f"unchanged: re-run once the folder can take it (free space?) to continue") from None
    fsync_dir(best.parent)


def _header_of(raw: bytes, data_size: int) -> dict | None:
    """The parsed safetensors header `raw`, or None when it is not one: a JSON object whose tensor entries have a
    dtype, a shape of non-negative ints and data offsets [begin, end] inside the `data_size` bytes that follow
    (and as many bytes as dtype x shape need, for the dtypes this code knows)."""
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # ValueError: bad JSON or an absurdly long integer
        return None
    if not isinstance(header, dict):
        return None
    meta = header.get("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        return None
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict):
            return None
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if not isinstance(dtype, str) or not isinstance(shape, list) or not isinstance(offsets, list):
            return None
        if not all(type(d) is int and d >= 0 for d in shape):
            return None
        if len(offsets) != 2 or not all(type(o) is int for o in offsets):
            return None
        begin, end = offsets
        if not 0 <= begin <= end <= data_size:
            return None
        if dtype in DTYPE_BYTES and math.prod(shape) * DTYPE_BYTES[dtype] != end - begin:
            return None
    return header


def read_header(path: Path) -> dict:
    """The safetensors header of `path` (name -> {dtype, shape, data_offsets}, and `__metadata__`), decided by the
    file's structure alone: an 8-byte little-endian header length, a JSON header of that length that parses, and
    tensor offsets that fit the file. Anything else is refused with a one-line UserError before any other parser
    sees it; a torch.save zip or pickle is named as such (it is never unpickled)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            n = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
            # Only a header length the file can hold is read: a hostile length never becomes an allocation.
            raw = f.read(n) if 2 <= n <= min(MAX_HEADER_BYTES, size - 8) else None
    except OSError as e:
        raise UserError(f"cannot read checkpoint {path}: {e.strerror}") from None
    header = _header_of(raw, size - 8 - n) if raw is not None else None
    if header is not None:
        return header
    if head[:4] == b"PK\x03\x04":
        raise UserError(f"{path} is a torch.save (zip) file, not a safetensors checkpoint: refused (loading it "
                        f"would unpickle, which can run arbitrary code)")
    # pickle: the PROTO opcode, protocol 2..5, then an opcode (never a zero byte, which a header length has there)
    if len(head) >= 3 and head[0] == 0x80 and 2 <= head[1] <= 5 and head[2] != 0:
        raise UserError(f"{path} is a pickle (legacy torch.save) file, not a safetensors checkpoint: refused "
                        f"(unpickling can run arbitrary code)")
    why = f"only {size} bytes" if size < 8 else "its header does not parse or does not fit the file"
    raise UserError(f"{path} is not a safetensors checkpoint ({why}): refused")


def _one_line(e: Exception) -> str:
    """An exception as one line of text (library messages may span several)."""
    return f"{type(e).__name__}: {' '.join(str(e).split())}"


def read_state(path: Path) -> dict:
    """Only the JSON state of a checkpoint (no tensors read)."""
    path = Path(path)
    meta = read_header(path).get("__metadata__", {})
    try:
        state = json.loads(meta["state"])
    except (KeyError, ValueError, RecursionError) as e:
        raise UserError(f"{path} is damaged or not a miniature-memory checkpoint ({_one_line(e)})") from None
    if not isinstance(state, dict) or state.get("format") != CKPT_FORMAT:
        raise UserError(f"{path} is not a miniature-memory checkpoint")
    if state.get("version") != CKPT_VERSION:
        raise UserError(f"{path} has checkpoint version {state.get('version')!r}; this code reads {CKPT_VERSION}")
    return state


def model_tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """{name without `model/`: shape} of the stored model tensors, from the header alone (no tensor read)."""
    header = read_header(path)
    return {k[len("model/"):]: tuple(v["shape"]) for k, v in header.items() if k.startswith("model/")}


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint (tensors memory-mapped on the CPU); UserError when it is not a safetensors checkpoint."""
    path = Path(path)
    state = read_state(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:
        raise UserError(f"{path} is damaged ({_one_line(e)}): not loaded") from None
    return Checkpoint(path, tensors, state)


def iter_model_tensors(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    """(name without `model/`, tensor) for each stored model tensor, one at a time, each an independent copy: the
    file is mapped only while one tensor is read (a mapping keeps every page read through it resident until it
    is closed), so a caller that converts tensors as they come (quantise, cast, transpose) holds at most one of
    them beyond its result. Call `read_state` first: it checks the container. Tied aliases are not repeated."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            keys = [k for k in f.keys() if k.startswith("model/")]
        for key in keys:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                t = f.get_tensor(key).clone()
            yield key[len("model/"):], t
    except Exception as e:
        raise UserError(f"{path} is damaged ({_one_line(e)}): not loaded") from None


def model_state_dict(ckpt: Checkpoint) -> dict[str, torch.Tensor]:
    """The model's state dict, tied aliases filled back in."""
    sd = {k[len("model/"):]: v for k, v in ckpt.tensors.items() if k.startswith("model/")}
    for alias, stored in ckpt.state.get("aliases", {}).items():
        sd[alias] = sd[stored]
    return sd


def restore_optimizer(optimizer: torch.optim.Optimizer, named_params: dict[str, torch.nn.Parameter],
                      ckpt: Checkpoint) -> int:
    """Put the saved AdamW state back by parameter name; rows a grown parameter has beyond the saved ones start at
    zero (a new embedding row has seen no gradient). Returns the number of parameters restored."""
    restored = 0
    for name, p in named_params.items():
        key = f"optim/{name}/"
        if f"{key}exp_avg" not in ckpt.tensors:
            continue
        group = next(g for g in optimizer.param_groups if any(q is p for q in g["params"]))
        st = {}
        step = ckpt.tensors.get(key + "step")
        if step is None or step.numel() != 1 or any(key + k not in ckpt.tensors for k in ADAM_KEYS):
            raise UserError(f"checkpoint {ckpt.path}: incomplete optimizer state for '{name}' (damaged)")
        for k in ADAM_KEYS:
            saved = ckpt.tensors[key + k]
            if saved.shape != p.shape:
                if saved.dim() != p.dim() or saved.shape[1:] != p.shape[1:] or saved.shape[0] > p.shape[0]:
                    raise UserError(f"checkpoint {ckpt.path}: optimizer state of '{name}' has shape "
                                    f"{tuple(saved.shape)}, the model {tuple(p.shape)}")
                grown = torch.zeros(p.shape, dtype=saved.dtype)
                grown[: saved.shape[0]] = saved
                saved = grown
            st[k] = saved.to(device=p.device, dtype=p.dtype, copy=True)
        step = step.reshape(()).to(torch.float32).clone()
        if group.get("fused") or group.get("capturable"):
            step = step.to(p.device)
        st["step"] = step
        optimizer.state[p] = st
        restored += 1
    return restored


def checkpoint_rng(ckpt: Checkpoint, name: str, rank: int) -> torch.Tensor | None:
    """Rank `rank`'s saved state of generator `name` (torch, batch, cuda), or None when not saved for it."""
    t = ckpt.tensors.get(f"rng/{name}")
    if t is None or t.dim() != 2 or rank >= t.shape[0]:
        return None
    return t[rank].clone()
