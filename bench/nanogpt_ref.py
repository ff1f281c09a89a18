"""A re-implementation, for measurement only, of what nanoGPT's `train.py` + `model.py` compute for its README CPU
recipe on shakespeare_char. Not nanoGPT's code (that cannot be committed here): every line is written for this
benchmark from a reading of nanoGPT, to reproduce its arithmetic and its per-step costs on a CPU:

    python train.py config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20 --log_interval=1
        --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 --max_iters=2000
        --lr_decay_iters=2000 --dropout=0.0

- Model: GPT-2 layout. LayerNorm (eps 1e-5, no bias since the config says bias=False), learned absolute positions,
  GELU MLP 4x wide, tied token embedding / output head, causal attention through SDPA (its "flash" path), init
  normal(0, 0.02) for linear and embedding weights, zero biases, and the residual projections (`c_proj`) drawn
  with std 0.02 / sqrt(2 * n_layer). With targets, the head runs on every position; without, on the last only.
- Optimizer: AdamW, weight decay 0.1 on every parameter with >= 2 dimensions (embeddings included), none on the
  others, betas (0.9, 0.99), torch's default (non-fused: foreach) implementation on the CPU.
- Schedule: linear warmup lr * (it + 1) / (warmup + 1) for 100 steps, cosine to min_lr 1e-4 at step 2000.
- Data: train.bin / val.bin are uint16 token files; every batch re-opens the np.memmap, draws `batch_size` random
  offsets with torch.randint, and stacks int64 copies of x and y windows (torch.from_numpy per row).
- Loop: evaluate (eval_iters random batches per split, model.eval()) every eval_interval=250 steps including step
  0 and step max_iters, and save a checkpoint (model + optimizer + iteration) when val loss improves (not at 0);
  the next batch is fetched right after the forward pass; clip grad norm 1.0; zero_grad(set_to_none=True); the
  loss is read with .item() and printed every iteration ("iter N: loss X, time Y ms, mfu Z%"), dt covering the
  whole loop iteration. Training runs for max_iters + 1 steps (iterations 0..max_iters), as nanoGPT's does.
  float16 GradScaler: nanoGPT creates one that is disabled without CUDA; on the CPU there is no autocast.
- Data preparation (nanoGPT's data/shakespeare_char/prepare.py): characters sorted, ids 0..64 in that order,
  first 90% of the characters train, last 10% val.

A `max_seconds` cap (not in nanoGPT) stops a run on a machine too slow to finish within the bench's time.
The child prints its progress lines like nanoGPT's and, last, one JSON line with its figures.

**Usage** (normally driven by bench/train.py):
    python bench/nanogpt_ref.py --data-dir /tmp/shakespeare_char --out-dir /tmp/ref-out [--threads 2]
"""

import sys
from pathlib import Path

import argparse
import json
import math
import re
import resource
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Recipe:
    """config/train_shakespeare_char.py with the README's CPU flags on top."""

    batch_size: int = 12
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = False
    learning_rate: float = 1e-3
    min_lr: float = 1e-4
    max_iters: int = 2000
    lr_decay_iters: int = 2000
    warmup_iters: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 250
    eval_iters: int = 20
    log_interval: int = 1
    gradient_accumulation_steps: int = 1
    always_save_checkpoint: bool = False
    seed: int = 1337


# The README's bigger shakespeare_char model (config/train_shakespeare_char.py unchanged): 10.7M parameters.
BIG = dict(batch_size=64, block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2, max_iters=5000,
           lr_decay_iters=5000)


# ----------------------------------------------------------------------------------------------- data
def prepare_char_data(text: str, out_dir: Path) -> dict:
    """Character-level train.bin / val.bin (uint16) of `text`: vocabulary = sorted distinct characters, first 90%
    train, last 10% val. Writes meta.json (vocab size and characters); returns it."""
    chars = sorted(set(text))
    lookup = np.zeros(max(map(ord, chars)) + 1, dtype=np.uint16)
    lookup[[ord(c) for c in chars]] = np.arange(len(chars), dtype=np.uint16)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    cut = int(len(codes) * 0.9)
    out_dir.mkdir(parents=True, exist_ok=True)
    lookup[codes[:cut]].tofile(out_dir / "train.bin")
    lookup[codes[cut:]].tofile(out_dir / "val.bin")
    meta = {"vocab_size": len(chars), "chars": "".join(chars), "train_tokens": cut, "val_tokens": len(codes) - cut}
    (out_dir / "meta.json").write_text(json.dumps(meta))
    return meta


