"""Smoke run of bench/generate.py with tiny budgets: the conditions come first, the reference runs at each thread
count and every ratio is against its best, every row states its threads, and the JSON holds the same (the figures
themselves mean little at this size; the full benchmark is run by hand)."""

import json
import re
import subprocess
import sys

import pytest

from bench.generate import thread_counts
from common.paths import REPO_ROOT, SHARED_DATA_DIR

needs_text = pytest.mark.skipif(not (SHARED_DATA_DIR / "tinyshakespeare.txt").is_file(),
                                reason="needs ../shared/data/tinyshakespeare.txt")


@pytest.mark.slow
@needs_text
def test_quick_run_prints_conditions_threads_speed_memory_and_val_loss_rows(tmp_path):
    report = tmp_path / "generate.json"
    res = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "generate.py"), "--tokens", "600",
                          "--train-seconds", "2", "--dtypes", "fp32,int8", "--reference-tokens", "5",
                          "--ref-threads", "1,2", "--json", str(report)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout
    first = out.splitlines()[0]
    assert first.startswith("conditions: ") and "torch " in first and "CPU " in first and "1 thread(s)" in first
    refs = {int(t): (float(tps), float(x)) for t, tps, x in
            re.findall(r"^reference fp32 \(no cache\)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s*$", out, re.M)}
    assert set(refs) == {1, 2}, out
    best = max(tps for tps, _ in refs.values())
    assert all(x == pytest.approx(tps / best, abs=0.01) for tps, x in refs.values())
    assert max(x for _, x in refs.values()) == pytest.approx(1.0)
    for dtype in ("fp32", "int8"):
        row = re.search(rf"^ours {dtype} \(KV cache\)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+.*?\s(\d+)\s*$",
                        out, re.M)
        assert row, out
        threads, tps, ratio, ms500, rss = (float(g) for g in row.groups())
        assert threads == 1 and tps > 0 and ratio == pytest.approx(tps / best, rel=0.05)
        assert ms500 > 0 and 100 < rss < 2000
        loss = re.search(rf"^{dtype}\s+([\d.]+)\s+([+-][\d.]+)$", out, re.M)
        assert loss and 0 < float(loss.group(1)) < 6
    assert float(re.search(r"^int8\s+[\d.]+\s+([+-][\d.]+)$", out, re.M).group(1)) == pytest.approx(0, abs=0.05)
    data = json.loads(report.read_text())
    cond = data["conditions"]
    assert cond["threads"] == 1 and cond["reference_threads"] == [1, 2] and cond["torch"] and cond["cpu"]
    assert [r["threads"] for r in data["reference"]] == [1, 2]
    assert [(r["dtype"], r["threads"]) for r in data["ours"]] == [("fp32", 1), ("int8", 1)]
    best_json = max(r["tokens_per_s"] for r in data["reference"])
    assert best_json == pytest.approx(best, abs=0.06)
    assert all(r["x_best_reference"] == pytest.approx(r["tokens_per_s"] / best_json) for r in data["ours"])
    assert [r["dtype"] for r in data["val_loss"]] == ["fp32", "int8"]


def test_thread_counts_take_numbers_and_all_and_refuse_nonsense():
    import os
    assert thread_counts("1,2,1") == [1, 2]
    assert thread_counts("1,all") == ([1] if os.cpu_count() == 1 else [1, os.cpu_count()])
    for bad in ("0", "two", "1,-3"):
        with pytest.raises(SystemExit, match="--ref-threads"):
            thread_counts(bad)
