"""Smoke run of bench/generate.py with tiny budgets: the conditions and the measured bandwidth come first, both shapes
get a row per dtype with its thread count, weight bytes per token, limit and fraction of it (over a big buffer and
over one of the weights' size), the batched rows
compare with N x the single rate under both KV cache settings, and the JSON holds the same (the figures themselves
mean little at this size; the full benchmark is run by hand)."""

import json
import subprocess
import sys

import pytest

from bench.generate import thread_counts
from common.paths import REPO_ROOT, SHARED_DATA_DIR

needs_text = pytest.mark.skipif(not (SHARED_DATA_DIR / "tinyshakespeare.txt").is_file(),
                                reason="needs ../shared/data/tinyshakespeare.txt")


@pytest.mark.slow
@needs_text
def test_quick_run_prints_conditions_limits_batches_memory_and_val_loss(tmp_path):
    report = tmp_path / "generate.json"
    res = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "generate.py"), "--tokens", "300",
                          "--batch-tokens", "60", "--batch-sizes", "2", "--batch-dtypes", "fp32",
                          "--train-seconds", "2", "--dtypes", "fp32,int8", "--reference-tokens", "3",
                          "--ref-threads", "1,2", "--json", str(report)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout.splitlines()
    assert out[0].startswith("conditions: ") and "torch " in out[0] and "CPU " in out[0]
    assert out[1].startswith("streaming bandwidth (GB/s): ") and "best" in out[1]
    data = json.loads(report.read_text())
    bw = data["bandwidth"]["best"]
    assert bw == max(v for k, v in data["bandwidth"].items() if k != "best") and 0.5 < bw < 2000
    assert data["conditions"]["bandwidth_gb_s"] == bw and data["conditions"]["reference_threads"] == [1, 2]
    assert set(data["shapes"]) == {"small", "stories15M"}
    for name, shape in data["shapes"].items():
        assert [r["threads"] for r in shape["reference"]] == [1, 2]
        assert max(r["x_best_reference"] for r in shape["reference"]) == pytest.approx(1.0)
        rows = {r["dtype"]: r for r in shape["ours"]}
        assert set(rows) == {"fp32", "int8"}
        for r in rows.values():
            assert r["threads"] in (1, 2) and r["tokens_per_s"] > 0 and 100 < r["peak_rss_mb"] < 2000
            assert r["products"] in (("numpy", "torch") if r["dtype"] == "fp32" else ("torch",))
            assert r["kv_cache"] in ("fp32", "bf16")
            assert r["limit_tokens_per_s"] == pytest.approx(bw * 1e3 / r["weight_mb_per_token"], rel=1e-6)
            assert r["fraction_of_limit"] == pytest.approx(r["tokens_per_s"] / r["limit_tokens_per_s"])
            sized = r["weight_size_bandwidth_gb_s"]  # a buffer of the weights' own size, measured for this row
            assert 0.5 < sized < 2000
            assert r["limit_at_weight_size_tokens_per_s"] == pytest.approx(sized * 1e3 / r["weight_mb_per_token"],
                                                                           rel=1e-6)
            assert r["fraction_of_weight_size_limit"] == pytest.approx(
                r["tokens_per_s"] / r["limit_at_weight_size_tokens_per_s"])
        # int8 reads a quarter of the float32 matrices (plus scales); the bigger head dominates stories15M
        assert 0.2 < rows["int8"]["weight_mb_per_token"] / rows["fp32"]["weight_mb_per_token"] < 0.3
        assert shape["int8_x_fp32"] == pytest.approx(rows["int8"]["tokens_per_s"] / rows["fp32"]["tokens_per_s"])
        exact, auto = shape["batched"]  # the same samples under --kv-cache fp32, then auto
        assert [exact["kv_cache_setting"], auto["kv_cache_setting"]] == ["fp32", "auto"] and exact["kv_cache"] == "fp32"
        for batched in (exact, auto):
            assert batched["samples"] == 2 and batched["dtype"] == "fp32" and batched["products"] in ("numpy", "torch")
            assert batched["of_n_x_single"] == pytest.approx(batched["tokens_per_s"] /
                                                             (2 * batched["single_tokens_per_s"]))
        text = res.stdout
        assert f"== {name}:" in text and "of limit" in text and "limit@size" in text
    assert data["shapes"]["stories15M"]["params"] > 15_000_000 > data["shapes"]["small"]["params"] > 10_000_000
    assert [r["dtype"] for r in data["val_loss"]] == ["fp32", "int8"]
    assert data["val_loss"][1]["change"] == pytest.approx(0, abs=0.05)


def test_thread_counts_take_numbers_and_all_and_refuse_nonsense():
    import os
    assert thread_counts("1,2,1") == [1, 2]
    assert thread_counts("1,all") == ([1] if os.cpu_count() == 1 else [1, os.cpu_count()])
    for bad in ("0", "two", "1,-3"):
        with pytest.raises(SystemExit, match="--ref-threads"):
            thread_counts(bad)


def test_stream_bandwidth_reads_a_small_buffer_again_until_a_pass_is_long_enough():
    import os

    from bench.bandwidth import stream_bandwidth
    rates = stream_bandwidth(repeats=2, buffer_bytes=1_000_001)  # rounded up to whole 4 KB rows
    cores = sorted({1, os.cpu_count() or 1})
    assert set(rates) == {f"{k}_{n}t" for k in ("numpy_sum", "torch_sum", "blas_gemv") for n in cores} | {"best"}
    assert rates["best"] == max(v for k, v in rates.items() if k != "best")
    assert all(0.1 < v < 5000 for v in rates.values())  # GB/s