# ----------------------------------------------------------------------------------------------- model
class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (nn.LayerNorm of older torch versions had no bias=False)."""

    def __init__(self, dim: int, bias: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class SelfAttention(nn.Module):
    def __init__(self, r: Recipe):
        super().__init__()
        self.c_attn = nn.Linear(r.n_embd, 3 * r.n_embd, bias=r.bias)
        self.c_proj = nn.Linear(r.n_embd, r.n_embd, bias=r.bias)
        self.resid_dropout = nn.Dropout(r.dropout)
        self.n_head, self.n_embd, self.dropout = r.n_head, r.n_embd, r.dropout

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # [B, H, T, D]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class FeedForward(nn.Module):
    def __init__(self, r: Recipe):
        super().__init__()
        self.c_fc = nn.Linear(r.n_embd, 4 * r.n_embd, bias=r.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * r.n_embd, r.n_embd, bias=r.bias)
        self.dropout = nn.Dropout(r.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, r: Recipe):
        super().__init__()
        self.ln_1, self.attn = LayerNorm(r.n_embd, r.bias), SelfAttention(r)
        self.ln_2, self.mlp = LayerNorm(r.n_embd, r.bias), FeedForward(r)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class RefGPT(nn.Module):
    def __init__(self, r: Recipe, vocab_size: int):
        super().__init__()
        self.recipe = r
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab_size, r.n_embd), wpe=nn.Embedding(r.block_size, r.n_embd),
            drop=nn.Dropout(r.dropout), h=nn.ModuleList(Block(r) for _ in range(r.n_layer)),
            ln_f=LayerNorm(r.n_embd, r.bias)))
        self.lm_head = nn.Linear(r.n_embd, vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # tied
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * r.n_layer))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        """Like nanoGPT's report: without the position embeddings (the tied matrix counts once)."""
        return sum(p.numel() for p in self.parameters()) - self.transformer.wpe.weight.numel()

    def forward(self, idx, targets=None):
        T = idx.shape[1]
        pos = torch.arange(0, T, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        if targets is None:
            return self.lm_head(x[:, [-1], :]), None
        logits = self.lm_head(x)
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)

    def optimizer(self) -> torch.optim.AdamW:
        r = self.recipe
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": r.weight_decay},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=r.learning_rate, betas=(r.beta1, r.beta2))  # fused only on CUDA

    def flops_per_iter(self, batch: int) -> float:
        """6N + attention flops per token x tokens (PaLM appendix B), for the mfu column of the log line."""
        r = self.recipe
        per_token = 6 * self.num_params() + 12 * r.n_layer * r.n_head * (r.n_embd // r.n_head) * r.block_size
        return per_token * r.block_size * batch


# ----------------------------------------------------------------------------------------------- training
def lr_at(r: Recipe, it: int) -> float:
    if it < r.warmup_iters:
        return r.learning_rate * (it + 1) / (r.warmup_iters + 1)
    if it > r.lr_decay_iters:
        return r.min_lr
    ratio = (it - r.warmup_iters) / (r.lr_decay_iters - r.warmup_iters)
    return r.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (r.learning_rate - r.min_lr)


def train(r: Recipe, data_dir: Path, out_dir: Path, max_seconds: float = 0.0, quiet: bool = False) -> dict:
    """Run the recipe; returns its figures (evaluations, per-iteration times, peak RSS)."""
    torch.manual_seed(r.seed)
    vocab = json.loads((data_dir / "meta.json").read_text())["vocab_size"]

    def get_batch(split: str):
        data = np.memmap(data_dir / f"{split}.bin", dtype=np.uint16, mode="r")  # re-opened for every batch
        ix = torch.randint(len(data) - r.block_size, (r.batch_size,))
        x = torch.stack([torch.from_numpy(data[i:i + r.block_size].astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy(data[i + 1:i + 1 + r.block_size].astype(np.int64)) for i in ix])
        return x, y

    model = RefGPT(r, vocab)
    optimizer = model.optimizer()

    @torch.no_grad()
    def estimate_loss() -> dict:
        model.eval()
        out = {}
        for split in ("train", "val"):
            losses = torch.zeros(r.eval_iters)
            for k in range(r.eval_iters):
                _, loss = model(*get_batch(split))
                losses[k] = loss.item()
            out[split] = float(losses.mean())
        model.train()
        return out

    out_dir.mkdir(parents=True, exist_ok=True)
    say = (lambda s: None) if quiet else (lambda s: print(s, flush=True))
    start = time.time()
    evals, iter_ms, eval_iters_at = [], [], set()
    best_val, it, running_mfu = 1e9, 0, -1.0
    x, y = get_batch("train")
    t0 = time.time()
    while True:
        lr = lr_at(r, it)
        for g in optimizer.param_groups:
            g["lr"] = lr
        if it % r.eval_interval == 0:
            losses = estimate_loss()
            evals.append({"step": it, "train_loss": losses["train"], "val_loss": losses["val"],
                          "elapsed_s": round(time.time() - start, 3)})
            eval_iters_at.add(it)
            say(f"step {it}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
            if losses["val"] < best_val or r.always_save_checkpoint:
                best_val = losses["val"]
                if it > 0:
                    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                "iter_num": it, "best_val_loss": best_val, "config": asdict(r)},
                               out_dir / "ckpt.pt")
        for _ in range(r.gradient_accumulation_steps):
            _, loss = model(x, y)
            loss = loss / r.gradient_accumulation_steps
            x, y = get_batch("train")
            loss.backward()
        if r.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), r.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        t1 = time.time()
        dt, t0 = t1 - t0, t1
        iter_ms.append(dt * 1000)
        if it % r.log_interval == 0:
            lossf = loss.item() * r.gradient_accumulation_steps
            if it >= 5:
                mfu = model.flops_per_iter(r.batch_size * r.gradient_accumulation_steps) / dt / 312e12
                running_mfu = mfu if running_mfu == -1.0 else 0.9 * running_mfu + 0.1 * mfu
            say(f"iter {it}: loss {lossf:.4f}, time {dt * 1000:.2f}ms, mfu {running_mfu * 100:.2f}%")
        it += 1
        if it > r.max_iters or (max_seconds and time.time() - start > max_seconds):
            break
    wall = time.time() - start
    return {"recipe": asdict(r), "params": model.num_params(), "steps": it, "wall_s": round(wall, 3),
            "evals": evals, "iter_ms": [round(v, 3) for v in iter_ms], "eval_iters_at": sorted(eval_iters_at),
            "capped": it <= r.max_iters,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def steady_tokens_per_s(iter_ms: list[float], eval_at: list[int], tokens_per_iter: int, skip: int = 5) -> float:
    """tokens/s over the iterations that ran no evaluation (and after the first `skip`: startup)."""
    evals = set(eval_at)
    times = [ms for i, ms in enumerate(iter_ms) if i >= skip and i not in evals]
    return tokens_per_iter * len(times) / (sum(times) / 1000) if times else 0.0


# ----------------------------------------------------------------------------------------------- the real nanoGPT
RECIPE_FLAGS = ["--device=cpu", "--compile=False", "--eval_iters=20", "--log_interval=1", "--block_size=64",
                "--batch_size=12", "--n_layer=4", "--n_head=4", "--n_embd=128", "--max_iters=2000",
                "--lr_decay_iters=2000", "--dropout=0.0"]
QUICK_FLAGS = ["--max_iters=30", "--lr_decay_iters=30", "--eval_interval=10", "--eval_iters=2"]
ITER_LINE = re.compile(r"^iter (\d+): loss ([-\d.naninf]+), time ([\d.]+)ms")
EVAL_LINE = re.compile(r"^step (\d+): train loss ([-\d.naninf]+), val loss ([-\d.naninf]+)")


def parse_log(lines: list[tuple[float, str]], tokens_per_iter: int) -> dict:
    """Figures from nanoGPT's log lines, each given with its arrival time (s): evaluations ("step N: train loss X,
    val loss Y") and steady tokens/s from the "iter N: loss X, time Y ms" lines, evaluation iterations excluded."""
    evals, iter_ms = [], {}
    for t, line in lines:
        if m := EVAL_LINE.match(line):
            evals.append({"step": int(m[1]), "train_loss": float(m[2]), "val_loss": float(m[3]), "elapsed_s": t})
        elif m := ITER_LINE.match(line):
            iter_ms[int(m[1])] = float(m[3])
    n = max(iter_ms) + 1 if iter_ms else 0
    times = [iter_ms.get(i, 0.0) for i in range(n)]
    return {"evals": evals, "steps": len(iter_ms),
            "tokens_per_s": steady_tokens_per_s(times, [e["step"] for e in evals], tokens_per_iter)}


def run_real_nanogpt(repo: Path, text: str, work: Path, threads: int, cap_s: float, quick: bool, runner) -> dict:
    """Run a real nanoGPT checkout's train.py with the README CPU recipe in a temporary copy (its shakespeare_char
    data made by its own prepare.py from `text`); `runner(cmd, timeout, cwd=, env=)` is bench/train.py's
    run_child. Returns parse_log's figures plus peak RSS and wall time."""
    import shutil
    if not (repo / "train.py").is_file() or not (repo / "data" / "shakespeare_char" / "prepare.py").is_file():
        raise SystemExit(f"{repo} does not look like a nanoGPT checkout (train.py, data/shakespeare_char/prepare.py)")
    copy = work / "nanoGPT"
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".git", "out*", "*.bin", "*.pkl", "*.pt"))
    (copy / "data" / "shakespeare_char" / "input.txt").write_text(text, encoding="utf-8")
    env = {"OMP_NUM_THREADS": str(threads)} if threads else {}
    prep = runner([sys.executable, "data/shakespeare_char/prepare.py"], 600, cwd=copy, env=env)
    if prep["rc"] != 0:
        raise RuntimeError("nanoGPT prepare.py failed:\n" + "\n".join(t for _, t in prep["lines"][-10:]))
    cmd = [sys.executable, "train.py", "config/train_shakespeare_char.py", *RECIPE_FLAGS,
           *(QUICK_FLAGS if quick else []), f"--out_dir={work / 'nanogpt_out'}"]
    r = runner(cmd, cap_s, cwd=copy, env=env)
    out = parse_log(r["lines"], 12 * 64)
    out.update(rc=r["rc"], wall_s=r["wall_s"], peak_rss_mb=r["peak_rss_mb"])
    if not out["steps"]:
        raise RuntimeError("nanoGPT train.py printed no iteration lines:\n" +
                           "\n".join(t for _, t in r["lines"][-10:]))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True, help="folder with train.bin, val.bin, meta.json")
    p.add_argument("--out-dir", required=True, help="where ckpt.pt goes")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default: all cores)")
    p.add_argument("--max-seconds", type=float, default=0.0, help="stop after this much wall time (0 = no cap)")
    p.add_argument("--big", action="store_true", help="nanoGPT's 10.7M shakespeare_char model instead")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override recipe fields")
    p.add_argument("--quiet", action="store_true", help="no per-iteration lines")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    over = dict(BIG) if a.big else {}
    types = {k: type(v) for k, v in asdict(Recipe()).items()}
    for kv in a.set:
        k, v = kv.split("=", 1)
        over[k] = types[k](v) if types[k] is not bool else v.lower() in ("1", "true", "yes")
    result = train(Recipe(**over), Path(a.data_dir), Path(a.out_dir), a.max_seconds, a.quiet)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
