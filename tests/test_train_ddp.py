"""Data-parallel training on the CPU: two processes joined over gloo (as torchrun would start them) train a tiny
model; both ranks must end with identical weights, only rank 0 writes, and the checkpoint holds both ranks' RNG
states so a resumed two-process run continues exactly like an uninterrupted one."""

import json
import os
import socket
import subprocess
import sys

import pytest

from common.config import build_config
from common.fsio import read_jsonl
from common.paths import REPO_ROOT, DatasetPaths
from scripts import prepare_data
from model.checkpoint import LAST, load_checkpoint

WORKER = """
import faulthandler, hashlib, json, sys
faulthandler.enable(all_threads=True)  # a native abort prints every thread's Python stack
from pathlib import Path
sys.path.insert(0, {repo!r})
from common.config import build_config
from common.paths import DatasetPaths
from training.train import TrainConfig
from training.loop import fit
from training.runtime import exit_process

cfg = build_config(TrainConfig, json.loads(sys.argv[1]))
result = fit(cfg, DatasetPaths.at(sys.argv[2]), Path(sys.argv[3]))
h = hashlib.sha256()
for name, t in sorted(result.model.state_dict().items()):
    h.update(name.encode())
    h.update(t.detach().contiguous().numpy().tobytes())
Path(sys.argv[4]).write_text(json.dumps({{"sha": h.hexdigest(), "step": result.step}}))
exit_process(0)  # as training/train.py ends
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(tmp_path, cfg: dict, ds: DatasetPaths, out, tag: str) -> list[dict]:
    """Start 2 ranks like torchrun does (RANK/WORLD_SIZE/MASTER_* in the environment); their reports."""
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER.format(repo=str(REPO_ROOT)))
    port = str(free_port())
    procs, reports = [], []
    for rank in range(2):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}
        report = tmp_path / f"{tag}-rank{rank}.json"
        reports.append(report)
        procs.append(subprocess.Popen([sys.executable, str(worker), json.dumps(cfg), str(ds.root), str(out),
                                       str(report)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    for p in procs:
        output, _ = p.communicate(timeout=120)
        assert p.returncode == 0, output.decode()[-3000:]
    return [json.loads(r.read_text()) for r in reports]


def test_two_gloo_processes_end_with_identical_weights(tmp_path):
    ds = DatasetPaths.at(tmp_path / "ds")
    ds.make_dirs()
    for i in range(12):
        f = ds.cleaned / "toy" / f"20260101_0000{i:02d}__toy__d{i}__{i:012x}.txt"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(["one two three. ", "four five six. "][i % 2] * 30)
    prepare_data.run(build_config(prepare_data.PrepareConfig, {"val_fraction": 0.25}), ds)
    cfg = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 16, "batch_size": 4, "threads": 1,
           "device": "cpu", "eval_iters": 3, "eval_interval": 3, "max_iters": 6, "lr_decay_iters": 12,
           "warmup_iters": 1, "plot": False, "dropout": 0.1}
    out = tmp_path / "out"
    first = launch(tmp_path, cfg, ds, out, "first")
    assert first[0]["sha"] == first[1]["sha"] and first[0]["step"] == first[1]["step"] == 6
    ckpt = load_checkpoint(out / LAST)
    assert ckpt.state["world_size"] == 2 and ckpt.tensors["rng/batch"].shape[0] == 2
    assert [r["step"] for r in read_jsonl(out / "metrics.jsonl")] == [0, 3, 6]  # rank 0 alone writes
    # tokens per step count both processes' batches
    assert ckpt.state["tokens_seen"] == 6 * 2 * 4 * 16
    second = launch(tmp_path, {**cfg, "max_iters": 9}, ds, out, "second")
    assert second[0]["sha"] == second[1]["sha"] != first[0]["sha"] and second[0]["step"] == 9
    straight = launch(tmp_path, {**cfg, "max_iters": 9}, ds, tmp_path / "straight", "straight")
    assert straight[0]["sha"] == second[0]["sha"]  # the resumed 2-process run matches an uninterrupted one


def test_exit_process_outside_torchrun_is_a_plain_exit(monkeypatch):
    # only a torchrun job (WORLD_SIZE > 1) skips the interpreter's teardown; a single process exits normally
    from training.runtime import exit_process
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(SystemExit) as e:
        exit_process(3)
    assert e.value.code == 3


def test_a_torchrun_rank_exits_with_its_code_after_flushing(tmp_path):
    script = ("import sys; sys.path.insert(0, %r)\n"
              "from training.runtime import exit_process\n"
              "print('written before exit', end='')\n"
              "exit_process(5)\n") % str(REPO_ROOT)
    p = subprocess.run([sys.executable, "-c", script], env={**os.environ, "WORLD_SIZE": "2"},
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 5 and p.stdout == "written before exit"
