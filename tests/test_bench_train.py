"""bench/train.py smoke test: a --quick run (tiny budgets, one thread) prints its table and writes every figure
as JSON; the nanoGPT log parser and the --nanogpt-dir path (against a fake nanoGPT checkout written here)."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench import nanogpt_ref
from bench.train import TEXT
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


def test_quick_run_prints_and_writes_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    fake = fake_nanogpt(tmp_path / "nanoGPT")
    r = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "train.py"), "--quick", "--threads", "1",
                        "--silent", "--json", str(out), "--nanogpt-dir", str(fake), "--work-dir", str(tmp_path / "work")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for heading in ("speed at nanoGPT's CPU-recipe architecture", "quality (val loss)", "peak RSS (MB)", "targets"):
        assert heading in r.stdout
    res = json.loads(out.read_text())
    ref = res["reference"]
    assert ref["tokens_per_s"] > 0 and 100 < ref["peak_rss_mb"] < 4000
    assert ref["evals"][0]["step"] == 0 and ref["evals"][-1]["step"] == 30
    assert math.isfinite(ref["evals"][-1]["val_loss"]) and ref["evals"][-1]["val_loss"] < ref["evals"][0]["val_loss"]
    for name in ("ours_gpt2", "ours_default"):
        sp = res["speed"][name]
        assert sp["tokens_per_s"] > 0 and sp["x_reference"] == pytest.approx(sp["tokens_per_s"] / ref["tokens_per_s"],
                                                                            rel=1e-2)
    for key in ("tiny", "tiny_at_reference_time"):
        tiny = res["quality"][key]
        assert tiny["steps"] >= 1 and 0 < tiny["val_loss"] < math.log(200) and tiny["peak_rss_mb"] > 100
    assert res["quality"]["tiny_at_reference_time"]["budget_s"] == ref["evals"][-1]["elapsed_s"]
    for preset in ("small", "max-safe"):
        assert 100 < res["memory"][preset]["peak_rss_mb"] < 4000 and res["memory"][preset]["steps"] == 1
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
