"""Smoke run of bench/pipeline.py on a corpus just big enough for filter and clean to start their worker pools:
every stage gets a row with its own peak RSS, the parallel stages a second row with the workers' peak, and the
comparison table says the outputs of 1 and 2 workers are identical (the figures themselves are run by hand)."""

import re
import subprocess
import sys

import pytest

from bench.stage_process import vm_hwm_mb
from common.paths import REPO_ROOT


@pytest.mark.slow
def test_quick_run_times_every_stage_and_compares_one_and_two_workers(tmp_path):
    res = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "pipeline.py"), "--sizes", "3.6", "--workers", "2",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout
    assert out.splitlines()[0].startswith("conditions: ")
    docs = int(re.search(r"== [\d.]+ MB, ([\d,]+) documents", out).group(1).replace(",", ""))
    assert docs >= 1000  # enough new items for both pools (POOL_MIN_ITEMS)
    rows = re.findall(r"^(validate|filter|clean|prepare)\s+(\d)\s+([\d.]+)\s+([\d.]+)\s+[\d.]+\s+(\d+)\s+(\S+)",
                      out, re.M)
    seen = {(stage, int(workers)) for stage, workers, *_ in rows}
    assert seen == {("validate", 1), ("filter", 1), ("filter", 2), ("clean", 1), ("clean", 2), ("prepare", 1)}
    for stage, workers, seconds, mbs, rss, worker_rss in rows:
        assert float(seconds) > 0 and float(mbs) > 0 and 10 < int(rss) < 1000, (stage, rss)
        if int(workers) == 2:  # the pool's workers were seen and measured
            assert 10 < float(worker_rss) < 1000, (stage, worker_rss)
    assert re.search(r"^filter\s+[\d.]+\s+[\d.]+\s+[\d.]+x\s+identical: yes$", out, re.M)
    assert re.search(r"^clean\s+[\d.]+\s+[\d.]+\s+[\d.]+x\s+identical: yes$", out, re.M)
    assert not any(tmp_path.iterdir())  # the working datasets are removed without --keep


def test_vm_hwm_reads_this_process_and_is_zero_for_a_gone_one():
    assert 5 < vm_hwm_mb() < 5000
    assert vm_hwm_mb(2**22 + 12345) == 0.0
