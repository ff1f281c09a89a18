"""Smoke run of bench/generate.py with tiny budgets: every row of its tables comes out with sane figures (the
figures themselves mean little at this size; the full benchmark is run by hand)."""

import re
import subprocess
import sys

import pytest

from common.paths import REPO_ROOT, SHARED_DATA_DIR

pytestmark = pytest.mark.skipif(not (SHARED_DATA_DIR / "tinyshakespeare.txt").is_file(),
                                reason="needs ../shared/data/tinyshakespeare.txt")


def test_quick_run_prints_speed_memory_and_val_loss_rows():
    res = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "generate.py"), "--tokens", "600",
                          "--train-seconds", "2", "--dtypes", "fp32,int8", "--reference-tokens", "5"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout
    ref = re.search(r"reference \(no cache\)\s+([\d.]+)\s+1\.00", out)
    assert ref and float(ref.group(1)) > 0
    for dtype in ("fp32", "int8"):
        row = re.search(rf"ours {dtype}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+.*?\s(\d+)\s*$", out, re.M)
        assert row, out
        tps, ratio, ms500, rss = (float(g) for g in row.groups())
        assert tps > 0 and ratio == pytest.approx(tps / float(ref.group(1)), rel=0.05)
        assert ms500 > 0 and 100 < rss < 2000
        loss = re.search(rf"^{dtype}\s+([\d.]+)\s+([+-][\d.]+)$", out, re.M)
        assert loss and 0 < float(loss.group(1)) < 6
    assert float(re.search(r"^int8\s+[\d.]+\s+([+-][\d.]+)$", out, re.M).group(1)) == pytest.approx(0, abs=0.05)
