"""Generation speed against the memory-bandwidth limit of the machine, batched sampling, memory, and the val-loss
cost of each weight format, side by side in one run.

1. Two shapes with RANDOMLY INITIALISED weights (residual projections not zeroed, so every layer computes; speed
   and memory do not depend on what the weights learned): the `small` preset (6 x 384, 6 heads, block 256, a
   65-character vocabulary, ~10.7M parameters) and llama2.c's `stories15M` shape (dim 288, 6 layers, 6 heads,
   block 256, vocabulary 32,000; our default layout, whose ReLU^2 MLP of width 1,152 has as many weights as
   llama2.c's SwiGLU of width 768), built through `model.gpt.GPT`.
2. The limit: decoding a token reads every weight once, so tokens/s <= bandwidth / weight bytes per token
   (bench/bandwidth.py: the best streaming rate of several kernels at 1 thread and every core, measured at the
   start of this run, over 256 MB). Each dtype's tokens/s is printed as a fraction of its own limit, and again
   as a fraction of the limit at the rate a buffer the size of its weights streams here (`GB/s@size`,
   `limit@size`, `of it`): weights that stay in the cache between tokens stream at the cache's speed, which on
   some machines is well above memory's (on the 2-core VM of ROADMAP section 10: ~66 GB/s for 43 MB against
   ~31 GB/s over 256 MB), so there the first fraction flatters and the second is the honest one.
3. Ours is `scripts/generate.py`, each dtype in a fresh subprocess (so peak RSS is its own), at its automatic
   thread count (`--threads 0`: it times a few steps at 1 thread and at every core and keeps the faster; the row
   says which): tokens/s overall, ms per token at tokens 500 and 5,000 (mean of the 100 tokens ending there),
   peak RSS. The reference is a nanoGPT-style `sample.py` loop written here (no KV cache: the context cropped to
   block_size and re-run in full for every token) at each of `--ref-threads`; ratios are against its best.
4. Batched sampling: `--num-samples N --batch N` decodes N samples of one prompt together; tokens/s against
   N x the single-sample rate measured the same way in the same run.
5. The val-loss change per dtype uses a tiny model (4 x 128, block 128) trained here for `--train-seconds` on
   `../shared/data/tinyshakespeare.txt` (first 90% train, last 10% val), loaded by
   `generation.inference.load_model` in each dtype: mean cross-entropy over fixed val windows.

Numbers are noisy when other processes share the cores (compare within one run; the load average at the start
is stored). The conditions (torch, CPU model and flags, bandwidth) are printed first and stored with `--json`.

**Usage:**
    python bench/generate.py                       # 5,000 tokens per dtype and shape, 60 s of training
    python bench/generate.py --tokens 2000 --train-seconds 30 --shapes small
    python bench/generate.py --json /tmp/generate.json
"""

import sys
from pathlib import Path

import argparse
import json
import math
import os
import subprocess
import tempfile
import time

import torch

from bench.bandwidth import stream_bandwidth, weight_bytes_per_token
from bench.conditions import format_conditions, measure_conditions
from common.paths import REPO_ROOT, SHARED_DATA_DIR
from generation.val_loss import val_loss
from model.checkpoint import save_checkpoint
from generation.inference import load_model
from model.gpt import GPT, ModelConfig
from model.tokenizer import CharTokenizer

DTYPES = ("fp32", "int8", "bf16", "fp16")
VAL_TOKENS = 64 * 128  # val tokens scored per dtype: 64 consecutive windows of the tiny model's block


def write_checkpoint(path: Path, model: GPT, tok: CharTokenizer) -> Path:
    state = {"step": 0, "model_config": model.cfg.to_dict(), "tokenizer": tok.to_dict(), "config": {}}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, model, torch.optim.AdamW(model.parameters()), dict(model.named_parameters()), {}, state)
    return path


