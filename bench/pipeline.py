"""Benchmark the offline data stages on generated corpora: MB/s per stage and peak RSS, at two sizes.

For each corpus size (default 10 MB and 200 MB of demo stories written straight into a fresh raw store) it
runs validate, filter, clean and prepare, each in its own process, and prints per stage: wall time, MB/s of
raw text, peak RSS, and the speed as a ratio to a reference pass that only reads and hashes the same files
(measured in the same run, so the ratio holds across machines). The last table compares peak RSS between the
sizes: flat memory means the ratio stays near 1 while the corpus grows 20x.

**Reads:** nothing (generates its corpora).  **Writes:** `bench/out/<size>mb/` (git-ignored; `--keep` keeps it).
**Usage:**
    python bench/pipeline.py                     # 10 MB and 200 MB (about 15 minutes on 2 cores)
    python bench/pipeline.py --sizes 5 20        # quicker
"""

import sys
from pathlib import Path

import argparse
import hashlib
import json
import shutil
import subprocess
import time
from datetime import datetime, timedelta, timezone

from bench.conditions import format_conditions, measure_conditions
from common.paths import REPO_ROOT, DatasetPaths
from common.rawstore import RawStore

STAGES = [("validate", "scripts/validate_raw.py"), ("filter", "scripts/filter_dataset.py"),
          ("clean", "scripts/clean_dataset.py"), ("prepare", "scripts/prepare_data.py")]
# Runs one stage script in-process and reports its own peak RSS (ru_maxrss is KiB on Linux).
RSS_WRAPPER = ("import json, resource, runpy, sys, time; script = sys.argv[1]; sys.argv = sys.argv[1:]; "
               "t = time.monotonic(); code = 0\n"
               "try:\n    runpy.run_path(script, run_name='__main__')\n"
               "except SystemExit as e:\n    code = e.code or 0\n"
               "print('BENCH', json.dumps({'rc': code, 's': time.monotonic() - t, "
               "'rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))")


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


def run_stage(script: str, paths: DatasetPaths) -> dict:
    """Run a stage script in a fresh process; its wall time and peak RSS."""
    res = subprocess.run([sys.executable, "-c", RSS_WRAPPER, str(REPO_ROOT / script),
                          "--dataset-dir", str(paths.root)], capture_output=True, text=True)
    line = next((x for x in res.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"{script} failed:\n{res.stderr[-2000:]}")
    out = json.loads(line[6:])
    if out["rc"] not in (0, None):
        raise SystemExit(f"{script} exited {out['rc']}:\n{res.stderr[-2000:]}")
    out["summary"] = [x for x in res.stdout.splitlines() if not x.startswith("BENCH ")][-1:]
    return out


def bench_size(megabytes: float, out_root: Path, seed: int) -> dict:
    """Build one corpus and time every stage on it."""
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
    print(f"{'stage':<9} {'seconds':>8} {'MB/s':>8} {'x ref':>8} {'peak RSS MB':>12}  summary")
    rows = {}
    for name, script in STAGES:
        r = run_stage(script, paths)
        rows[name] = r
        print(f"{name:<9} {r['s']:8.1f} {mb / r['s']:8.2f} {ref_s / r['s']:8.4f} {r['rss_mb']:12.0f}  "
              f"{' '.join(r['summary'])}")
    return {"mb": mb, "docs": docs, "ref_s": ref_s, "stages": rows, "root": root}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=float, nargs="+", default=[10, 200], help="corpus sizes in MB")
    p.add_argument("--seed", type=int, default=99, help="demo generator seed")
    p.add_argument("--out", default=str(REPO_ROOT / "bench" / "out"), help="working folder")
    p.add_argument("--keep", action="store_true", help="keep the generated datasets")
    args = p.parse_args(argv)
    print(format_conditions(measure_conditions(threads=1, note="each stage in its own single-threaded process")))
    results = [bench_size(mb, Path(args.out), args.seed) for mb in args.sizes]
    if len(results) >= 2:
        small, big = results[0], results[-1]
        print(f"\n== peak RSS, {big['mb']:.0f} MB vs {small['mb']:.0f} MB corpus "
              f"({big['mb'] / small['mb']:.0f}x the text)")
        for name, _ in STAGES:
            a, b = small["stages"][name]["rss_mb"], big["stages"][name]["rss_mb"]
            print(f"{name:<9} {a:8.0f} MB -> {b:8.0f} MB   ratio {b / a:5.2f}")
    if not args.keep:
        for r in results:
            shutil.rmtree(r["root"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
