"""bench/train.py smoke test: a --quick run (tiny budgets, one thread) prints its conditions and table and writes
every figure as JSON, each row with its dtype and threads (float32 rows beside the bf16 autocast ones, memory rows
with their tokens per micro-batch); the nanoGPT log parser and the --nanogpt-dir path (against a fake nanoGPT
checkout written here); a run of only some parts."""

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import nanogpt_ref
from bench.train import TEXT, check_targets, our_dtype, table
from common.paths import REPO_ROOT

pytestmark = pytest.mark.skipif(not TEXT.is_file(), reason=f"{TEXT} (benchmark text) is absent")

FAKE_PREPARE = '''
import os, sys
here = os.path.dirname(__file__)
text = open(os.path.join(here, "input.txt"), encoding="utf-8").read()
assert len(text) > 100_000, "the bench must hand tinyshakespeare to prepare.py"
open(os.path.join(here, "train.bin"), "wb").write(b"\\0\\0" * 100)
'''
FAKE_TRAIN = '''
import json, sys, time
assert open("data/shakespeare_char/train.bin", "rb").read(2) == b"\\0\\0"
json.dump(sys.argv[1:], open("argv.json", "w"))
print("step 0: train loss 4.2000, val loss 4.2100", flush=True)
for i in range(31):
    print(f"iter {i}: loss {4 - i / 10:.4f}, time 10.00ms, mfu -100.00%", flush=True)
    if i == 30:
        print("step 30: train loss 2.5000, val loss 2.6000", flush=True)
'''


def fake_nanogpt(root: Path) -> Path:
    (root / "data" / "shakespeare_char").mkdir(parents=True)
    (root / "config").mkdir()
    (root / "data" / "shakespeare_char" / "prepare.py").write_text(FAKE_PREPARE)
    (root / "config" / "train_shakespeare_char.py").write_text("# fake\n")
    (root / "train.py").write_text(FAKE_TRAIN)
    return root


@pytest.mark.slow
def test_quick_run_prints_and_writes_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    fake = fake_nanogpt(tmp_path / "nanoGPT")
    r = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "train.py"), "--quick", "--threads", "1",
                        "--speed-rounds", "2", "--silent", "--json", str(out), "--nanogpt-dir", str(fake),
                        "--work-dir", str(tmp_path / "work")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for heading in ("speed at nanoGPT's CPU-recipe architecture", "quality (val loss", "peak RSS (MB)", "targets"):
        assert heading in r.stdout
    res = json.loads(out.read_text())
    cond, auto = res["conditions"], our_dtype("auto")
    assert r.stdout.startswith("conditions: ") and "torch " in r.stdout.splitlines()[0]
    assert cond["threads"] == 1 and cond["torch"] and cond["cpu"] and isinstance(cond["cpu_flags"], list)
    assert auto in cond["dtype"] and "float32" in cond["dtype"]
    ref = res["reference"]
    assert (ref["dtype"], ref["threads"]) == ("float32", 1)
    assert ref["tokens_per_s"] > 0 and 100 < ref["peak_rss_mb"] < 4000
    assert ref["evals"][0]["step"] == 0 and ref["evals"][-1]["step"] == 30
    assert math.isfinite(ref["evals"][-1]["val_loss"]) and ref["evals"][-1]["val_loss"] < ref["evals"][0]["val_loss"]
    ref_speed = res["speed"]["reference"]
    assert (ref_speed["dtype"], ref_speed["threads"], ref_speed["x_reference"]) == ("float32", 1, 1.0)
    assert ref_speed["tokens_per_s"] == max(ref_speed["rounds"]) > 0 and len(ref_speed["rounds"]) == 2
    for name, dtype in (("ours_gpt2", auto), ("ours_default", auto), ("ours_gpt2_float32", "float32"),
                        ("ours_default_float32", "float32")):
        sp = res["speed"][name]
        assert (sp["dtype"], sp["threads"]) == (dtype, 1)
        row = next(line for line in r.stdout.splitlines() if line.strip().startswith(
            {"ours_gpt2": "ours, GPT-2 layout", "ours_default": "ours, default layout"}[name.replace("_float32", "")]
            + (", --dtype float32" if "float32" in name else "  ")))
        assert f"{dtype}, 1 thread(s)" in row
        assert sp["tokens_per_s"] == max(sp["rounds"]) > 0 and len(sp["rounds"]) == 2
        assert sp["x_reference"] == pytest.approx(sp["tokens_per_s"] / ref_speed["tokens_per_s"], rel=1e-2)
    for key in ("tiny", "tiny_at_reference_time"):
        tiny = res["quality"][key]
        assert tiny["steps"] >= 1 and 0 < tiny["val_loss"] < math.log(200) and tiny["peak_rss_mb"] > 100
    assert res["quality"]["tiny_at_reference_time"]["budget_s"] == ref["evals"][-1]["elapsed_s"]
    mem = res["memory"]
    for key, dtype, tokens in (("small", auto, 8 * 256), ("small_float32", "float32", 8 * 256),
                               ("max-safe", auto, 6 * 256)):
        assert 100 < mem[key]["peak_rss_mb"] < 4000 and mem[key]["steps"] == 1
        assert (mem[key]["dtype"], mem[key]["threads"], mem[key]["tokens_per_micro_batch"]) == (dtype, 1, tokens)
    big = mem["reference_10.7M_2048"]  # nanoGPT's 10.7M model at the small preset's tokens per micro-batch
    assert (big["side"], big["dtype"], big["batch_size"], big["block_size"]) == ("reference", "float32", 8, 256)
    assert big["tokens_per_micro_batch"] == mem["small"]["tokens_per_micro_batch"] and 100 < big["peak_rss_mb"] < 4000
    row = r"reference 10\.7M, dropout 0\.2, 2 steps\s+8 x 256\s+=\s+2,048\s+float32, 1 thread\(s\)\s+[\d,]+$"
    assert re.search(row, r.stdout, re.M)
    assert set(res["targets"]) == {"speed_gpt2_x", "speed_default_x", "tiny_val_loss",
                                   "tiny_val_loss_at_reference_time", "small_rss_mb", "max_safe_rss_mb"}
    assert all(isinstance(v[2], bool) for v in res["targets"].values())
    real = res["nanogpt_real"]  # the fake checkout's figures came through the parser
    assert real["steps"] == 31 and real["evals"][-1]["val_loss"] == 2.6
    assert real["tokens_per_s"] == pytest.approx(12 * 64 / 0.010)
    argv = json.loads((tmp_path / "work" / "nanogpt" / "nanoGPT" / "argv.json").read_text())
    assert argv[0] == "config/train_shakespeare_char.py" and "--device=cpu" in argv and "--n_embd=128" in argv


