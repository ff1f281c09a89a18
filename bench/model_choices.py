"""Measure the model's architecture options on the CPU: val loss per wall-clock second, tokens/s, peak RSS.

Data: `../shared/data/tinyshakespeare.txt`, character level, first 90% train, last 10% val. Every variant trains
in its own process (so peak RSS is its own) for the same wall-clock budget with AdamW (lr 1e-3 warmup 10 steps then
cosine to 1e-4 over the *time* budget, betas 0.9/0.99, weight decay 0.1 on matrices, clip 1.0, batch 12,
block 64 -- nanoGPT's CPU recipe), then evaluates val loss on 40 fixed batches of 32 x block (not timed).

Modes (all print tables, nothing is asserted):
    python bench/model_choices.py choices [--seconds 60]   # layout variants at nanoGPT's CPU-recipe shape
    python bench/model_choices.py speed                    # tokens/s at that shape: GPT-2 layout vs default
    python bench/model_choices.py tiny [--seconds 69]      # candidate `tiny` preset shapes, val loss in 69 s
    python bench/model_choices.py memory                   # estimate_memory_mb vs measured peak RSS delta
Numbers are noisy when other processes share the 2 cores: compare within one run. Under contention, 2 torch
threads collapse (OpenMP barriers wait for descheduled threads: 165 vs 3,200 tokens/s measured side by side), so
use `--threads 1`, and `--steps` to compare quality at equal steps next to `speed` for steps per second.

Measured (2-core AMD EPYC shared with other jobs, 1 thread, 250 steps of batch 12 x 64, lr 1e-3, seed 1337):
    variant                      params  val loss     | speed (best of interleaved windows, 1 thread)
    gpt2 (nanoGPT layout)       809,856    2.4379     |   gpt2 layout              11,878 tok/s  1.00x
    gpt2 + rope                 801,664    2.2116     |   default layout           11,051 tok/s  0.93x
    gpt2 + swiglu               827,008    2.4265     |   rmsnorm + swiglu modern  10,214 tok/s  0.86x
    gpt2 + relu2                809,856    2.4223     |   default + gelu           10,917 tok/s  0.92x
    gpt2 + qk_norm              810,112    2.4104
    gpt2 + zero_init            809,856    2.4349
    modern rmsnorm swiglu       812,416    2.1235     (modern = rope, qk_norm, zero-init, no bias, tied)
    modern layernorm swiglu     812,416    2.1416
    modern layernorm relu2      796,032    2.0951     <- default
    modern layernorm gelu       796,032    2.1638
    modern rmsnorm relu2        796,032    2.0909
    modern ln untied            820,736    2.0872
    modern ln relu2 untied      804,352    2.0929
    modern ln light early FFN   793,984    2.1370     (ffn widths 256/320/384/400, swiglu)
Rotary positions are the big win (-0.23); ReLU^2 is the best MLP and cheaper than SwiGLU; RMSNorm and untied
heads are within noise of LayerNorm and tied, and LayerNorm's fused kernel is faster on CPU; QK-norm and zero-init
are small gains. The default layout costs ~7% per step (rotary + QK-norm) for ~0.34 lower loss at equal steps.

`tiny` (default layout, 69 s wall, 1 thread on the shared CPU, lr warmup 10 steps + cosine over the time budget):
    4x128 T64 B12 lr 2e-3   796k params   879 steps   9.8k tok/s  val 1.842
    4x128 T64 B12 lr 3e-3   796k params   879 steps   9.8k tok/s  val 1.848
    4x128 T64 B32 lr 2e-3   796k params   297 steps   8.8k tok/s  val 1.925
    4x96  T64 B12 lr 3e-3   450k params  1425 steps  15.9k tok/s  val 1.768   <- recommended `tiny`

`memory` (activation estimate vs measured peak-RSS delta of one fwd+bwd+step, 1 thread):
    4x128 T64 B12  default 42.6 est / 41.2 MB meas (1.03x)   gpt2 30.6 / 32.1 (0.95x)
    6x256 T256 B16 default 651 / 697 MB (0.93x)              gpt2 459 / 461 (1.00x)
    8x384 T256 B32 default 2550 / 2570 MB (0.99x)            gpt2 1782 / 1826 (0.98x)
"""

