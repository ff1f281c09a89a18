"""Near-duplicate detection at scale: signing speed, LSH memory and time, datasketch MinHashLSH vs our banding.

Generates N short synthetic documents (seeded random words over a 5,000-word vocabulary, ~100 words each);
every 20th document is a copy of an earlier one with one word changed (similarity ~0.9). For num_perm 64 and 128
it reports signing speed (docs/s), then for each index (datasketch MinHashLSH, our numpy SignatureIndex) the time
to query and insert every document in arrival order as the filter does (candidates verified against the full
signature in both), the resident-memory growth while building it (RSS MB; for ours also the exact size of its
sorted arrays), how many planted near-duplicates were found, and for ours the time to rebuild the index from its
signature file. Each index is built in its own subprocess so memory figures are not mixed.

Signatures are computed once per num_perm in the parent and handed to each child as a .npy file.

**Usage:**
    .venv/bin/python bench/near_dup_bench.py                 # 100,000 documents
    .venv/bin/python bench/near_dup_bench.py --docs 20000
"""

import sys
from pathlib import Path

import argparse
import gc
import json
import random
import subprocess
import tempfile
import time

import numpy as np

from bench.conditions import format_conditions, measure_conditions
from corpus.near_dup import Signer, SignatureIndex, normalise

THRESHOLD = 0.8
DUP_EVERY = 20


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def make_docs(n: int, seed: int = 7) -> list[str]:
    """Seeded synthetic documents; every DUP_EVERY-th one is an earlier one with one word replaced."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(5000)]
    docs: list[str] = []
    for i in range(n):
        if i and i % DUP_EVERY == 0:
            words = docs[rng.randrange(i)].split()
            words[rng.randrange(len(words))] = rng.choice(vocab)
            docs.append(" ".join(words))
        else:
            docs.append(" ".join(rng.choice(vocab) for _ in range(rng.randint(80, 120))))
    return docs


def sign_all(docs: list[str], num_perm: int) -> tuple[np.ndarray, float]:
    signer = Signer(num_perm)
    t0 = time.perf_counter()
    sigs = np.stack([signer.sign(normalise(d)) for d in docs])
    return sigs, time.perf_counter() - t0


def run_ours(sigs: np.ndarray) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        base = rss_mb()
        idx = SignatureIndex(Path(tmp) / "sig.bin", sigs.shape[1], THRESHOLD)
        idx.open(0)
        found = 0
        t0 = time.perf_counter()
        for sig in sigs:
            if idx.query(sig):
                found += 1
            else:
                idx.add(sig)
        elapsed = time.perf_counter() - t0
        grow = rss_mb() - base
        arrays = idx.memory_bytes() / 1e6
        t1 = time.perf_counter()
        idx.close()
        again = SignatureIndex(Path(tmp) / "sig.bin", sigs.shape[1], THRESHOLD)
        rows = again.open(idx.n)
        reload_s = time.perf_counter() - t1
        again.close()
    return {"seconds": elapsed, "mem_mb": grow, "arrays_mb": arrays, "found": found, "reload_s": reload_s,
            "rows": rows, "bands": f"{idx.bands}x{idx.rows_per_band}"}


def run_datasketch(sigs: np.ndarray) -> dict:
    from datasketch import MinHash, MinHashLSH
    from corpus.near_dup import similarity
    num_perm = sigs.shape[1]
    gc.collect()
    base = rss_mb()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=num_perm)
    found = 0
    t0 = time.perf_counter()
    for i, sig in enumerate(sigs):
        m = MinHash(num_perm, hashvalues=sig, scheme="affine32")
        if any(similarity(sig, sigs[j]) >= THRESHOLD for j in lsh.query(m)):  # verified, as ours
            found += 1
        else:
            lsh.insert(i, m)
    elapsed = time.perf_counter() - t0
    return {"seconds": elapsed, "mem_mb": rss_mb() - base, "found": found, "bands": f"{lsh.b}x{lsh.r}"}


def child(args) -> dict:
    """Build one index over signatures saved by the parent (fresh process: clean memory figures)."""
    sigs = np.load(args.sigs)
    out = run_ours(sigs) if args.index == "ours" else run_datasketch(sigs)
    out.update(index=args.index, num_perm=sigs.shape[1])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--index", choices=["ours", "datasketch"], help=argparse.SUPPRESS)
    parser.add_argument("--sigs", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.index:
        print(json.dumps(child(args)))
        return 0
    print(format_conditions(measure_conditions(threads=1, note="single-threaded Python and numpy")))
    print(f"near-duplicate search over {args.docs:,} synthetic docs (~100 words; 1 in {DUP_EVERY} a planted "
          f"near-duplicate), threshold {THRESHOLD}")
    docs = make_docs(args.docs)
    planted = (args.docs - 1) // DUP_EVERY
    print(f"{'index':<11} {'perm':>4} {'bands':>6} {'sign doc/s':>10} {'query+add s':>11} {'RSS MB':>7} "
          f"{'arrays MB':>9} {'found/planted':>14} {'reload s':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for num_perm in (64, 128):
            sigs, sign_s = sign_all(docs, num_perm)
            path = Path(tmp) / f"sigs{num_perm}.npy"
            np.save(path, sigs)
            for index in ("ours", "datasketch"):
                cmd = [sys.executable, __file__, "--index", index, "--sigs", str(path)]
                res = subprocess.run(cmd, capture_output=True, text=True)
                if res.returncode:
                    print(f"{index} {num_perm}: failed: {res.stderr.strip()[-300:]}")
                    continue
                r = json.loads(res.stdout.strip().splitlines()[-1])
                reload = f"{r['reload_s']:.2f}" if "reload_s" in r else "-"
                arrays = f"{r['arrays_mb']:.1f}" if "arrays_mb" in r else "-"
                print(f"{r['index']:<11} {r['num_perm']:>4} {r['bands']:>6} {len(docs) / sign_s:>10,.0f} "
                      f"{r['seconds']:>11.1f} {r['mem_mb']:>7.1f} {arrays:>9} {r['found']:>7,}/{planted:<6,} "
                      f"{reload:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
