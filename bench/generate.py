"""Generation speed, memory and the val-loss cost of each weight format, side by side in one run.

1. Speed and memory use the `small` preset's shape (6 x 384, 6 heads, block 256, ~10.7M parameters) with RANDOMLY
   INITIALISED weights (residual projections not zeroed, so every layer computes): speed and memory do not depend
   on what the weights learned. The reference is a nanoGPT-style `sample.py` loop written here: no KV cache, the
   context cropped to block_size and re-run in full for every token. Ours is `scripts/generate.py`, each dtype in a
   fresh subprocess (so peak RSS is its own): tokens/s overall, ms per token at tokens 500 and 5,000 (mean of the
   100 tokens ending there), peak RSS for the whole run.
2. The val-loss change per dtype uses a tiny model (4 x 128, block 128) trained here for `--train-seconds` on
   `../shared/data/tinyshakespeare.txt` (first 90% train, last 10% val), saved as a real checkpoint and loaded by
   `generation.inference.load_model` in each dtype: mean cross-entropy over fixed val windows.

Numbers are noisy when other processes share the 2 cores (compare within one run). Every row states its thread
count. Ours runs at `--threads` (default 1, as generate.py: decoding one token at a time measured ~2x faster on 1
thread than on 2). The no-cache reference runs a full forward per token, which uses more cores well, so it runs at
each of `--ref-threads` (default: 1 and every core) and every ratio is against its BEST thread count. The
conditions (dtype, threads, torch, CPU model and flags) are printed first and stored with `--json`.

Measured (AMD EPYC with AVX-512 BF16, torch 2.13, 2 cores shared with other jobs): the reference (float32) 9.4
tokens/s on 1 thread, 16.5 on 2 (its best); ours on 1 thread: fp32 175 (10.6x), int8 323 (19.6x), bf16 173
(10.5x), fp16 83 (5.0x); peak RSS 286 / 258 / 274 / 264 MB; val-loss change int8 -0.0001, bf16 and fp16 0.0000.

**Usage:**
    python bench/generate.py                       # 5,000 tokens per dtype, 1 thread, 60 s of training
    python bench/generate.py --threads 2 --tokens 2000 --train-seconds 30
    python bench/generate.py --ref-threads 1,2 --json /tmp/generate.json
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


def ours(ckpt: Path, dtype: str, tokens: int, threads: int, out: Path) -> dict:
    stats = out / f"stats_{dtype}.json"
    cmd = [sys.executable, str(REPO_ROOT / "scripts" / "generate.py"), "--checkpoint", str(ckpt), "--dtype", dtype,
           "--max-new-tokens", str(tokens), "--no-stop-at-eot", "--threads", str(threads), "--stats-json", str(stats)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(stats.read_text())


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
    ap.add_argument("--threads", type=int, default=1, help="torch threads (generate.py's default: 1)")
    ap.add_argument("--reference-tokens", type=int, default=40, help="tokens timed for the no-cache reference")
    ap.add_argument("--ref-threads", default="1,all", help="thread counts the reference runs at ('all': every "
                                                            "core); ratios are against its best")
    ap.add_argument("--train-seconds", type=float, default=60.0)
    ap.add_argument("--dtypes", default=",".join(DTYPES))
    ap.add_argument("--json", metavar="FILE", help="also write the conditions and every row as JSON here")
    args = ap.parse_args(argv)
    dtypes = args.dtypes.split(",")
    cond = measure_conditions(dtype="per row (reference float32)", threads=args.threads,
                              reference_threads=thread_counts(args.ref_threads),
                              load_avg_1m_at_start=round(os.getloadavg()[0], 2))
    print(format_conditions(cond))
    report: dict = {"conditions": cond, "reference": [], "ours": [], "val_loss": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        tok = CharTokenizer("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,;:!?'\"-\n0123456789")
        torch.manual_seed(0)
        small = GPT(ModelConfig(vocab_size=tok.vocab_size, block_size=256, n_layer=6, n_head=6, n_embd=384,
                                zero_init_proj=False)).eval()
        ckpt = write_checkpoint(out / "small" / "last.safetensors", small, tok)
        print(f"small preset shape, random weights: {small.num_params():,} params")
        for n in thread_counts(args.ref_threads):
            report["reference"].append({"dtype": "fp32", "threads": n,
                                        "tokens_per_s": reference_tokens_per_s(small, args.reference_tokens, n)})
        torch.set_num_threads(args.threads)
        del small
        ref = max(r["tokens_per_s"] for r in report["reference"])
        best = max(report["reference"], key=lambda r: r["tokens_per_s"])["threads"]
        print(f"ratios are against the reference at its best thread count ({best})")
        print(f"{'':28}{'threads':>8}{'tokens/s':>10}{'vs ref':>8}{'ms@500':>9}{'ms@5000':>9}{'5000/500':>10}"
              f"{'peak RSS MB':>13}")
        for r in report["reference"]:
            r["x_best_reference"] = r["tokens_per_s"] / ref
            print(f"{'reference fp32 (no cache)':28}{r['threads']:>8}{r['tokens_per_s']:>10.1f}"
                  f"{r['x_best_reference']:>8.2f}")
        for dt in dtypes:
            s = ours(ckpt, dt, args.tokens, args.threads, out)
            ms = s["per_token_ms"]
            a, b = ms.get("500"), ms.get("5000")
            ratio = f"{b / a:.2f}" if a and b else "-"
            report["ours"].append({"dtype": dt, "threads": args.threads, "tokens_per_s": s["tokens_per_s"],
                                   "x_best_reference": s["tokens_per_s"] / ref, "ms_at_500": a, "ms_at_5000": b,
                                   "peak_rss_mb": s["peak_rss_mb"]})
            print(f"{'ours ' + dt + ' (KV cache)':28}{args.threads:>8}{s['tokens_per_s']:>10.1f}"
                  f"{s['tokens_per_s'] / ref:>8.1f}{a if a else '-':>9}{b if b else '-':>9}{ratio:>10}"
                  f"{s['peak_rss_mb']:>13.0f}")
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