def reference_tokens_per_s(model: GPT, n_tokens: int, threads: int) -> float:
    """nanoGPT's sample.py loop on `threads` torch threads: crop to block_size, full forward, sample from the last
    position."""
    torch.set_num_threads(threads)
    bs, g = model.cfg.block_size, torch.Generator().manual_seed(0)
    idx = torch.randint(16, model.cfg.vocab_size, (1, bs), generator=g)  # context already full (steady state)
    with torch.no_grad():
        model(idx[:, -bs:])  # warm-up at this thread count (thread pool, allocator), not timed
        start = time.perf_counter()
        for _ in range(n_tokens):
            logits, _ = model(idx[:, -bs:])
            probs = torch.softmax(logits[:, -1, :] / 0.8, dim=-1)
            idx = torch.cat((idx, torch.multinomial(probs, 1, generator=g)), dim=1)
        return n_tokens / (time.perf_counter() - start)


def ours(ckpt: Path, dtype: str, tokens: int, threads: int, out: Path, samples: int = 1,
         kv_cache: str = "auto") -> dict:
    """scripts/generate.py in a fresh process: its stats JSON (tokens/s, per-token ms, peak RSS, threads, products,
    KV cache dtype)."""
    stats = out / f"stats_{dtype}_{samples}.json"
    cmd = [sys.executable, str(REPO_ROOT / "scripts" / "generate.py"), "--checkpoint", str(ckpt), "--dtype", dtype,
           "--max-new-tokens", str(tokens), "--no-stop-at-eot", "--threads", str(threads), "--stats-json", str(stats),
           "--num-samples", str(samples), "--batch", str(samples), "--kv-cache", kv_cache]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(stats.read_text())


def shape_config(name: str) -> tuple[ModelConfig, CharTokenizer]:
    """The model config of a benchmark shape and a character tokenizer for its checkpoint (the stories15M shape
    keeps its 32,000-wide head: sampling works on every logit, the ids past the tokenizer's are masked)."""
    tok = CharTokenizer("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,;:!?'\"-\n0123456789")
    if name == "small":
        return ModelConfig(vocab_size=tok.vocab_size, block_size=256, n_layer=6, n_head=6, n_embd=384,
                           zero_init_proj=False), tok
    return ModelConfig(vocab_size=32000, block_size=256, n_layer=6, n_head=6, n_embd=288, zero_init_proj=False), tok


