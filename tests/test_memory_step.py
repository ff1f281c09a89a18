"""The memory step (scripts/prepare_memory.py) on a small prepared demo dataset: its files and counts, no work when
nothing changed, byte-identical rebuilds (also after kill -9), and training with memory examples: prefix targets
masked, bit-for-bit resume, the checkpoint's memory settings and one-line errors."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from common.config import UserError, build_config
from common.paths import REPO_ROOT, DatasetPaths
from common.text_format import EOT_ID, SUMMARY_CLOSE_ID, SUMMARY_OPEN_ID
from demo.stories import generate_story
from model.checkpoint import LAST, load_checkpoint, read_state
from model.token_files import load_meta, load_tokenizer, open_tokens
from scripts import prepare_data, prepare_memory
from scripts.prepare_memory import MemoryConfig
from story_memory.documents import document_bounds, document_folds
from story_memory.example_files import EXAMPLE_COLUMNS, MEMORY_DIR, build_row, open_examples
from story_memory.rolling import make_schedule
from story_memory.summary import Summary
from training import train
from training.memory_batches import load_memory_examples, mask_prefix_targets, sample_mixed
from training.train import TrainConfig

PY = sys.executable
MEMORY_PY = str(REPO_ROOT / "scripts" / "prepare_memory.py")
BLOCK, BUDGET = 64, 24
CFG = MemoryConfig(block_size=BLOCK, budget=BUDGET)
TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": BLOCK, "batch_size": 8, "threads": 1,
        "eval_iters": 2, "eval_interval": 10, "warmup_iters": 2, "lr": 1e-2, "min_lr": 1e-3, "plot": False,
        "log_interval": 5, "memory_ratio": 0.5}
FILES = ["memory.json", "train.examples.bin", "train.prefixes.bin", "val.examples.bin", "val.prefixes.bin"]


def demo_dataset(root: Path, stories: int) -> DatasetPaths:
    """A prepared dataset (char tokenizer) of `stories` seeded demo stories written straight into cleaned/."""
    paths = DatasetPaths.at(root)
    paths.make_dirs()
    folder = paths.cleaned / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(stories):
        text = generate_story(i, 7).text
        (folder / f"20260101_{i // 100:04d}{i % 100:02d}__demo__story{i:04d}__{i:012x}.txt").write_text(
            text, encoding="utf-8")
    prepare_data.run(build_config(prepare_data.PrepareConfig, {"val_fraction": 0.25}), paths)
    return paths


def memory_bytes(paths: DatasetPaths) -> dict[str, bytes]:
    folder = paths.processed / MEMORY_DIR
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small demo dataset with its memory step run once: (paths, the files' bytes, the counts)."""
    paths = demo_dataset(tmp_path_factory.mktemp("memstep") / "ds", 12)
    counts = prepare_memory.run(CFG, paths)
    return paths, memory_bytes(paths), counts


def fresh_copy(built, tmp_path) -> DatasetPaths:
    paths = DatasetPaths.at(tmp_path / "copy")
    shutil.copytree(built[0].root, paths.root, symlinks=True)
    return paths


def cfg_of(**over) -> TrainConfig:
    return build_config(TrainConfig, {**TINY, **over})


def assert_option_changes_training_and_resumes(paths: DatasetPaths, tmp_path: Path, option: dict, stop: int) -> None:
    """Six steps with `option` equal a run stopped after `stop` steps and resumed (weights and AdamW state bit for
    bit), and differ from six steps without it."""
    common = {**option, "lr_decay_iters": 6}
    train.run(cfg_of(max_iters=6, out_dir=str(tmp_path / "a"), **common), paths)
    train.run(cfg_of(max_iters=stop, out_dir=str(tmp_path / "b"), **common), paths)
    assert train.run(cfg_of(max_iters=6, out_dir=str(tmp_path / "b"), **common), paths)["resumed"]
    train.run(cfg_of(max_iters=6, out_dir=str(tmp_path / "c"), lr_decay_iters=6), paths)
    wa, wb, wc = (load_checkpoint(tmp_path / x / LAST).tensors for x in "abc")
    for k in wa:
        if k.startswith(("model/", "optim/")):
            assert torch.equal(wa[k], wb[k]), k
    assert not torch.equal(wa["model/wte.weight"], wc["model/wte.weight"])


