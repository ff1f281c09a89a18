"""Training, generation and evaluation against hostile settings and files: non-finite or out-of-range settings,
a run whose loss turns NaN, a checkpoint whose stored state was tampered with, a disk that fills up mid-save.
Each gets a one-line error (never a traceback), and the last good checkpoint stays as it was. Tiny models on the
toy corpus of test_train; real optimizer steps."""

import dataclasses
import errno
import json
import re
import resource
import signal
import subprocess
import sys

import pytest
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from common.config import UserError
from common.fsio import read_jsonl
from common.paths import REPO_ROOT
from scripts import evaluate, generate
from tests.test_train import TINY, cfg_of, ds  # noqa: F401  (ds: the toy dataset fixture)
from model import checkpoint
from training import train
from model.checkpoint import BEST, LAST, load_checkpoint, read_state
from training.trainer import Trainer

NAN, INF = float("nan"), float("inf")


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def all_finite(path) -> bool:
    return all(bool(torch.isfinite(t).all()) for k, t in load_checkpoint(path).tensors.items()
               if k.startswith("model/"))


# ------------------------------------------------------------------------------------------- settings
@pytest.mark.parametrize("key,value,msg", [
    ("lr", NAN, "lr must be a finite number"), ("lr", INF, "lr must be a finite number"),
    ("lr", 0.0, "lr must be > 0"), ("lr", -1e-3, "lr must be > 0"),
    ("weight_decay", NAN, "weight_decay must be a finite"), ("weight_decay", -0.1, "weight_decay must be 0 or more"),
    ("min_lr", NAN, "min_lr must be a finite"), ("min_lr", -1e-4, "min_lr must be 0 or more"),
    ("beta2", 1.0, r"beta2 must be in \[0, 1\)"), ("grad_clip", INF, "grad_clip must be a finite"),
    ("rope_base", NAN, "rope_base must be a finite"), ("max_minutes", NAN, "max_minutes must be a finite"),
    ("n_embd", -128, "n_embd must be a whole number >= 1"), ("n_head", 3, "divisible by n_head"),
    ("n_layer", 0, "n_layer must be a whole number >= 1"), ("block_size", 10**12, "block_size must be <="),
])
def test_out_of_range_training_settings_are_refused_before_anything_is_written(ds, tmp_path, key, value, msg):
    # dataclasses.replace skips the config file parser: the trainer's own checks are what is tested
    cfg = dataclasses.replace(cfg_of(max_iters=4, out_dir=str(tmp_path / "o")), **{key: value})
    with pytest.raises(UserError, match=msg) as err:
        train.run(cfg, ds)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "o" / LAST).exists()


@pytest.mark.parametrize("flag,value,key", [("--n-embd", "-128", "n_embd"), ("--lr", "nan", "lr"),
                                            ("--weight-decay", "nan", "weight_decay"), ("--min-lr", "nan", "min_lr")])
def test_bad_settings_on_the_command_line_are_one_line(ds, tmp_path, capsys, flag, value, key):
    assert train.main(["--preset", "tiny", flag, value, "--dataset-dir", str(ds.root),
                       "--out-dir", str(tmp_path / "o")]) == 2
    assert key in one_line_error(capsys)
    assert not (tmp_path / "o" / LAST).exists()


# ------------------------------------------------------------------------------------------- divergence
def test_a_loss_that_turns_nan_stops_the_run_keeping_the_last_good_checkpoint(ds, tmp_path):
    out = tmp_path / "out"
    train.run(cfg_of(max_iters=10, eval_interval=5, out_dir=str(out)), ds)
    before = (out / LAST).read_bytes()
    # a finite but absurd learning rate: the weights blow up in one step and the next loss is NaN
    with pytest.raises(UserError, match=r"training loss became nan at step 12 .*step 10\) is kept") as err:
        train.run(cfg_of(max_iters=30, eval_interval=5, out_dir=str(out), lr=1e30, warmup_iters=0), ds)
    assert "\n" not in str(err.value)
    assert (out / LAST).read_bytes() == before and read_state(out / BEST)["step"] == 10
    assert all_finite(out / LAST)
    assert [r["step"] for r in read_jsonl(out / "metrics.jsonl")] == [0, 5, 10]  # nothing NaN was logged
    counts = train.run(cfg_of(max_iters=15, eval_interval=5, out_dir=str(out)), ds)  # a saner lr resumes
    assert counts["resumed"] and counts["at_step"] == 15 and all_finite(out / LAST)