def bench_shape(name: str, args, dtypes: list[str], bandwidth: float, out: Path) -> dict:
    """Every figure of one shape: the reference, each dtype against its limit, batched sampling."""
    cfg, tok = shape_config(name)
    torch.manual_seed(0)
    model = GPT(cfg).eval()
    ckpt = write_checkpoint(out / name / "last.safetensors", model, tok)
    print(f"\n== {name}: {cfg.n_layer} x {cfg.n_embd}, {cfg.n_head} heads, block {cfg.block_size}, vocabulary "
          f"{cfg.vocab_size:,}, {model.num_params():,} parameters (random weights)")
    rep: dict = {"params": model.num_params(), "reference": [], "ours": [], "batched": []}
    for n in thread_counts(args.ref_threads):
        rep["reference"].append({"dtype": "fp32", "threads": n,
                                 "tokens_per_s": reference_tokens_per_s(model, args.reference_tokens, n)})
    del model
    ref = max(r["tokens_per_s"] for r in rep["reference"])
    for r in rep["reference"]:
        r["x_best_reference"] = r["tokens_per_s"] / ref
        print(f"reference fp32 (no cache, {r['threads']} thread(s)): {r['tokens_per_s']:.1f} tokens/s")
    print(f"{'dtype':6}{'threads':>8}{'products':>9}{'tokens/s':>10}{'MB/token':>10}{'limit':>8}{'of limit':>9}"
          f"{'GB/s@size':>10}{'limit@size':>11}{'of it':>7}"
          f"{'vs ref':>8}{'ms@500':>8}{'ms@5000':>9}{'5000/500':>9}{'peak RSS MB':>12}")
    for dt in dtypes:
        nbytes = weight_bytes_per_token(load_model(ckpt, dt).model)
        s = ours(ckpt, dt, args.tokens, 0, out)
        ms = s["per_token_ms"]
        a, b = ms.get("500"), ms.get("5000")
        limit = bandwidth * 1e9 / nbytes
        # where the weights stay in a cache between tokens, a buffer of their size is their real ceiling
        sized = stream_bandwidth(buffer_bytes=nbytes)["best"]
        sized_limit = sized * 1e9 / nbytes
        row = {"dtype": dt, "threads": s["threads"], "products": s["products"], "kv_cache": s["kv_cache"],
               "tokens_per_s": s["tokens_per_s"], "weight_mb_per_token": nbytes / 1e6,
               "limit_tokens_per_s": limit, "fraction_of_limit": s["tokens_per_s"] / limit,
               "weight_size_bandwidth_gb_s": sized, "limit_at_weight_size_tokens_per_s": sized_limit,
               "fraction_of_weight_size_limit": s["tokens_per_s"] / sized_limit,
               "x_best_reference": s["tokens_per_s"] / ref, "ms_at_500": a, "ms_at_5000": b,
               "peak_rss_mb": s["peak_rss_mb"]}
        rep["ours"].append(row)
        print(f"{dt:6}{row['threads']:>8}{row['products']:>9}{row['tokens_per_s']:>10.1f}{nbytes / 1e6:>10.1f}"
              f"{limit:>8.0f}{row['fraction_of_limit']:>9.0%}{sized:>10.1f}{sized_limit:>11.0f}"
              f"{row['fraction_of_weight_size_limit']:>7.0%}{row['x_best_reference']:>8.1f}{a or '-':>8}{b or '-':>9}"
              f"{f'{b / a:.2f}' if a and b else '-':>9}{row['peak_rss_mb']:>12.0f}")
    fp32 = next((r for r in rep["ours"] if r["dtype"] == "fp32"), None)
    int8 = next((r for r in rep["ours"] if r["dtype"] == "int8"), None)
    if fp32 and int8:
        rep["int8_x_fp32"] = int8["tokens_per_s"] / fp32["tokens_per_s"]
        print(f"int8 / fp32: {rep['int8_x_fp32']:.2f}x")
    for dt in args.batch_dtypes.split(","):
        if dt not in dtypes:
            continue
        # N x the best single-sample rate: one sample at generate's defaults (its KV cache setting too)
        single = ours(ckpt, dt, args.batch_tokens, 0, out)["tokens_per_s"]
        for kv in args.batch_kv_caches.split(","):
            line = (f"batched {dt}, --kv-cache {kv}, {args.batch_tokens} tokens each: "
                    f"1 sample {single:.0f} tokens/s")
            for n in [int(x) for x in args.batch_sizes.split(",")]:
                s = ours(ckpt, dt, args.batch_tokens, 0, out, samples=n, kv_cache=kv)
                share = s["tokens_per_s"] / (n * single)
                rep["batched"].append({"dtype": dt, "samples": n, "threads": s["threads"], "products": s["products"],
                                       "kv_cache_setting": kv, "kv_cache": s["kv_cache"],
                                       "tokens_per_s": s["tokens_per_s"], "single_tokens_per_s": single,
                                       "of_n_x_single": share, "peak_rss_mb": s["peak_rss_mb"]})
                line += (f"; {n}: {s['tokens_per_s']:.0f} ({share:.2f} of {n} x single, {s['threads']} thr., "
                         f"products in {s['products']}, cache {s['kv_cache']})")
            print(line)
    return rep


