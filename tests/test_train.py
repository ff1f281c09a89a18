"""Training stage: learning, resume (also after kill -9) bit-for-bit, vocabulary growth, safe checkpoints, config
errors, memory guard, metrics. Tiny models on a toy corpus written here; real optimizer steps, one thread."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from common.config import UserError, build_config
from common.fsio import read_jsonl, write_json
from common.paths import REPO_ROOT, DatasetPaths
from scripts import prepare_data
from training import train
from model.checkpoint import LAST, load_checkpoint, read_state
from model.gpt import ModelConfig, param_count
from training.train import TrainConfig, apply_preset, available_presets
from training.config import model_config
from training.loop import run_loop
from training.resume import check_tokenizer_growth
from training.runtime import PEAK_FACTOR, Dist, check_memory
from training.step import lr_at
from training.trainer import Trainer

PY = sys.executable
TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 16, "batch_size": 8, "threads": 1,
        "eval_iters": 2, "eval_interval": 10, "warmup_iters": 2, "lr": 1e-2, "min_lr": 1e-3, "plot": False,
        "log_interval": 5}


def write_docs(paths: DatasetPaths, docs: dict[str, str]) -> None:
    for name, text in docs.items():
        f = paths.cleaned / "toy" / f"{name}.txt"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text, encoding="utf-8")


def pattern_docs(n: int = 24) -> dict[str, str]:
    """A learnable corpus: each document repeats a short phrase (next characters are nearly certain)."""
    phrases = ["the cat sat on the mat. ", "a dog ran to the sea. ", "we go up and down. "]
    return {f"20260101_0000{i:02d}__toy__doc{i:02d}__{i:012x}": phrases[i % 3] * 40 for i in range(n)}


def prepare(paths: DatasetPaths) -> dict:
    return prepare_data.run(build_config(prepare_data.PrepareConfig, {"val_fraction": 0.25}), paths)


@pytest.fixture
def ds(tmp_path) -> DatasetPaths:
    paths = DatasetPaths.at(tmp_path / "ds")
    paths.make_dirs()
    write_docs(paths, pattern_docs())
    prepare(paths)
    return paths


def cfg_of(**over) -> TrainConfig:
    return build_config(TrainConfig, {**TINY, **over})


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    ckpt = load_checkpoint(out / LAST)
    return {k: v.clone() for k, v in ckpt.tensors.items() if k.startswith(("model/", "optim/"))}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs"


# ------------------------------------------------------------------------------------------- learning, metrics
def test_loss_goes_down_and_metrics_are_logged(ds, tmp_path):
    out = tmp_path / "out"
    counts = train.run(cfg_of(max_iters=40, out_dir=str(out), plot=True), ds)
    assert counts["at_step"] == 40 and counts["steps"] == 40 and not counts["resumed"]
    recs = list(read_jsonl(out / "metrics.jsonl"))
    assert [r["step"] for r in recs] == [0, 10, 20, 30, 40]
    for r in recs:
        assert {"step", "elapsed_s", "tokens_seen", "train_loss", "val_loss", "tokens_per_s", "peak_rss_mb"} <= r.keys()
        assert r["peak_rss_mb"] > 10
    assert recs[-1]["tokens_seen"] == 40 * 8 * 16
    assert recs[-1]["tokens_per_s"] > 0
    assert recs[-1]["val_loss"] < recs[0]["val_loss"] - 1.0  # the phrases are learnable
    assert (out / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "best.safetensors").is_file()
    state = read_state(out / LAST)
    assert state["step"] == 40 and state["data"]["fingerprint"] == json.loads(
        (ds.processed / "meta.json").read_text())["fingerprint"]
    assert state["tokenizer"]["chars"]  # the tokenizer travels in the checkpoint


def test_second_run_with_nothing_to_do_trains_nothing(ds, tmp_path):
    cfg = cfg_of(max_iters=5, out_dir=str(tmp_path / "out"))
    train.run(cfg, ds)
    counts = train.run(cfg, ds)
    assert counts["steps"] == 0 and counts["at_step"] == 5 and counts["resumed"]


# ------------------------------------------------------------------------------------------- resume
def test_resume_continues_the_step_count_and_matches_an_uninterrupted_run(ds, tmp_path):
    common = {"lr_decay_iters": 30, "dropout": 0.1}  # dropout: the global RNG state must be restored too
    train.run(cfg_of(max_iters=30, out_dir=str(tmp_path / "a"), **common), ds)
    first = train.run(cfg_of(max_iters=13, out_dir=str(tmp_path / "b"), **common), ds)
    second = train.run(cfg_of(max_iters=30, out_dir=str(tmp_path / "b"), **common), ds)
    assert first["at_step"] == 13 and second["resumed"] and second["steps"] == 17 and second["at_step"] == 30
    assert_same_weights(final_weights(tmp_path / "a"), final_weights(tmp_path / "b"))
    steps = [r["step"] for r in read_jsonl(tmp_path / "b" / "metrics.jsonl")]
    assert steps == sorted(steps) and steps[-1] == 30


def test_sigkill_mid_run_then_resume_gives_the_uninterrupted_weights(ds, tmp_path):
    flags = ["--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "16", "--batch-size", "8",
             "--threads", "1", "--eval-iters", "2", "--eval-interval", "50", "--ckpt-interval", "3",
             "--max-iters", "400", "--lr-decay-iters", "400", "--no-plot", "--dataset-dir", str(ds.root)]
    killed = tmp_path / "killed"
    cmd = [PY, str(REPO_ROOT / "training" / "train.py"), *flags, "--out-dir", str(killed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (killed / LAST).exists():
            assert proc.poll() is None, "training ended before its first checkpoint"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    at_kill = read_state(killed / LAST)["step"]
    assert 0 < at_kill < 400
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"resumed at step {at_kill:,}" in done.stderr
    assert read_state(killed / LAST)["step"] == 400
    straight = tmp_path / "straight"
    subprocess.run([PY, str(REPO_ROOT / "training" / "train.py"), *flags, "--out-dir", str(straight)],
                   check=True, capture_output=True)
    assert_same_weights(final_weights(straight), final_weights(killed))


# ------------------------------------------------------------------------------------------- data growth
def test_new_characters_grow_the_vocabulary_keeping_old_rows_and_optimizer_state(ds, tmp_path):
    out = tmp_path / "out"
    cfg = cfg_of(max_iters=10, out_dir=str(out))
    train.run(cfg, ds)
    before = load_checkpoint(out / LAST)
    old_vocab = before.state["model_config"]["vocab_size"]
    old_wte = before.tensors["model/wte.weight"].clone()
    old_m = before.tensors["optim/wte.weight/exp_avg"].clone()
    write_docs(ds, {"20260102_000000__toy__new__000000000001": "Zebras quiz! Xylophone? " * 30})
    assert prepare(ds)["new_chars"] >= 5
    cfg = cfg_of(max_iters=20, out_dir=str(out))
    t = Trainer(cfg, ds, out, Dist())
    new_vocab = t.model.cfg.vocab_size
    assert new_vocab > old_vocab and t.new_ids == new_vocab - old_vocab and t.data_changed
    assert torch.equal(t.model.wte.weight[:old_vocab].detach(), old_wte)  # old rows untouched
    assert t.model.lm_head.weight is t.model.wte.weight
    state = t.optimizer.state[t.model.wte.weight]
    assert torch.equal(state["exp_avg"][:old_vocab], old_m)
    assert torch.count_nonzero(state["exp_avg"][old_vocab:]) == 0 and state["exp_avg"].shape[0] == new_vocab
    assert t.step == 10
    result = run_loop(t)
    assert result.counts["at_step"] == 20 and result.counts["new_ids"] == new_vocab - old_vocab
    assert read_state(out / LAST)["model_config"]["vocab_size"] == new_vocab


def test_renumbered_tokenizer_is_refused(ds, tmp_path):
    out = tmp_path / "out"
    train.run(cfg_of(max_iters=3, out_dir=str(out)), ds)
    meta_path = ds.processed / "meta.json"
    meta = json.loads(meta_path.read_text())
    chars = meta["tokenizer"]["chars"]
    chars[0], chars[1] = chars[1], chars[0]
    write_json(meta_path, meta)
    with pytest.raises(UserError, match="renumbered characters"):
        train.run(cfg_of(max_iters=6, out_dir=str(out)), ds)


def test_tokenizer_growth_check():
    old = {"type": "char", "specials": ["a", "b"], "chars": ["x", "y"]}
    assert check_tokenizer_growth(old, dict(old)) == 0
    assert check_tokenizer_growth(old, {**old, "chars": ["x", "y", "z"]}) == 1
    with pytest.raises(UserError, match="fewer ids"):
        check_tokenizer_growth(old, {**old, "chars": ["x"]})
    with pytest.raises(UserError, match="specials"):
        check_tokenizer_growth(old, {**old, "specials": ["a", "c"]})


# ------------------------------------------------------------------------------------------- safe loading
class Payload:
    """Stands for an arbitrary object hidden in a pickle."""


def test_pickle_checkpoint_is_refused(ds, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    torch.save({"model": Payload()}, out / LAST)
    with pytest.raises(UserError, match=r"is a torch.save \(zip\) file, not a safetensors checkpoint: refused"):
        train.run(cfg_of(max_iters=3, out_dir=str(out)), ds)
    (out / LAST).write_bytes(b"\x80\x04\x95" + os.urandom(100))  # a bare pickle stream
    with pytest.raises(UserError, match=r"is a pickle \(legacy torch.save\) file"):
        train.run(cfg_of(max_iters=3, out_dir=str(out)), ds)
    (out / LAST).write_bytes((2**40).to_bytes(8, "little") + b"{}")  # a tampered header length
    with pytest.raises(UserError, match="not a safetensors checkpoint"):
        train.run(cfg_of(max_iters=3, out_dir=str(out)), ds)


def test_init_scratch_starts_over(ds, tmp_path):
    out = tmp_path / "out"
    train.run(cfg_of(max_iters=4, out_dir=str(out)), ds)
    counts = train.run(cfg_of(max_iters=2, out_dir=str(out), init="scratch"), ds)
    assert not counts["resumed"] and counts["at_step"] == 2
    assert [r["step"] for r in read_jsonl(out / "metrics.jsonl")] == [0, 2]


def test_changed_model_shape_is_refused_on_resume(ds, tmp_path):
    out = tmp_path / "out"
    train.run(cfg_of(max_iters=2, out_dir=str(out)), ds)
    with pytest.raises(UserError, match="n_embd=32"):
        train.run(cfg_of(max_iters=4, out_dir=str(out), n_embd=64), ds)


# ------------------------------------------------------------------------------------------- config
def test_config_typo_is_one_line_listing_valid_keys(tmp_path, capsys):
    with pytest.raises(UserError, match="unknown key 'n_layers'.*valid keys: .*n_layer"):
        build_config(TrainConfig, {"n_layers": 2})
    bad = tmp_path / "bad.yaml"
    bad.write_text("n_layer: 2\nlearning_rate: 0.1\n")
    assert train.main(["--config", str(bad), "--dataset-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "learning_rate" in err and "valid keys" in err
    with pytest.raises(UserError, match="unknown preset 'tinny'; presets: .*tiny"):
        apply_preset(build_config(TrainConfig, {"preset": "tinny"}))


def test_help_lists_every_key(capsys):
    with pytest.raises(SystemExit) as exit_:
        train.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--max-ram-mb" in out and "--out-dir" in out and "--init" in out and "{'" not in out


def test_preset_is_the_base_every_given_key_overrides(capsys):
    cfg = apply_preset(build_config(TrainConfig, {"preset": "tiny", "max_minutes": 3, "lr": 1e-3}))
    tiny = apply_preset(build_config(TrainConfig, {"preset": "tiny"}))
    assert cfg.name == "tiny" and cfg.max_minutes == 3 and cfg.n_embd == tiny.n_embd
    assert cfg.lr == 1e-3 != tiny.lr  # given explicitly, even though it equals the code default
    assert train.out_dir_of(cfg).name == "tiny"
    assert train.main(["--config", str(REPO_ROOT / "training/configs/small.yaml"), "--dry-run"]) == 0
    assert '"name":"small"' in capsys.readouterr().out


def test_every_preset_builds_and_model_fields_match_the_model():
    defaults = TrainConfig()
    for f in ModelConfig.__dataclass_fields__.values():
        if f.name != "vocab_size":
            assert getattr(defaults, f.name) == f.default, f.name
    sizes = {}
    for name in available_presets():
        cfg = apply_preset(build_config(TrainConfig, {"preset": name}))
        sizes[name] = param_count(model_config(cfg, 128))
    assert {"tiny", "small", "max-safe", "gpu-300m", "gpu-1b3"} <= sizes.keys()
    assert 8e6 < sizes["small"] < 12e6 and sizes["tiny"] < sizes["small"] < sizes["max-safe"]
    assert 2.5e8 < sizes["gpu-300m"] < 3.5e8 and 1.1e9 < sizes["gpu-1b3"] < 1.5e9


def test_the_config_is_checked_once_per_run(ds, tmp_path, monkeypatch):
    """The config check ends by building the model shape with a placeholder vocabulary of 1 (no data read yet);
    counting those builds counts the checks. The model itself is built with the data's vocabulary."""
    shapes = []
    post_init = ModelConfig.__post_init__

    def spy(self):
        shapes.append(self.vocab_size)
        post_init(self)

    monkeypatch.setattr(ModelConfig, "__post_init__", spy)
    train.run(cfg_of(max_iters=1, out_dir=str(tmp_path / "o")), ds)
    assert shapes.count(1) == 1 and len(shapes) > 1


