"""Benchmark the offline data stages on generated corpora: MB/s per stage and peak RSS, at two sizes.

For each corpus size (default 10 MB and 200 MB of demo stories written straight into a fresh raw store) it
runs validate, filter, clean and prepare, each in its own process, and prints per stage: wall time, MB/s of
raw text, peak RSS, and the speed as a ratio to a reference pass that only reads and hashes the same files
(measured in the same run, so the ratio holds across machines). Filter and clean run twice, on two copies of the
validated dataset: with --workers 1 and with --workers N (default: all cores, at least 2). Their rows show the
stage process's peak RSS and its largest worker's (VmHWM, bench/stage_process.py), and a table puts the two
speeds side by side with their ratio and whether the two copies' outputs are byte-identical. The last table
compares peak RSS between the sizes: flat memory means the ratio stays near 1 while the corpus grows 20x.

**Reads:** nothing (generates its corpora).  **Writes:** `bench/out/<size>mb/` (git-ignored; `--keep` keeps it).
**Usage:**
    python bench/pipeline.py                     # 10 MB and 200 MB (about 15 minutes on 2 cores)
    python bench/pipeline.py --sizes 5 20        # quicker
    python bench/pipeline.py --sizes 5 --workers 4
"""

import sys
from pathlib import Path

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import time
from datetime import datetime, timedelta, timezone

from bench.conditions import format_conditions, measure_conditions
from common.parallel import cpu_count
from common.paths import REPO_ROOT, DatasetPaths
from common.rawstore import RawStore

STAGES = [("validate", "scripts/validate_raw.py"), ("filter", "scripts/filter_dataset.py"),
          ("clean", "scripts/clean_dataset.py"), ("prepare", "scripts/prepare_data.py")]
PARALLEL = ("filter", "clean")  # stages with a --workers setting: run with 1 and with N workers
# Runs one stage script in-process and reports its own peak RSS and its largest waited-for child's (its pool's
# workers are joined before it returns), both KiB on Linux.
# Each stage runs in a fresh process that reports its own peak RSS and its workers' (bench/stage_process.py).