# ------------------------------------------------------------------------------------------- the files
def test_memory_files_counts_and_examples(built):
    paths, files, counts = built
    assert sorted(files) == FILES  # nothing else, no temp file left
    meta = load_meta(paths.processed)
    mmeta = json.loads(files["memory.json"])
    assert (mmeta["block_size"], mmeta["budget"], mmeta["update_every"]) == (BLOCK, BUDGET, 19)
    assert mmeta["processed_fingerprint"] == meta["fingerprint"] and not counts["unchanged"]
    assert counts["examples"] == sum(mmeta["splits"][s]["examples"] for s in ("train", "val")) > 100
    assert counts["val_examples"] == mmeta["splits"]["val"]["examples"] > 0
    itemsize = np.dtype(meta["dtype"]).itemsize
    tok = load_tokenizer(paths.processed, meta)
    schedule = make_schedule(BLOCK, BUDGET)
    for split in ("train", "val"):
        c = mmeta["splits"][split]
        assert len(files[f"{split}.examples.bin"]) == mmeta["files"][f"{split}.examples.bin"] == \
            c["examples"] * EXAMPLE_COLUMNS * 8
        assert len(files[f"{split}.prefixes.bin"]) == mmeta["files"][f"{split}.prefixes.bin"] == \
            c["prefix_tokens"] * itemsize
        data = open_tokens(paths.processed, split, meta)
        assert c["docs"] == len(list(document_bounds(data))) == int((np.asarray(data) == EOT_ID).sum())
        examples, prefixes = open_examples(paths.processed / MEMORY_DIR, split, meta["dtype"], mmeta)
        assert examples.shape == (c["examples"], EXAMPLE_COLUMNS)
        # every example is a fold of its document, computed again here the way generation reads a story
        expected = {}  # window start -> (prefix, any further columns: relevance)
        for start, end in document_bounds(data):
            for covered, prefix, *rest in document_folds(np.asarray(data[start:end]), tok, schedule):
                expected[start + covered] = (tuple(prefix), *rest)
        starts = examples[:, 0]
        assert (np.diff(starts) > 0).all()  # in story order, one example per fold point
        for ex in examples:
            row, plen = build_row(data, prefixes, ex, BLOCK)
            assert len(row) == BLOCK + 1 and plen == ex[2] >= 3
            assert row[0] == SUMMARY_OPEN_ID and row[plen - 1] == SUMMARY_CLOSE_ID
            assert SUMMARY_OPEN_ID not in row[1:] and SUMMARY_CLOSE_ID not in row[plen:]
            assert (row[plen:] == np.asarray(data[ex[0]: ex[0] + BLOCK + 1 - plen])).all()
            assert expected[int(ex[0])] == (tuple(row[:plen].tolist()), *(int(v) for v in ex[3:]))
            assert plen <= BUDGET + 2
        _, offset, length = (int(v) for v in examples[-1][:3])
        summary = tok.decode(prefixes[offset + 1: offset + length - 1])
        assert summary and Summary.parse(summary).render() == summary and Summary.parse(summary).names()


# ------------------------------------------------------------------------------------------- incremental
def test_second_run_does_no_work_and_force_or_a_deleted_file_rebuild_the_same_bytes(built, tmp_path):
    paths = fresh_copy(built, tmp_path)
    folder = paths.processed / MEMORY_DIR
    mtimes = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    again = prepare_memory.run(CFG, paths)
    assert again["unchanged"] and again["examples"] == built[2]["examples"]
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == mtimes  # nothing rewritten
    assert prepare_memory.run(CFG, paths, force=True)["unchanged"] is False
    assert memory_bytes(paths) == built[1]
    (folder / "train.examples.bin").unlink()
    assert prepare_memory.run(CFG, paths)["unchanged"] is False
    assert memory_bytes(paths) == built[1]
    with open(folder / "val.prefixes.bin", "ab") as f:  # a file of the wrong size is rebuilt too
        f.write(b"\0\0")
    assert prepare_memory.run(CFG, paths)["unchanged"] is False
    assert memory_bytes(paths) == built[1]
    shutil.rmtree(folder)  # from scratch
    assert prepare_memory.main(["--block-size", str(BLOCK), "--budget", str(BUDGET),
                                "--dataset-dir", str(paths.root)]) == 0
    assert memory_bytes(paths) == built[1]
    other = prepare_memory.run(MemoryConfig(block_size=BLOCK, budget=16), paths)  # other settings: rebuilt
    assert not other["unchanged"] and memory_bytes(paths) != built[1]