def test_a_fresh_run_that_diverges_saves_no_best(ds, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(UserError, match="no checkpoint was written"):
        train.run(cfg_of(max_iters=10, eval_interval=5, out_dir=str(out), lr=1e30, warmup_iters=0), ds)
    assert not (out / LAST).exists() and not (out / BEST).exists()


def test_weights_that_are_not_finite_are_never_saved(ds, tmp_path, monkeypatch):
    """A step that leaves a NaN weight but reported a finite loss (the loss is computed before the update):
    the checkpoint written next would hold it; the save refuses instead."""
    out = tmp_path / "out"
    train.run(cfg_of(max_iters=4, out_dir=str(out), ckpt_interval=2), ds)
    step = Trainer.train_step

    def poisoned(self):
        loss = step(self)
        if self.step == 5:  # the step about to become step 6, a checkpoint step
            with torch.no_grad():
                self.model.wte.weight[0, 0] = NAN
        return loss

    monkeypatch.setattr(Trainer, "train_step", poisoned)
    with pytest.raises(UserError, match=r"weight 'wte.weight' became not finite at step 6 .*step 4\) is kept"):
        train.run(cfg_of(max_iters=10, out_dir=str(out), ckpt_interval=2), ds)
    assert read_state(out / LAST)["step"] == 4 and all_finite(out / LAST)


# ------------------------------------------------------------------------------------------- tampered state
@pytest.fixture
def good(ds, tmp_path):  # noqa: F811
    out = tmp_path / "good"
    train.run(cfg_of(max_iters=2, eval_interval=2, out_dir=str(out)), ds)
    return out / LAST


def tampered(src, dst, edit_state=None, edit_tensors=None):
    """A copy of checkpoint `src` at `dst` (a last.safetensors) with its JSON state and/or tensors edited."""
    tensors = load_file(str(src))
    with safe_open(str(src), framework="pt") as f:
        state = json.loads(f.metadata()["state"])
    if edit_state:
        edit_state(state)
    if edit_tensors:
        edit_tensors(tensors)
    dst.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(dst), metadata={"state": json.dumps(state)})  # NaN is written as JSON's NaN
    return dst


def set_model(**values):
    return lambda st: st["model_config"].update(values)


def grow(name, rows):
    return lambda ts: ts.update({name: torch.cat([ts[name], torch.zeros(rows, *ts[name].shape[1:])])})


TAMPERED = {
    "n_head does not divide": (set_model(n_head=3), None, "divisible by n_head"),
    "NaN rope_base": (set_model(rope_base=NAN), None, "rope_base must be a finite number"),
    "block_size 1e12": (set_model(block_size=1e12), None, "block_size must be a whole number"),
    "block_size 10**12": (set_model(block_size=10**12), None, "block_size must be <="),
    "negative width": (set_model(n_embd=-128), None, "n_embd must be a whole number >= 1"),
    "vocab_size off by 5": (lambda st: st["model_config"].update(vocab_size=st["model_config"]["vocab_size"] + 5),
                            None, "model_config describes .* weights but the file holds"),
    "vocab_size 10**12": (set_model(vocab_size=10**12), None, "model_config describes .* weights"),
    "no model_config": (lambda st: st.pop("model_config"), None, "no model_config"),
    "bad alias": (lambda st: st.update(aliases={"lm_head.weight": "nope"}), None, "aliases"),
    "extra embedding rows": (None, grow("model/wte.weight", 3), "weights but the file holds"),
    "transposed matrix": (None, lambda ts: ts.update({"model/blocks.0.attn.qkv.weight":
                                                      ts["model/blocks.0.attn.qkv.weight"].t().contiguous()}),
                          r"'blocks.0.attn.qkv.weight' has shape \(32, 96\)"),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_tampered_checkpoint_is_one_line_in_resume_generate_and_evaluate(ds, good, tmp_path, capsys, case):
    edit_state, edit_tensors, msg = TAMPERED[case]
    bad = tampered(good, tmp_path / "bad" / LAST, edit_state, edit_tensors)
    original = bad.read_bytes()
    config = tmp_path / "tiny.yaml"
    config.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in TINY.items()))
    assert train.main(["--config", str(config), "--max-iters", "4", "--dataset-dir", str(ds.root),
                       "--out-dir", str(bad.parent)]) == 2
    err = one_line_error(capsys)
    assert re.search(msg, err), err
    assert generate.main(["--checkpoint", str(bad), "--max-new-tokens", "5"]) == 2
    assert re.search(msg, one_line_error(capsys))
    assert evaluate.main(["--checkpoint", str(bad), "--dataset-dir", str(ds.root), "--num-samples", "1",
                          "--max-new-tokens", "5", "--report-dir", str(tmp_path / "r")]) == 2
    assert re.search(msg, one_line_error(capsys))
    assert bad.read_bytes() == original  # refused, not rewritten