import sys

import argparse
import json
import math
import resource
import subprocess
import time

import torch

from bench.conditions import format_conditions, measure_conditions
from common.paths import SHARED_DATA_DIR
from model.gpt import GPT, ModelConfig, estimate_memory_mb

SHAPE = dict(n_layer=4, n_head=4, n_embd=128, block_size=64)  # nanoGPT's CPU recipe
GPT2 = dict(norm="layernorm", pos="learned", mlp="gelu", bias=True, qk_norm=False, zero_init_proj=False)
MODERN = dict(norm="rmsnorm", pos="rope", mlp="swiglu", bias=False, qk_norm=True, zero_init_proj=True)
CHOICES = {  # name -> layout overrides on top of SHAPE
    "gpt2 (nanoGPT layout)": GPT2,
    "gpt2 + rope": {**GPT2, "pos": "rope"},
    "gpt2 + swiglu": {**GPT2, "mlp": "swiglu"},
    "gpt2 + relu2": {**GPT2, "mlp": "relu2"},
    "gpt2 + qk_norm": {**GPT2, "qk_norm": True},
    "gpt2 + zero_init": {**GPT2, "zero_init_proj": True},
    "modern rmsnorm swiglu": MODERN,
    "modern layernorm swiglu": {**MODERN, "norm": "layernorm"},
    "modern layernorm relu2": {**MODERN, "norm": "layernorm", "mlp": "relu2"},
    "modern layernorm gelu": {**MODERN, "norm": "layernorm", "mlp": "gelu"},
    "modern ln untied": {**MODERN, "norm": "layernorm", "tie_embeddings": False},
    "modern ln relu2 untied": {**MODERN, "norm": "layernorm", "mlp": "relu2", "tie_embeddings": False},
    "modern rmsnorm relu2": {**MODERN, "mlp": "relu2"},
    "modern ln light early FFN": {**MODERN, "norm": "layernorm", "ffn_widths": [256, 320, 384, 400]},
}