def test_bad_settings_are_one_line_errors(built, tmp_path, capsys):
    paths = fresh_copy(built, tmp_path)
    for flags, msg in ((["--block-size", "64", "--budget", "60"], "lower the budget"),
                       (["--block-size", "64", "--budget", "24", "--update-every", "100"], "update_every must be"),
                       (["--block-size", "8"], "block_size must be >= 16")):
        assert prepare_memory.main([*flags, "--dataset-dir", str(paths.root)]) == 2
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.slow
def test_kill_9_during_the_memory_step_then_rerun_gives_the_same_bytes(tmp_path):
    paths = demo_dataset(tmp_path / "ds", 500)
    folder = paths.processed / MEMORY_DIR
    cmd = [PY, MEMORY_PY, "--block-size", str(BLOCK), "--budget", str(BUDGET), "--dataset-dir", str(paths.root)]
    start = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    took = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    want = memory_bytes(paths)
    shutil.rmtree(folder)
    kills = 0
    for frac in (0.0, 0.5, 0.8):  # 0.0: as soon as the temp files exist
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while not (folder / ".train.examples.bin.tmp").is_file() or \
                    (folder / ".train.examples.bin.tmp").stat().st_size == 0:
                assert proc.poll() is None, "the memory step ended before it started writing"
                assert time.monotonic() < deadline
                time.sleep(0.01)
            time.sleep(frac * took / 2)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
        finally:
            proc.wait()
    assert kills >= 2, "the memory step finished before the kills landed; make the dataset bigger"
    assert not (folder / "memory.json").exists()
    with pytest.raises(UserError, match="memory_ratio > 0 needs memory examples") as e:
        train.run(cfg_of(max_iters=1, out_dir=str(tmp_path / "out")), paths)
    assert "\n" not in str(e.value) and "prepare_memory.py --block-size 64" in str(e.value)
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert memory_bytes(paths) == want


# ------------------------------------------------------------------------------------------- training
def test_mask_prefix_targets():
    y = torch.arange(20).view(2, 10)
    assert mask_prefix_targets(y, torch.tensor([0, 0])) is y
    got = mask_prefix_targets(y, torch.tensor([4, 0]))
    assert got[0].tolist() == [-1, -1, -1, 3, 4, 5, 6, 7, 8, 9]  # inputs < 3 predict prefix tokens
    assert got[1].tolist() == list(range(10, 20))
    assert y[0, 0] == 0  # the input is not changed in place
    full = mask_prefix_targets(y, torch.tensor([11, 1]))
    assert (full[0] == -1).all() and full[1].tolist() == list(range(10, 20))


def test_mixed_batches_mask_exactly_the_prefix(built):
    paths = built[0]
    meta = load_meta(paths.processed)
    data = open_tokens(paths.processed, "train", meta)
    memory = load_memory_examples(paths.processed, meta, "train", BLOCK)
    rows, plens = sample_mixed(data, memory, 8, BLOCK, 0.5, torch.Generator().manual_seed(1))
    assert rows.shape == (8, BLOCK + 1) and plens[:4].min() >= 3 and (plens[4:] == 0).all()
    y = mask_prefix_targets(rows[:, 1:], plens)
    for i in range(8):
        p = int(plens[i])
        if p:
            assert rows[i, 0] == SUMMARY_OPEN_ID and rows[i, p - 1] == SUMMARY_CLOSE_ID
            assert (y[i, : p - 1] == -1).all() and y[i, p - 1] == rows[i, p] != -1  # the story is trained on
        assert (y[i, max(p - 1, 0):] >= 0).all()
    again = sample_mixed(data, memory, 8, BLOCK, 0.5, torch.Generator().manual_seed(1))
    assert torch.equal(again[0], rows) and torch.equal(again[1], plens)
    plain, none = sample_mixed(data, memory, 8, BLOCK, 0.0, torch.Generator().manual_seed(1))
    assert (none == 0).all() and SUMMARY_OPEN_ID not in plain


