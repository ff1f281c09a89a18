"""The evaluate stage: fixed-window val loss (checked against hand-made models), bits per char/byte, held-out
chunks, tokenizer checks, and an end-to-end run on a tiny model trained here (report fields, determinism, skip
when nothing changed, one-line errors)."""

import json
import math
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from common.config import UserError, build_config
from common.paths import DatasetPaths
from generation.val_loss import eval_windows, units_of, val_loss
from scripts import evaluate, prepare_data
from scripts.evaluate import reference_chunks
from training import train
from model.bpe import ByteTokenizer, train_bpe
from model.checkpoint import LAST
from model.tokenizer import EOT, CharTokenizer

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 16, "batch_size": 8, "threads": 1,
        "eval_iters": 2, "eval_interval": 10, "warmup_iters": 2, "lr": 1e-2, "min_lr": 1e-3, "plot": False,
        "log_interval": 10, "max_iters": 30}
PHRASES = ["the cat sat on the mat. ", "a dog ran to the sea. ", "we go up and down the hill. "]


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A prepared toy dataset and a tiny model trained on it for a few steps: (dataset paths, run folder)."""
    root = tmp_path_factory.mktemp("evaluate")
    paths = DatasetPaths.at(root / "ds")
    paths.make_dirs()
    for i in range(24):
        f = paths.cleaned / "toy" / f"20260101_0000{i:02d}__toy__doc{i:02d}__{i:012x}.txt"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(PHRASES[i % 3] * 30 + f"The end of story {i}.", encoding="utf-8")
    prepare_data.run(build_config(prepare_data.PrepareConfig, {"val_fraction": 0.25}), paths)
    out = root / "run"
    train.run(build_config(train.TrainConfig, {**TINY, "out_dir": str(out)}), paths)
    return paths, out


def run_main(paths, *flags):
    return evaluate.main(["--dataset-dir", str(paths.root), *map(str, flags)])


# ------------------------------------------------------------------------------------------- val loss
def test_windows_are_consecutive_cover_the_cap_and_end_short():
    assert eval_windows(10, 4, 0) == [(0, 4), (4, 4), (8, 1)]  # predicts tokens 1..9
    assert eval_windows(10, 4, 5) == [(0, 4), (4, 1)]
    assert eval_windows(9, 4, 100) == [(0, 4), (4, 4)]
    assert eval_windows(1, 4, 0) == [] and eval_windows(0, 4, 0) == []


class Uniform(torch.nn.Module):
    """Logits all zero: every token has probability 1/V, so the loss is ln V exactly."""

    def __init__(self, vocab):
        super().__init__()
        self.vocab = vocab

    def forward(self, x):
        return torch.zeros(*x.shape, self.vocab), None


class Successor(torch.nn.Module):
    """Puts all its weight on (token + 1) mod V: perfect on a counting sequence."""

    def __init__(self, vocab):
        super().__init__()
        self.vocab = vocab

    def forward(self, x):
        return torch.nn.functional.one_hot((x + 1) % self.vocab, self.vocab).float() * 50.0


def test_val_loss_of_hand_made_models():
    tokens = (np.arange(103) % 7).astype(np.uint16)
    loss, n, windows = val_loss(Uniform(7), tokens, block_size=10, max_eval_tokens=0, batch_size=4)
    assert n == 102 and windows == 11 and loss == pytest.approx(math.log(7))
    loss, n, _ = val_loss(Successor(7), tokens, block_size=10, max_eval_tokens=50, batch_size=3)
    assert n == 50 and loss == pytest.approx(0.0, abs=1e-6)
    # break the pattern at one position: exactly one of the 102 predictions is wrong, by a 50-logit margin
    broken = tokens.copy()
    broken[37] = (broken[37] + 3) % 7
    loss, n, _ = val_loss(Successor(7), broken, block_size=10, max_eval_tokens=0, batch_size=8)
    wrong = 2 * 50.0  # token 37 is mispredicted (from 36) and so is token 38 (predicted from the changed 37)
    assert loss == pytest.approx(wrong / n, rel=1e-4)


def test_val_loss_does_not_depend_on_the_batch_size(trained):
    from generation.inference import find_checkpoint, load_model
    from model.token_files import open_tokens
    paths, out = trained
    lm = load_model(find_checkpoint(str(out)))
    tokens = open_tokens(paths.processed, "val")
    a = val_loss(lm.model, tokens, 16, 500, batch_size=1)
    b = val_loss(lm.model, tokens, 16, 500, batch_size=7)
    assert a[1] == b[1] == 500 and a[0] == pytest.approx(b[0], rel=1e-5)


def test_units_are_chars_bytes_or_decoded_bytes():
    ids = np.array([16, 17, 0, 18], dtype=np.int64)
    assert units_of(CharTokenizer("abc"), ids) == ("char", 4)
    byte = ByteTokenizer()
    assert units_of(byte, byte.encode("né" + EOT)) == ("byte", 4)  # n, two bytes of é, one end-of-text
    bpe = train_bpe(["the cat sat on the mat and the dog ran. " * 20, "Zoë and the naïve fox. " * 20], 300)
    text = "the cat and the naïve dog ran"
    ids = bpe.encode(text + EOT + text)
    assert len(ids) < len(text.encode("utf-8"))  # merges happened: tokens are not bytes
    assert units_of(bpe, ids) == ("byte", 2 * len(text.encode("utf-8")) + 1)


def test_tokenizer_mismatches_are_user_errors(tmp_path):
    lm = SimpleNamespace(tokenizer=CharTokenizer("ab"))
    tokens = np.array([16, 17, 18])  # 18 = "c": a character the model never saw
    with pytest.raises(UserError, match="beyond the model's vocabulary"):
        evaluate.check_tokens(lm, CharTokenizer("abc"), tokens, 18, tmp_path / "m", tmp_path)
    with pytest.raises(UserError, match="another tokenizer"):
        evaluate.check_tokens(lm, CharTokenizer("xy"), tokens[:2], 18, tmp_path / "m", tmp_path)
    evaluate.check_tokens(lm, CharTokenizer("abc"), tokens[:2], 18, tmp_path / "m", tmp_path)  # fine


# ------------------------------------------------------------------------------------------- held-out chunks
def test_reference_chunks_have_the_wanted_lengths_and_start_on_words(tmp_path):
    docs = [" ".join(f"w{d}x{i}" for i in range(200)) for d in range(5)]
    path = tmp_path / "val.txt"
    path.write_text("".join(doc + EOT for doc in docs), encoding="utf-8")
    lengths = [50, 0, 120, 80]
    chunks = reference_chunks(path, lengths)
    assert [len(t) for _, t in chunks] == lengths
    offsets = [off for off, _ in chunks]
    assert offsets == sorted(offsets) and offsets[0] == 0
    whole = "\n\n".join(docs)
    for _, text in chunks[2:]:
        assert text.startswith("w") and EOT not in text and text in whole + "\n\n"
    assert reference_chunks(path, lengths) == chunks  # deterministic
    # a file shorter than a chunk: the chunk is what there is
    short = tmp_path / "short.txt"
    short.write_text("Tiny text." + EOT, encoding="utf-8")
    assert reference_chunks(short, [100]) == [(0, "Tiny text.\n\n")]


def test_reference_chunks_cope_with_multibyte_text(tmp_path):
    path = tmp_path / "val.txt"
    path.write_text(("Ωμέγα λύκος ζῷον. " * 400) + EOT, encoding="utf-8")
    for off, text in reference_chunks(path, [60, 60, 60]):
        assert len(text) == 60 and "\ufffd" not in text and text[0] in "Ωλζ"


# ------------------------------------------------------------------------------------------- end to end
def test_report_end_to_end(trained, tmp_path, capsys):
    paths, out = trained
    rep = tmp_path / "rep"
    args = ["--checkpoint", out, "--num-samples", 3, "--max-new-tokens", 60, "--report-dir", rep,
            "--max-eval-tokens", 800]
    assert run_main(paths, *args) == 0
    printed = capsys.readouterr().out
    report = json.loads((rep / "report.json").read_text())
    md = (rep / "report.md").read_text()
    assert md in printed and "| distinct-2 (words) |" in md and "bits/char" in md
    val = report["val"]
    assert val["unit"] == "char" and val["tokens"] == 800 and val["windows"] == 50 and val["block_size"] == 16
    assert val["bits_per_unit"] == pytest.approx(val["loss"] / math.log(2))  # char: bits/char = bits/token
    assert val["bits_per_token"] == pytest.approx(val["loss"] / math.log(2))
    assert 0 < val["loss"] < math.log(report_vocab(report, out))  # trained: better than uniform
    assert report["checkpoint"]["step"] == TINY["max_iters"] and report["checkpoint"]["path"] == str(out / LAST)
    items = report["samples"]["items"]
    assert [s["seed"] for s in items] == [1337, 1338, 1339]
    assert all(0 < s["tokens"] <= 60 and isinstance(s["text"], str) for s in items)
    refs = report["reference"]["items"]
    assert [r["chars"] for r in refs] == [len(s["text"]) for s in items]  # same length as each sample
    agg = report["samples"]["aggregate"]
    assert agg["texts"] == 3 and report["reference"]["aggregate"]["texts"] == 3
    assert {"distinct_1", "distinct_2", "distinct_3", "repeated_4gram_fraction", "avg_sentence_words",
            "longest_cycle_len", "tail_loops", "tail_loop_rate"} <= agg.keys()
    assert f"{val['tokens']:,} val_tokens" in printed and "bits_per_char" in printed

    # nothing changed: no work, same files; --force redoes it and gets the same numbers (timings aside)
    before = (rep / "report.json").read_bytes()
    assert run_main(paths, *args) == 0
    assert "unchanged" in capsys.readouterr().out and (rep / "report.json").read_bytes() == before
    assert run_main(paths, *args, "--force") == 0
    again = json.loads((rep / "report.json").read_text())
    for key in ("val", "samples", "reference", "checkpoint", "dataset", "fingerprint"):
        assert again[key] == report[key], key


def report_vocab(report, out) -> int:
    from model.checkpoint import read_state
    return read_state(out / LAST)["model_config"]["vocab_size"]


def test_default_report_dir_is_beside_the_checkpoint(trained, tmp_path):
    paths, out = trained
    run_dir = tmp_path / "copy"
    shutil.copytree(out, run_dir)
    assert run_main(paths, "--checkpoint", run_dir / LAST, "--num-samples", 1, "--max-new-tokens", 20,
                    "--max-eval-tokens", 64) == 0
    report = json.loads((run_dir / "eval" / "report.json").read_text())
    assert report["val"]["tokens"] == 64 and len(report["samples"]["items"]) == 1


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1
    return err


def test_missing_checkpoint_or_val_bin_is_a_one_line_error(trained, tmp_path, capsys):
    paths, out = trained
    assert run_main(paths, "--checkpoint", tmp_path / "nope") == 2
    assert "checkpoint not found" in one_line_error(capsys)
    assert run_main(paths, "--checkpoint", tmp_path) == 2  # a folder without last.safetensors
    assert LAST in one_line_error(capsys)
    broken = DatasetPaths.at(tmp_path / "ds")
    shutil.copytree(paths.root, broken.root)
    (broken.processed / "val.bin").unlink()
    assert run_main(broken, "--checkpoint", out, "--report-dir", tmp_path / "r") == 2
    assert "val.bin is missing" in one_line_error(capsys)
    assert run_main(paths, "--checkpoint", out, "--num-samples", -1) == 2
    assert "num_samples" in one_line_error(capsys)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("flags,msg", [
    (("--top-p", 0), "top_p"),
    (("--temperature", -1), "temperature"),  # not greedy decoding: 0 is
    (("--repetition-penalty", 0), "repetition_penalty"),
])
def test_bad_sampling_settings_are_one_line_errors_before_any_work(trained, tmp_path, capsys, flags, msg):
    paths, out = trained
    assert run_main(paths, "--checkpoint", out, "--report-dir", tmp_path / "r", "--num-samples", 1,
                    "--max-new-tokens", 20, "--max-eval-tokens", 64, *flags) == 2
    assert msg in one_line_error(capsys)
    assert not (tmp_path / "r").exists()