def build_corpus(paths: DatasetPaths, megabytes: float, seed: int) -> tuple[int, int]:
    """Write demo stories into raw/bench/ until `megabytes` of text; returns (docs, bytes)."""
    from demo.stories import generate_corpus
    target, total, docs = megabytes * 1e6, 0, 0
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with RawStore(paths) as store:
        for story in generate_corpus(10**9, seed):
            # One second apart per 1000 docs: realistic arrival order, deterministic names.
            when = start + timedelta(seconds=docs // 1000)
            _, added = store.add(story.text, "bench", story.doc_id, title=story.title, method="bench", when=when)
            if added:
                docs += 1
                total += len(story.text.encode("utf-8"))
            if total >= target:
                break
    return docs, total


def reference_pass(paths: DatasetPaths) -> float:
    """Seconds to read and sha256 every raw file: the yardstick stage speeds are compared with."""
    start = time.monotonic()
    for p in sorted(paths.raw.rglob("*.txt")):
        hashlib.sha256(p.read_bytes()).hexdigest()
    return time.monotonic() - start


def run_stage(script: str, paths: DatasetPaths, extra: tuple[str, ...] = ()) -> dict:
    """Run a stage script in a fresh process; its wall time and peak RSS (its own and its largest worker's)."""
    res = subprocess.run([sys.executable, "-m", "bench.stage_process", str(REPO_ROOT / script),
                          "--dataset-dir", str(paths.root), *extra], capture_output=True, text=True)
    line = next((x for x in res.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"{script} failed:\n{res.stderr[-2000:]}")
    out = json.loads(line[6:])
    if out["rc"] not in (0, None):
        raise SystemExit(f"{script} exited {out['rc']}:\n{res.stderr[-2000:]}")
    out["summary"] = [x for x in res.stdout.splitlines() if not x.startswith("BENCH ")][-1:]
    return out


def copy_validated(src: DatasetPaths, root: Path) -> DatasetPaths:
    """A second dataset with the same raw files (hard links: stages only read raw/) and a copy of metadata/."""
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(src.raw, root / "raw", copy_function=os.link)
    shutil.copytree(src.metadata, root / "metadata")
    return DatasetPaths.at(root)


def outputs(paths: DatasetPaths) -> dict[str, str]:
    """The sha256 of every file under the dataset but raw/ (shared), by relative path (hashes, not bytes: this
    process stays small at 200 MB of text)."""
    return {str(p.relative_to(paths.root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(paths.root.rglob("*")) if p.is_file() and p.relative_to(paths.root).parts[0] != "raw"}


def bench_size(megabytes: float, out_root: Path, seed: int, workers: int) -> dict:
    """Build one corpus and time every stage on it; filter and clean with 1 and with `workers` workers."""
    root = out_root / f"{megabytes:g}mb"
    shutil.rmtree(root, ignore_errors=True)
    paths = DatasetPaths.at(root)
    paths.make_dirs()
    t = time.monotonic()
    docs, nbytes = build_corpus(paths, megabytes, seed)
    gen_s = time.monotonic() - t
    ref_s = reference_pass(paths)
    mb = nbytes / 1e6
    print(f"\n== {mb:.1f} MB, {docs:,} documents (generated in {gen_s:.1f} s; "
          f"reference read+hash {mb / ref_s:.0f} MB/s)")
    print(f"{'stage':<9} {'workers':>7} {'seconds':>8} {'MB/s':>8} {'x ref':>8} {'RSS MB':>7} {'worker':>7}  summary")
    rows, identical, other = {}, {}, None
    for name, script in STAGES:
        runs = [(1, paths)]
        if name in PARALLEL:
            if other is None:  # the validated dataset, copied before any parallel stage writes to it
                other = copy_validated(paths, out_root / f"{megabytes:g}mb-n")
            runs.append((workers, other))
        for n, where in runs:
            r = run_stage(script, where, ("--workers", str(n)) if name in PARALLEL else ())
            rows[(name, n if name in PARALLEL else 1)] = r
            child = f"{r['worker_rss_mb']:7.0f}" if name in PARALLEL and n > 1 else f"{'-':>7}"
            print(f"{name:<9} {n:>7} {r['s']:8.1f} {mb / r['s']:8.2f} {ref_s / r['s']:8.4f} {r['rss_mb']:7.0f} "
                  f"{child}  {' '.join(r['summary'])}")
        if name in PARALLEL:
            identical[name] = outputs(paths) == outputs(other)
    print(f"\n{'stage':<9} {'1 worker MB/s':>14} {f'{workers} workers MB/s':>16} {'ratio':>7}  identical outputs")
    for name in PARALLEL:
        one, many = mb / rows[(name, 1)]["s"], mb / rows[(name, workers)]["s"]
        print(f"{name:<9} {one:14.2f} {many:16.2f} {many / one:6.2f}x  identical: "
              f"{'yes' if identical[name] else 'no'}")
    return {"mb": mb, "docs": docs, "ref_s": ref_s, "stages": rows, "roots": [root, other.root],
            "identical": all(identical.values())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=float, nargs="+", default=[10, 200], help="corpus sizes in MB")
    p.add_argument("--seed", type=int, default=99, help="demo generator seed")
    p.add_argument("--workers", type=int, default=0,
                   help="worker count compared with 1 for filter and clean (0: all cores, at least 2)")
    p.add_argument("--out", default=str(REPO_ROOT / "bench" / "out"), help="working folder")
    p.add_argument("--keep", action="store_true", help="keep the generated datasets")
    args = p.parse_args(argv)
    workers = args.workers or max(2, cpu_count())
    print(format_conditions(measure_conditions(
        threads=1, note=f"each stage in its own process; filter and clean also with {workers} worker processes")))
    results = [bench_size(mb, Path(args.out), args.seed, workers) for mb in args.sizes]
    if len(results) >= 2:
        small, big = results[0], results[-1]
        print(f"\n== peak RSS, {big['mb']:.0f} MB vs {small['mb']:.0f} MB corpus "
              f"({big['mb'] / small['mb']:.0f}x the text)")
        keys = [(name, 1) for name, _ in STAGES] + [(name, workers) for name in PARALLEL]
        for name, n in keys:
            for what, field in (("", "rss_mb"), (" worker", "worker_rss_mb")):
                if what and n == 1:
                    continue
                a, b = small["stages"][(name, n)][field], big["stages"][(name, n)][field]
                label = f"{name} x{n}{what}" if name in PARALLEL else name
                print(f"{label:<18} {a:8.0f} MB -> {b:8.0f} MB   ratio {b / a:5.2f}")
    if not args.keep:
        for r in results:
            for root in r["roots"]:
                shutil.rmtree(root, ignore_errors=True)
    return 0 if all(r["identical"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