def train_tiny(text: str, seconds: float) -> tuple[GPT, CharTokenizer, torch.Tensor]:
    """A 4 x 128 char model trained for `seconds` (AdamW 2e-3, batch 16 x 128); returns it and the val ids."""
    tok = CharTokenizer(sorted(set(text)))
    ids = torch.from_numpy(tok.encode(text).astype("int64"))
    cut = int(len(ids) * 0.9)
    train, val = ids[:cut], ids[cut:]
    torch.manual_seed(1337)
    model = GPT(ModelConfig(vocab_size=tok.vocab_size, block_size=128, n_layer=4, n_head=4, n_embd=128))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, betas=(0.9, 0.99), weight_decay=0.1)
    g, end, steps = torch.Generator().manual_seed(0), time.monotonic() + seconds, 0
    while time.monotonic() < end:
        starts = torch.randint(0, len(train) - 129, (16,), generator=g)
        batch = torch.stack([train[s:s + 129] for s in starts])
        _, loss = model(batch[:, :-1], batch[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        steps += 1
    print(f"tiny model: {steps} steps in {seconds:.0f} s, last train loss {loss.item():.3f}")
    return model, tok, val


def thread_counts(text: str) -> list[int]:
    """'1,2' -> [1, 2]; 'all' stands for every core; duplicates once, in order."""
    out = []
    for part in text.split(","):
        try:
            n = (os.cpu_count() or 1) if part.strip() == "all" else int(part)
        except ValueError:
            n = 0
        if n < 1:
            raise SystemExit(f"bench/generate.py: --ref-threads takes thread counts >= 1 or 'all', not {part!r}")
        out += [] if n in out else [n]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=5000, help="tokens generated per dtype")
    ap.add_argument("--shapes", default="small,stories15M", help="which shapes (small, stories15M)")
    ap.add_argument("--batch-tokens", type=int, default=1000, help="tokens per sample in the batched rows")
    ap.add_argument("--batch-dtypes", default="fp32,int8", help="dtypes of the batched rows")
    ap.add_argument("--batch-sizes", default="2,4,8", help="samples decoded together in the batched rows")
    ap.add_argument("--batch-kv-caches", default="fp32,auto",
                    help="generate's --kv-cache settings the batched rows run under, side by side")
    ap.add_argument("--reference-tokens", type=int, default=40, help="tokens timed for the no-cache reference")
    ap.add_argument("--ref-threads", default="1,all", help="thread counts the reference runs at ('all': every "
                                                            "core); ratios are against its best")
    ap.add_argument("--train-seconds", type=float, default=60.0)
    ap.add_argument("--dtypes", default=",".join(DTYPES))
    ap.add_argument("--json", metavar="FILE", help="also write the conditions and every row as JSON here")
    args = ap.parse_args(argv)
    dtypes = args.dtypes.split(",")
    shapes = args.shapes.split(",")
    if any(x not in ("small", "stories15M") for x in shapes):
        raise SystemExit("bench/generate.py: --shapes takes small and/or stories15M")
    bandwidth = stream_bandwidth()
    cond = measure_conditions(dtype="per row (reference float32)", threads="per row (ours: automatic)",
                              reference_threads=thread_counts(args.ref_threads),
                              load_avg_1m_at_start=round(os.getloadavg()[0], 2),
                              bandwidth_gb_s=bandwidth["best"])
    print(format_conditions(cond))
    print("streaming bandwidth (GB/s): " + ", ".join(f"{k} {v}" for k, v in bandwidth.items()))
    report: dict = {"conditions": cond, "bandwidth": bandwidth, "shapes": {}, "val_loss": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for name in shapes:
            report["shapes"][name] = bench_shape(name, args, dtypes, bandwidth["best"], out)
        data = SHARED_DATA_DIR / "tinyshakespeare.txt"
        if not data.is_file():
            print(f"{data} missing: val-loss deltas skipped")
            write_report(args.json, report)
            return 0
        model, tok, val = train_tiny(data.read_text(encoding="utf-8"), args.train_seconds)
        tiny = write_checkpoint(out / "tiny" / "last.safetensors", model.eval(), tok)
        base = None
        print(f"{'dtype':8}{'val loss':>10}{'change':>10}")
        for dt in dtypes:
            loss = val_loss(load_model(tiny, dt).model, val.numpy(), 128, VAL_TOKENS, batch_size=16)[0]
            base = loss if base is None else base
            print(f"{dt:8}{loss:>10.4f}{loss - base:>+10.4f}")
            report["val_loss"].append({"dtype": dt, "val_loss": loss, "change": loss - base})
            assert math.isfinite(loss)
    write_report(args.json, report)
    return 0


def write_report(path: str | None, report: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    sys.exit(main())