def test_training_with_memory_resumes_bit_for_bit_and_records_the_settings(built, tmp_path):
    common = {"lr_decay_iters": 10, "dropout": 0.1}
    a = train.run(cfg_of(max_iters=10, out_dir=str(tmp_path / "a"), **common), built[0])
    assert a["steps"] == 10
    train.run(cfg_of(max_iters=5, out_dir=str(tmp_path / "b"), **common), built[0])
    b = train.run(cfg_of(max_iters=10, out_dir=str(tmp_path / "b"), **common), built[0])
    assert b["resumed"] and b["steps"] == 5
    wa, wb = (load_checkpoint(tmp_path / x / LAST).tensors for x in "ab")
    assert wa.keys() == wb.keys()
    for k in wa:
        if k.startswith(("model/", "optim/")):
            assert torch.equal(wa[k], wb[k]), k
    state = read_state(tmp_path / "a" / LAST)
    assert state["memory"] == {"block_size": BLOCK, "budget": BUDGET, "update_every": 19, "focus": "window",
                             "ratio": 0.5, "write_ratio": 0.0}
    plain = train.run(cfg_of(max_iters=2, memory_ratio=0.0, out_dir=str(tmp_path / "c")), built[0])
    assert plain["steps"] == 2 and read_state(tmp_path / "c" / LAST)["memory"] is None
    # memory examples change what is learned: not the same weights as plain windows
    d = train.run(cfg_of(max_iters=2, memory_ratio=1.0, out_dir=str(tmp_path / "d")), built[0])
    assert d["steps"] == 2
    wc, wd = (load_checkpoint(tmp_path / x / LAST).tensors for x in "cd")
    assert not torch.equal(wc["model/wte.weight"], wd["model/wte.weight"])


def test_training_errors_are_one_line(built, tmp_path, capsys):
    paths = built[0]
    with pytest.raises(UserError, match="cut for block_size 64, this run uses 32") as e:
        train.run(cfg_of(block_size=32, max_iters=1, out_dir=str(tmp_path / "x")), paths)
    assert "\n" not in str(e.value)
    for ratio in (-0.1, 1.5):
        with pytest.raises(UserError, match="memory_ratio must be between 0 and 1"):
            train.run(cfg_of(memory_ratio=ratio, max_iters=1, out_dir=str(tmp_path / "y")), paths)
    copy = fresh_copy(built, tmp_path)
    (copy.processed / MEMORY_DIR / "memory.json").unlink()  # as a kill mid-step leaves it
    with pytest.raises(UserError, match="needs memory examples.*prepare_memory.py --block-size 64") as e:
        train.run(cfg_of(max_iters=1, out_dir=str(tmp_path / "w")), copy)
    assert "\n" not in str(e.value) and not (tmp_path / "w" / LAST).exists()
    assert train.run(cfg_of(max_iters=1, memory_ratio=0.0, out_dir=str(tmp_path / "v")), copy)["steps"] == 1
    capsys.readouterr()  # (the runs above logged to stderr)
    rc = train.main(["--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "32", "--threads", "1",
                     "--max-iters", "1", "--memory-ratio", "0.5", "--no-plot", "--out-dir", str(tmp_path / "z"),
                     "--dataset-dir", str(paths.root)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "block_size 64" in err and "Traceback" not in err


def test_a_dataset_never_given_the_memory_step_trains_without_memory_and_says_so(built, tmp_path, caplog):
    copy = fresh_copy(built, tmp_path)
    shutil.rmtree(copy.processed / MEMORY_DIR)  # as after a plain prepare: the presets' memory_ratio still works
    with caplog.at_level("WARNING", logger="miniature_memory.train"):
        counts = train.run(cfg_of(max_iters=2, memory_ratio=0.5, out_dir=str(tmp_path / "plain")), copy)
    assert counts["steps"] == 2
    assert any("WITHOUT memory examples" in r.getMessage() and "prepare_memory.py --block-size 64" in r.getMessage()
               for r in caplog.records)
    assert read_state(tmp_path / "plain" / LAST)["memory"] is None