@pytest.mark.parametrize("key,value", [("step", "abc"), ("step", -3), ("best_loss", NAN), ("rng", None)])
def test_tampered_run_counters_are_one_line_on_resume(ds, good, tmp_path, key, value):
    bad = tampered(good, tmp_path / "bad" / LAST, lambda st: st.update({key: value}))
    with pytest.raises(UserError, match=key) as err:
        train.run(cfg_of(max_iters=4, out_dir=str(bad.parent)), ds)
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------------------------------- disk full
def full_disk_writer(error):
    """A stand-in for safetensors' file writer that writes part of the file, then fails like a full disk."""
    def write(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"\0" * 1000)
        raise error
    return write


@pytest.mark.parametrize("error", [
    SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)"),  # what it raises
    OSError(errno.ENOSPC, "No space left on device"),
])
def test_disk_full_during_a_save_is_one_line_and_keeps_the_previous_checkpoint(ds, tmp_path, monkeypatch, error):
    out = tmp_path / "out"
    train.run(cfg_of(max_iters=5, eval_interval=5, out_dir=str(out)), ds)
    before = (out / LAST).read_bytes()
    monkeypatch.setattr(checkpoint, "save_file", full_disk_writer(error))
    with pytest.raises(UserError, match="No space left on device.*previous checkpoint there, if any, is unchanged") \
            as err:
        train.run(cfg_of(max_iters=10, eval_interval=5, out_dir=str(out)), ds)
    assert "\n" not in str(err.value)
    assert (out / LAST).read_bytes() == before and read_state(out / LAST)["step"] == 5
    assert read_state(out / BEST)["step"] == 5
    assert not list(out.glob(".*.tmp"))  # the half-written temp file is gone
    monkeypatch.undo()
    assert train.run(cfg_of(max_iters=10, eval_interval=5, out_dir=str(out)), ds)["at_step"] == 10


def test_disk_full_while_pointing_best_at_last_keeps_the_previous_best(ds, tmp_path, monkeypatch):
    out = tmp_path / "out"
    train.run(cfg_of(max_iters=5, eval_interval=5, out_dir=str(out)), ds)
    best_before = (out / BEST).read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.os, "link", full)
    monkeypatch.setattr("shutil.copyfile", full)
    with pytest.raises(UserError, match=r"cannot update .*best.safetensors \(No space left on device\)"):
        train.run(cfg_of(max_iters=10, eval_interval=5, out_dir=str(out)), ds)
    assert (out / BEST).read_bytes() == best_before and read_state(out / LAST)["step"] == 10
    assert not list(out.glob(".*.tmp"))


def test_disk_full_while_logging_metrics_is_one_line(ds, tmp_path, monkeypatch):
    """On a full disk the metrics line of an evaluation is the first write to fail, before the checkpoint."""
    from training import metrics
    out = tmp_path / "out"
    train.run(cfg_of(max_iters=5, eval_interval=5, out_dir=str(out)), ds)
    before = (out / LAST).read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(metrics, "append_jsonl", full)
    with pytest.raises(UserError, match="metrics.jsonl .No space left on device.*last checkpoint is kept"):
        train.run(cfg_of(max_iters=10, eval_interval=5, out_dir=str(out)), ds)
    assert (out / LAST).read_bytes() == before


def test_a_real_file_size_limit_mid_save_is_one_line(ds, tmp_path):
    """No monkeypatch: the OS refuses the write (RLIMIT_FSIZE, as a full disk would), in a real training run."""
    out = tmp_path / "out"
    train.run(cfg_of(max_iters=5, eval_interval=5, out_dir=str(out)), ds)
    before = (out / LAST).read_bytes()
    limit = len(before) // 2

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    flags = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items() if not isinstance(v, bool)]
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "training" / "train.py"), *flags, "--no-plot",
                           "--max-iters", "10", "--eval-interval", "5", "--dataset-dir", str(ds.root),
                           "--out-dir", str(out)], capture_output=True, text=True, preexec_fn=limit_file_size,
                          timeout=300)
    assert proc.returncode == 2, proc.stderr
    last_line = proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr and "cannot write checkpoint" in last_line and "File too large" in last_line
    assert (out / LAST).read_bytes() == before and all_finite(out / LAST)
    assert not list(out.glob(".*.tmp"))