def test_model_shape_errors_come_from_the_model_config(ds, tmp_path):
    """One validation of the shape: the training config hands its shape keys to ModelConfig and reports its
    message, so a shape rule lives in model/gpt.py only."""
    with pytest.raises(UserError, match=r"^model shape: block_size must be a whole number >= 1 \(got 0\)$"):
        train.run(cfg_of(max_iters=1, out_dir=str(tmp_path / "o"), block_size=0), ds)
    nan_dropout = dataclasses.replace(cfg_of(max_iters=1, out_dir=str(tmp_path / "o")), dropout=float("nan"))
    with pytest.raises(UserError, match=r"^model shape: dropout must be a finite number \(got nan\)$"):
        train.run(nan_dropout, ds)  # (the config file parser refuses NaN itself: replace() skips it)
    assert not (tmp_path / "o").exists()


def test_memory_guard_names_the_setting_to_lower(ds, tmp_path):
    with pytest.raises(UserError, match="exceeds max_ram_mb=60 MB.*lower batch_size"):
        train.run(cfg_of(max_iters=2, out_dir=str(tmp_path / "o"), max_ram_mb=60, batch_size=512), ds)
    assert not (tmp_path / "o" / LAST).exists()
    heavy = {"weights": 900.0, "grads": 900.0, "optimizer": 1800.0, "activations": 100.0, "total": 3700.0}
    with pytest.raises(UserError, match="lower n_embd or n_layer"):
        check_memory(heavy, 200, 2000, explicit=True)
    assert check_memory(heavy, 200, 6000, explicit=True) == pytest.approx(200 + PEAK_FACTOR * 3700)


def test_lr_schedule_warms_up_then_decays_to_min():
    lrs = [lr_at(s, 1.0, 0.1, 10, 100) for s in range(120)]
    assert lrs[0] < lrs[5] < lrs[9] <= 1.0
    assert all(a >= b for a, b in zip(lrs[10:100], lrs[11:100]))
    assert lrs[99] == pytest.approx(0.1, abs=1e-3) and lrs[100] == lrs[119] == 0.1


def test_missing_prepared_data_is_a_user_error(tmp_path):
    paths = DatasetPaths.at(tmp_path / "empty")
    paths.make_dirs()
    with pytest.raises(UserError, match="prepare"):
        train.run(cfg_of(out_dir=str(tmp_path / "o")), paths)