def load_data(block: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    text = (SHARED_DATA_DIR / "tinyshakespeare.txt").read_text(encoding="utf-8")
    chars = sorted(set(text))
    lut = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([lut[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    return data[:n], data[n:], len(chars)


def batch(data: torch.Tensor, B: int, T: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    ix = torch.randint(len(data) - T - 1, (B,), generator=gen)
    x = torch.stack([data[i:i + T] for i in ix.tolist()])
    y = torch.stack([data[i + 1:i + T + 1] for i in ix.tolist()])
    return x, y


def make_optimizer(model: GPT, lr: float) -> torch.optim.AdamW:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.99), fused=True)


def train_one(spec: dict) -> dict:
    """Train one config for spec['seconds'] of wall time; returns figures (runs inside the child process)."""
    torch.set_num_threads(spec.get("threads", 2))
    torch.set_flush_denormal(True)  # denormal floats make CPU math up to 10x slower (tiny Adam states)
    torch.manual_seed(1337)
    B, T = spec["batch"], spec["shape"]["block_size"]
    train, val, vocab = load_data(T)
    cfg = ModelConfig(vocab_size=vocab, **spec["shape"], **spec["layout"])
    model = GPT(cfg)
    lr, min_lr, warmup = spec.get("lr", 1e-3), spec.get("lr", 1e-3) / 10, 10
    opt = make_optimizer(model, lr)
    gen = torch.Generator().manual_seed(1)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    steps, start, budget, max_steps = 0, time.perf_counter(), spec.get("seconds"), spec.get("steps")
    while True:
        elapsed = time.perf_counter() - start
        if (max_steps and steps >= max_steps) or (not max_steps and elapsed >= budget):
            break
        frac = steps / max_steps if max_steps else elapsed / budget
        if steps < warmup:
            cur = lr * (steps + 1) / warmup
        else:
            cur = min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * frac))
        for g in opt.param_groups:
            g["lr"] = cur
        x, y = batch(train, B, T, gen)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        steps += 1
    wall = time.perf_counter() - start
    model.eval()
    egen, losses = torch.Generator().manual_seed(2), []
    with torch.no_grad():
        for _ in range(40):
            x, y = batch(val, 32, T, egen)
            losses.append(model(x, y)[1].item())
    return {"params": model.num_params(), "steps": steps, "tokens_per_s": steps * B * T / wall,
            "val_loss": sum(losses) / len(losses), "train_loss_last": loss.item(),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_before_mb": rss0}


def speed_interleaved(layouts: dict, batch_size: int, seconds: float, threads: int) -> dict:
    """tokens/s of forward+backward+AdamW (fused) step at SHAPE for each layout: the layouts take turns in short
    windows and each keeps its best window, so a neighbour's load on a shared CPU hits them alike."""
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    runs = {}
    for name, layout in layouts.items():
        torch.manual_seed(0)
        model = GPT(ModelConfig(vocab_size=65, **SHAPE, **layout))
        runs[name] = (model, make_optimizer(model, 1e-3))
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 65, (batch_size, SHAPE["block_size"]), generator=gen)
    y = torch.randint(0, 65, (batch_size, SHAPE["block_size"]), generator=gen)

    def step(model, opt):
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    best = dict.fromkeys(runs, 0.0)
    rounds = max(1, int(seconds / (0.8 * len(runs))))
    for _ in range(rounds):
        for name, (model, opt) in runs.items():
            for _ in range(2):
                step(model, opt)
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < 0.6:
                step(model, opt)
                n += 1
            best[name] = max(best[name], n * batch_size * SHAPE["block_size"] / (time.perf_counter() - start))
    return {name: (best[name], runs[name][0].num_params()) for name in runs}


def memory_one(spec: dict) -> dict:
    """Measured peak RSS delta of one training step vs estimate_memory_mb (activations and total)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=65, **spec["shape"], **spec["layout"])
    B, T = spec["batch"], cfg.block_size
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model = GPT(cfg)
    opt = make_optimizer(model, 1e-3)
    tiny = torch.zeros(1, 1, dtype=torch.long)  # allocates grads and optimizer state with ~no activations
    model(tiny, tiny)[1].backward()
    opt.step()
    opt.zero_grad(set_to_none=False)
    mid = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    x = torch.randint(0, 65, (B, T))
    model(x, x)[1].backward()
    opt.step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    est = estimate_memory_mb(cfg, B)
    return {"measured_act_mb": peak - mid, "est_act_mb": est["activations"],
            "measured_total_mb": peak - base, "est_total_mb": est["total"]}


def child(kind: str, spec: dict) -> dict:
    """Run one measurement in a fresh interpreter (own peak RSS, no allocator leftovers)."""
    out = subprocess.run([sys.executable, __file__, "_child", kind, json.dumps(spec)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=["choices", "speed", "tiny", "memory", "_child"])
    p.add_argument("rest", nargs="*")
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--steps", type=int, default=None, help="fixed step budget instead of wall time (contended CPU)")
    p.add_argument("--threads", type=int, default=2, help="torch threads per run (use 1 when the CPU is shared)")
    p.add_argument("--only", default=None, help="comma-separated substrings of variant names to run")
    a = p.parse_args(argv)
    if a.mode == "_child":
        fn = {"train": train_one, "memory": memory_one}[a.rest[0]]
        print(json.dumps(fn(json.loads(a.rest[1]))))
        return 0
    # every variant trains in float32 (no autocast here); the memory mode measures on 1 thread
    print(format_conditions(measure_conditions(dtype="float32", threads=1 if a.mode == "memory" else a.threads)))
    if a.mode == "choices":
        secs = a.seconds or 60
        print(f"{'variant':26} {'params':>8} {'steps':>6} {'tok/s':>8} {'val loss':>9} {'peak RSS MB':>11}")
        for name, layout in CHOICES.items():
            if a.only and not any(s in name for s in a.only.split(",")):
                continue
            r = child("train", {"shape": SHAPE, "layout": layout, "batch": 12, "seconds": secs, "steps": a.steps,
                                "threads": a.threads})
            print(f"{name:26} {r['params']:8,} {r['steps']:6} {r['tokens_per_s']:8,.0f} {r['val_loss']:9.4f} "
                  f"{r['peak_rss_mb']:11.0f}", flush=True)
    elif a.mode == "speed":
        layouts = {"gpt2 layout": GPT2, "default layout": {}, "modern rmsnorm swiglu": MODERN,
                   "default + relu2": {"mlp": "relu2"}, "default + gelu": {"mlp": "gelu"}}
        res = speed_interleaved(layouts, 12, a.seconds or 40, a.threads)
        base = res["gpt2 layout"][0]
        for name, (tps, params) in res.items():
            print(f"{name:24} threads={a.threads} params={params:,} best tokens/s={tps:8,.0f} ({tps / base:.2f}x gpt2)")
    elif a.mode == "tiny":
        secs = a.seconds or 69
        for name, shape, B, lr in TINY_CANDIDATES:
            if a.only and not any(s in name for s in a.only.split(",")):
                continue
            r = child("train", {"shape": shape, "layout": {}, "batch": B, "seconds": secs, "lr": lr,
                                "steps": a.steps, "threads": a.threads})
            print(f"{name:28} B={B:3} lr={lr:g} params={r['params']:,} steps={r['steps']} "
                  f"tok/s={r['tokens_per_s']:,.0f} val={r['val_loss']:.4f} rss={r['peak_rss_mb']:.0f}MB", flush=True)
    else:
        print(f"{'shape':34} {'act meas':>9} {'act est':>8} {'err':>6} {'tot meas':>9} {'tot est':>8}")
        for name, shape, B in MEMORY_SHAPES:
            for lname, layout in (("default", {}), ("gpt2", GPT2)):
                r = child("memory", {"shape": shape, "layout": layout, "batch": B})
                err = r["est_act_mb"] / max(r["measured_act_mb"], 1e-9)
                print(f"{name + ' ' + lname:34} {r['measured_act_mb']:9.1f} {r['est_act_mb']:8.1f} {err:6.2f}x "
                      f"{r['measured_total_mb']:9.1f} {r['est_total_mb']:8.1f}", flush=True)
    return 0


TINY_CANDIDATES = [  # (name, shape, batch, lr)
    ("4x128 T64", dict(n_layer=4, n_head=4, n_embd=128, block_size=64), 12, 2e-3),
    ("4x128 T64 lr3e-3", dict(n_layer=4, n_head=4, n_embd=128, block_size=64), 12, 3e-3),
    ("4x96 T64 B12", dict(n_layer=4, n_head=4, n_embd=96, block_size=64), 12, 3e-3),
    ("4x128 T64 B32", dict(n_layer=4, n_head=4, n_embd=128, block_size=64), 32, 2e-3),
    ("4x128 T128 B16", dict(n_layer=4, n_head=4, n_embd=128, block_size=128), 16, 2e-3),
    ("3x128 T64 B24", dict(n_layer=3, n_head=4, n_embd=128, block_size=64), 24, 2e-3),
    ("4x96 T64 B24", dict(n_layer=4, n_head=4, n_embd=96, block_size=64), 24, 3e-3),
    ("6x128 T64 B16", dict(n_layer=6, n_head=4, n_embd=128, block_size=64), 16, 2e-3),
]
MEMORY_SHAPES = [  # (name, shape, batch)
    ("4x128 T64 B12", dict(n_layer=4, n_head=4, n_embd=128, block_size=64), 12),
    ("6x256 T256 B16", dict(n_layer=6, n_head=8, n_embd=256, block_size=256), 16),
    ("8x384 T256 B32", dict(n_layer=8, n_head=6, n_embd=384, block_size=256), 32),
]

if __name__ == "__main__":
    sys.exit(main())
