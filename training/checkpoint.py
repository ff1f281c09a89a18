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
Loading never unpickles: safetensors stores raw arrays and a JSON header, and a file that does not look like one
(a torch.save zip or pickle, a tampered header) is refused with a UserError before any parsing.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from common.config import UserError
from common.fsio import atomic_write_via, fsync_dir

CKPT_FORMAT = "miniature-memory/checkpoint"
CKPT_VERSION = 1
LAST, BEST = "last.safetensors", "best.safetensors"
MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors' own limit
ADAM_KEYS = ("exp_avg", "exp_avg_sq")


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
    atomic_write_via(path, lambda tmp: save_file(tensors, str(tmp), metadata=header))


def link_best(last: Path, best: Path) -> None:
    """Make `best` the same file as `last` (hard link, atomically replaced; a copy where links are refused)."""
    tmp = best.with_name(f".{best.name}.link.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(last, tmp)
    except OSError:
        import shutil
        shutil.copyfile(last, tmp)
    os.replace(tmp, best)
    fsync_dir(best.parent)


def _check_container(path: Path) -> None:
    """Refuse anything that is not a safetensors file, before any parser sees it."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
        size = path.stat().st_size
    except OSError as e:
        raise UserError(f"cannot read checkpoint {path}: {e.strerror}") from None
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":
        raise UserError(f"{path} is a torch.save/pickle file, not a safetensors checkpoint: refused "
                        f"(loading a pickle can run arbitrary code); delete it or use another --out-dir")
    if len(head) < 9:
        raise UserError(f"{path} is not a safetensors checkpoint (only {size} bytes); delete it to start over")
    (n,) = struct.unpack("<Q", head[:8])
    if n > MAX_HEADER_BYTES or 8 + n > size or head[8:9] != b"{":
        raise UserError(f"{path} is not a safetensors checkpoint (bad header); refused")


def read_state(path: Path) -> dict:
    """Only the JSON state of a checkpoint (no tensors read)."""
    path = Path(path)
    _check_container(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        state = json.loads(meta["state"])
    except Exception as e:  # safetensors raises its own error types; any of them means "not ours / damaged"
        raise UserError(f"{path} is damaged or not a miniature-memory checkpoint ({type(e).__name__}: {e})") \
            from None
    if not isinstance(state, dict) or state.get("format") != CKPT_FORMAT:
        raise UserError(f"{path} is not a miniature-memory checkpoint")
    if state.get("version") != CKPT_VERSION:
        raise UserError(f"{path} has checkpoint version {state.get('version')!r}; this code reads {CKPT_VERSION}")
    return state


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint (tensors memory-mapped on the CPU); UserError when it is not a safetensors checkpoint."""
    path = Path(path)
    state = read_state(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:
        raise UserError(f"{path} is damaged ({type(e).__name__}: {e}); delete it to start over") from None
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
        raise UserError(f"{path} is damaged ({type(e).__name__}: {e}); delete it to start over") from None


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
        for k in ADAM_KEYS:
            saved = ckpt.tensors[key + k]
            if saved.shape != p.shape:
                if saved.shape[1:] != p.shape[1:] or saved.shape[0] > p.shape[0]:
                    raise UserError(f"checkpoint {ckpt.path}: optimizer state of '{name}' has shape "
                                    f"{tuple(saved.shape)}, the model {tuple(p.shape)}")
                grown = torch.zeros(p.shape, dtype=saved.dtype)
                grown[: saved.shape[0]] = saved
                saved = grown
            st[k] = saved.to(device=p.device, dtype=p.dtype, copy=True)
        step = ckpt.tensors[key + "step"].reshape(()).to(torch.float32).clone()
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