def test_log_parser_skips_evaluation_iterations():
    lines = [(0.5, "step 0: train loss 4.1000, val loss 4.2000")]
    lines += [(1.0 + i, f"iter {i}: loss 3.0000, time {500.0 if i in (0, 10) else 20.0:.2f}ms, mfu 1.00%")
              for i in range(11)]
    lines.insert(11, (11.0, "step 10: train loss 2.0000, val loss 2.1000"))
    res = nanogpt_ref.parse_log(lines, 768)
    assert [e["step"] for e in res["evals"]] == [0, 10] and res["evals"][1]["elapsed_s"] == 11.0
    assert res["steps"] == 11
    assert res["tokens_per_s"] == pytest.approx(768 / 0.020)  # iterations 0 (startup) and 10 (evaluation) left out


def test_a_run_of_some_parts_reports_and_checks_only_those():
    common = {"side": "ours", "layout": "default", "steps": 2, "block_size": 256, "dtype": "bfloat16", "threads": 1}
    mem = {"small": {**common, "preset": "small", "peak_rss_mb": 900.0, "batch_size": 8,
                     "tokens_per_micro_batch": 2048},
           "max-safe": {**common, "preset": "max-safe", "peak_rss_mb": 2100.0, "batch_size": 6,
                        "tokens_per_micro_batch": 1536}}
    res = {"conditions": {"dtype": "per row", "threads": 1, "cpu": "x", "cpu_flags": [], "cores": 2},
           "threads": 1, "budget_s": 69.0, "quick": False, "memory": mem}
    res["targets"] = check_targets(res)
    assert res["targets"] == {"small_rss_mb": [900.0, 1536, True], "max_safe_rss_mb": [2100.0, 2048, False]}
    text = table(res)
    assert text.startswith("conditions: dtype per row; 1 thread(s)")
    assert "speed at" not in text and "quality" not in text and "MISS" in text
    row = r"ours small, default layout, 2 steps\s+8 x 256\s+=\s+2,048\s+bfloat16, 1 thread\(s\)\s+900$"
    assert re.search(row, text, re.M)
