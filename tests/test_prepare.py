"""The prepare stage: consistent outputs, stable splits and ids as the corpus grows, no work twice, crash safety."""

import hashlib
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from common.config import UserError
from common.paths import REPO_ROOT, DatasetPaths
from scripts import prepare_data
from corpus import prepare_io
from scripts.prepare_data import PrepareConfig, list_cleaned_items, run, split_of, split_score
from model.token_files import load_meta, load_tokenizer, open_tokens, token_dtype
from model.tokenizer import EOT, NUM_SPECIAL, SCENE_BREAK

PREPARE_PY = str(REPO_ROOT / "scripts" / "prepare_data.py")
WORDS = ("the a lamp river stone quiet she he ran said looked over under window morning night door "
         "letter garden slowly bright cold warm").split()


def item_name(n: int, source: str = "t") -> str:
    return f"20260101_{n // 3600:02d}{n // 60 % 60:02d}{n % 60:02d}__{source}__doc-{n}__0123456789ab"


def story(n: int, extra: str = "", paragraphs: int = 4) -> str:
    """A small seeded story with a unique first line; scene breaks as the cleaner writes them."""
    rnd = random.Random(n)
    paras = [f"Story number {n}."]
    for i in range(paragraphs):
        paras.append(" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(8, 30))).capitalize() + ".")
        if i == 1 and n % 3 == 0:
            paras.append(SCENE_BREAK)
    return "\n\n".join(paras) + extra + "\n"


def add_docs(paths: DatasetPaths, texts: dict[int, str], source: str = "t") -> list[str]:
    """Write cleaned files directly; returns their item ids."""
    items = []
    for n, text in texts.items():
        p = paths.cleaned / source / f"{item_name(n, source)}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text.encode("utf-8"))
        items.append(f"{source}/{p.stem}")
    return items


def new_dataset(tmp_path: Path, name: str = "ds") -> DatasetPaths:
    paths = DatasetPaths.at(tmp_path / name)
    paths.make_dirs()
    return paths


def processed_digest(paths: DatasetPaths) -> dict[str, str]:
    """sha256 of every file in processed/, hidden ones included (none may be left behind)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(paths.processed.iterdir())}


def docs_of(paths: DatasetPaths, split: str) -> list[str]:
    """The documents of a split's text file (each one is followed by the end-of-text marker)."""
    text = (paths.processed / f"{split}.txt").read_bytes().decode("utf-8")  # no newline translation
    assert text == "" or text.endswith(EOT)
    return text.split(EOT)[:-1]


CFG = PrepareConfig()


# ---------------------------------------------------------------- the split

def test_split_is_a_salted_hash_of_the_item_id_near_the_requested_fraction():
    ids = [f"t/{item_name(n)}" for n in range(2000)]
    val = [i for i in ids if split_of(i, 0.1, "s") == "val"]
    assert 0.07 < len(val) / len(ids) < 0.13
    assert all(split_of(i, 0.1, "s") == split_of(i, 0.1, "s") for i in ids[:50])
    # A larger fraction only moves items from train to val; another salt reshuffles.
    assert set(val) <= {i for i in ids if split_of(i, 0.3, "s") == "val"}
    assert val != [i for i in ids if split_of(i, 0.1, "other") == "val"]
    assert 0.0 <= min(split_score(i, "s") for i in ids) and max(split_score(i, "s") for i in ids) < 1.0


# ---------------------------------------------------------------- outputs

def test_outputs_are_consistent_with_the_cleaned_documents(tmp_path):
    paths = new_dataset(tmp_path)
    texts = {n: story(n) for n in range(1, 41)}
    items = add_docs(paths, texts)
    counts = run(CFG, paths)
    meta = load_meta(paths.processed)
    tok = load_tokenizer(paths.processed)
    assert meta["dtype"] == "uint16" and meta["vocab_size"] == tok.vocab_size
    by_item = dict(zip(items, texts.values()))
    for split in ("train", "val"):
        ids = open_tokens(paths.processed, split)
        assert ids.dtype == np.uint16 and len(ids) == meta["splits"][split]["tokens"]
        txt = (paths.processed / f"{split}.txt").read_bytes().decode("utf-8")
        assert tok.decode(ids) == txt
        assert int((ids == 0).sum()) == meta["splits"][split]["docs"]
        expected = [by_item[i] for i in items if split_of(i, CFG.val_fraction, CFG.split_salt) == split]
        assert docs_of(paths, split) == expected
        assert meta["splits"][split]["chars"] == sum(map(len, expected))
    assert counts["docs"] == 40 and counts["val_docs"] == meta["splits"]["val"]["docs"] >= 1
    assert counts["train_tokens"] + counts["val_tokens"] == meta["sources"]["t"]["tokens"]
    assert counts["new_chars"] == tok.vocab_size - NUM_SPECIAL and counts["unchanged"] is False
    assert "*" not in tok.chars  # scene breaks are one id, never spelled out
    assert sorted(p.name for p in paths.processed.iterdir()) == ["meta.json", "train.bin", "train.txt",
                                                                  "val.bin", "val.txt"]


def test_non_ascii_text_survives_the_round_trip(tmp_path):
    paths = new_dataset(tmp_path)
    texts = {1: "Zoë looked up.\n", 2: "Привет, мир!\n\n* * *\n\nПока.\n", 3: "日本語のテキスト。\n",
             4: "Emoji 🙂 and tabs\tand\r\nCRLF line ends.\n"}
    add_docs(paths, texts)
    run(PrepareConfig(val_fraction=0.0), paths)
    tok = load_tokenizer(paths.processed)
    assert tok.decode(open_tokens(paths.processed, "train")) == "".join(t + EOT for t in texts.values())
    assert docs_of(paths, "train") == list(texts.values())
    assert {"ë", "П", "日", "🙂", "\r"} <= set(tok.chars)


def test_a_literal_marker_inside_a_document_is_removed_so_documents_stay_separate(tmp_path, caplog):
    paths = new_dataset(tmp_path)
    add_docs(paths, {1: f"before{EOT}after <|endo{EOT}ftext|> end\n", 2: "", 3: "plain\n"})
    with caplog.at_level(logging.WARNING):
        counts = run(PrepareConfig(val_fraction=0.0), paths)
    meta = load_meta(paths.processed)
    assert docs_of(paths, "train") == ["beforeafter  end\n", "plain\n"]
    assert meta["markers_removed"] == 3 and meta["empty_docs"] == 1 and counts["docs"] == 2
    assert "empty document" in caplog.text


def test_token_dtype_is_uint16_until_ids_no_longer_fit_then_uint32(tmp_path, monkeypatch):
    assert token_dtype(NUM_SPECIAL + 10) == np.uint16
    assert token_dtype(65535) == np.uint16 and token_dtype(65536) == np.uint32
    paths = new_dataset(tmp_path)
    # 66,000 distinct characters (no surrogates, no line breaks): more ids than uint16 is used for.
    cps = [c for c in range(0x21, 0x21 + 68000) if not 0xD800 <= c <= 0xDFFF][:66000]
    big = "".join(map(chr, cps)) + "\n"
    add_docs(paths, {1: "small text\n", 2: big})
    run(PrepareConfig(val_fraction=0.0), paths)
    meta = load_meta(paths.processed)
    assert meta["dtype"] == "uint32" and meta["vocab_size"] > 65535
    ids = open_tokens(paths.processed, "train")
    assert ids.dtype == np.uint32 and int(ids.max()) == meta["vocab_size"] - 1
    assert load_tokenizer(paths.processed).decode(ids) == f"small text\n{EOT}{big}{EOT}"
    # Widening in the middle of a document (small pieces) writes the same bytes.
    monkeypatch.setattr(prepare_io, "PIECE_BYTES", 4096)
    monkeypatch.setattr(prepare_io, "MAX_CARRY_CHARS", 4096)
    pieces = new_dataset(tmp_path, "pieces")
    add_docs(pieces, {1: "small text\n", 2: big})
    run(PrepareConfig(val_fraction=0.0), pieces)
    assert processed_digest(pieces) == processed_digest(paths)


def test_small_pieces_and_very_long_lines_give_the_same_bytes(tmp_path, monkeypatch):
    texts = {1: story(1), 2: "x" * 3000 + "<|summary|>" + "é" * 2000 + "* * *" + "日" * 1500 + "\n",
             3: ("word " * 700 + "* * *") * 3}  # no newline at all
    ref = new_dataset(tmp_path, "ref")
    add_docs(ref, texts)
    run(CFG, ref)
    small = new_dataset(tmp_path, "small")
    add_docs(small, texts)
    monkeypatch.setattr(prepare_io, "PIECE_BYTES", 7)  # cuts inside multi-byte characters
    monkeypatch.setattr(prepare_io, "MAX_CARRY_CHARS", 50)
    run(CFG, small)
    assert processed_digest(small) == processed_digest(ref)


# ---------------------------------------------------------------- incremental behaviour

def test_second_run_does_no_work(tmp_path):
    paths = new_dataset(tmp_path)
    add_docs(paths, {n: story(n) for n in range(1, 21)})
    first = run(CFG, paths)
    stat = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in paths.processed.iterdir()}
    second = run(CFG, paths)
    assert second["unchanged"] is True and second["new_chars"] == 0
    assert {k: second[k] for k in ("docs", "train_tokens", "val_tokens")} == \
        {k: first[k] for k in ("docs", "train_tokens", "val_tokens")}
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in paths.processed.iterdir()} == stat
    # A changed config or a changed document is work again; --force redoes it with the same bytes.
    before = processed_digest(paths)
    assert run(CFG, paths, force=True)["unchanged"] is False
    assert processed_digest(paths) == before
    assert run(PrepareConfig(val_fraction=0.5), paths)["unchanged"] is False


def test_split_and_ids_are_stable_as_the_corpus_grows(tmp_path):
    paths = new_dataset(tmp_path)
    early = {n: story(n) for n in range(1, 31)}
    late = {n: story(n, extra="\nNaïve café, Ωmega.") for n in range(31, 71)}
    items = dict(zip(add_docs(paths, early), early.values()))
    run(CFG, paths)
    old_meta = load_meta(paths.processed)
    old = {s: (docs_of(paths, s), (paths.processed / f"{s}.bin").read_bytes()) for s in ("train", "val")}
    items.update(zip(add_docs(paths, late), late.values()))
    counts = run(CFG, paths)
    meta = load_meta(paths.processed)
    old_chars = old_meta["tokenizer"]["chars"]
    late_chars = set("".join(late.values()).replace(SCENE_BREAK, ""))
    assert counts["new_chars"] == len(late_chars - set(old_chars)) >= 3
    assert meta["tokenizer"]["chars"][: len(old_chars)] == old_chars
    for s in ("train", "val"):
        docs, bin_bytes = old[s]
        # New items arrive later, so each split's old documents and their token bytes are an exact prefix.
        assert docs_of(paths, s)[: len(docs)] == docs
        assert (paths.processed / f"{s}.bin").read_bytes()[: len(bin_bytes)] == bin_bytes
    val_docs = docs_of(paths, "val")
    assert 1 <= len(val_docs) < len(items)
    for item, text in items.items():
        assert (text in val_docs) == (split_of(item, CFG.val_fraction, CFG.split_salt) == "val")


def test_incremental_build_equals_build_from_scratch_and_after_deleting_processed(tmp_path):
    inc = new_dataset(tmp_path, "inc")
    first = {n: story(n) for n in range(1, 26)}
    grown = {n: story(n, extra=" Über straße — ¿qué?") for n in range(26, 51)}
    add_docs(inc, first)
    run(CFG, inc)
    add_docs(inc, grown)
    run(CFG, inc)
    scratch = new_dataset(tmp_path, "scratch")
    add_docs(scratch, {**first, **grown})
    run(CFG, scratch)
    assert processed_digest(scratch) == processed_digest(inc)
    shutil.rmtree(inc.processed)
    run(CFG, inc)
    assert processed_digest(inc) == processed_digest(scratch)


def test_no_validation_document_is_a_warning_not_a_promotion(tmp_path, caplog):
    paths = new_dataset(tmp_path)
    add_docs(paths, {1: story(1), 2: story(2)})
    with caplog.at_level(logging.WARNING):
        counts = run(PrepareConfig(val_fraction=1e-12), paths)
    assert counts["val_docs"] == 0 and counts["docs"] == 2 and "val is empty" in caplog.text
    assert len(open_tokens(paths.processed, "val")) == 0
    assert (paths.processed / "val.txt").read_bytes() == b""


def test_user_mistakes_are_one_line_errors(tmp_path, capsys):
    paths = new_dataset(tmp_path)
    with pytest.raises(UserError, match="no cleaned documents"):
        run(CFG, paths)
    with pytest.raises(UserError, match="val_fraction"):
        run(PrepareConfig(val_fraction=1.5), paths)
    with pytest.raises(UserError, match="meta.json missing"):
        load_meta(paths.processed)
    assert prepare_data.main(["--dataset-dir", str(tmp_path / "nope")]) == 2
    assert "error: dataset folder not found" in capsys.readouterr().err
    assert list_cleaned_items(paths) == []


# ---------------------------------------------------------------- crash safety

@pytest.mark.parametrize("fail_at", range(1, 7))
def test_crash_at_any_step_of_the_commit_leaves_old_outputs_or_none_and_rerun_matches(tmp_path, monkeypatch,
                                                                                     fail_at):
    ref, victim = new_dataset(tmp_path, "ref"), new_dataset(tmp_path, "victim")
    first, more = {n: story(n) for n in range(1, 16)}, {n: story(n, " Ærø") for n in range(16, 31)}
    first[1] = "Ωmega, a document that goes away.\n"
    for paths in (ref, victim):
        add_docs(paths, first)
        run(CFG, paths)
        # The corpus does not only grow: ids now differ from a build from scratch, so a re-run must
        # continue from the tokenizer of the interrupted run (its pending meta), not start over.
        (paths.cleaned / "t" / f"{item_name(1)}.txt").unlink()
        add_docs(paths, more)
    old_meta = load_meta(victim.processed)
    run(CFG, ref)
    calls = []
    real_replace = os.replace

    def dying_replace(src, dst):  # the 1st rename writes the pending meta, 2nd-5th the outputs, 6th meta.json
        calls.append(dst)
        if len(calls) == fail_at:
            raise KeyboardInterrupt("simulated kill")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        run(CFG, victim)
    monkeypatch.setattr(os, "replace", real_replace)
    if (victim.processed / "meta.json").exists():  # either the old outputs, complete and consistent ...
        assert load_meta(victim.processed) == old_meta
        tok = load_tokenizer(victim.processed)
        assert tok.decode(open_tokens(victim.processed, "train")) == \
            (victim.processed / "train.txt").read_bytes().decode("utf-8")
    else:  # ... or none that a reader would accept
        with pytest.raises(UserError):
            load_meta(victim.processed)
    run(CFG, victim)
    assert processed_digest(victim) == processed_digest(ref)


def _big_corpus(shared: Path, first: int, count: int, extra: str) -> None:
    """Large documents made quickly from repeated seeded paragraphs (about 0.5 MB each)."""
    shared.mkdir(parents=True, exist_ok=True)
    for n in range(first, first + count):
        body = story(n, paragraphs=12)
        (shared / f"{item_name(n, 'big')}.txt").write_text((body + extra + "\n") * 300, encoding="utf-8")


def test_kill_9_during_prepare_then_rerun_matches_an_uninterrupted_run(tmp_path):
    shared = tmp_path / "shared" / "big"
    ref, victim = new_dataset(tmp_path, "ref"), new_dataset(tmp_path, "victim")
    _big_corpus(shared, 1, 4, "")
    for paths in (ref, victim):  # both see the same cleaned files, grown in place
        (paths.cleaned / "big").symlink_to(shared, target_is_directory=True)
        run(CFG, paths)
    _big_corpus(shared, 5, 100, " Déjà vu — ¡sí! 日本")
    start = time.monotonic()
    res = subprocess.run([sys.executable, PREPARE_PY, "--dataset-dir", str(ref.root)], capture_output=True,
                         text=True, timeout=120)
    took = time.monotonic() - start  # interpreter start-up included, like the runs killed below
    assert res.returncode == 0, res.stderr
    kills = 0
    for frac in (0.2, 0.35, 0.5, 0.65, 0.8, 0.95):  # later and later: the hash, vocab, encode and commit steps
        proc = subprocess.Popen([sys.executable, PREPARE_PY, "--dataset-dir", str(victim.root)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(frac * took)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 3, "prepare finished before the kills landed; make the corpus bigger"
    res = subprocess.run([sys.executable, PREPARE_PY, "--dataset-dir", str(victim.root)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert processed_digest(victim) == processed_digest(ref)
    assert json.loads((victim.processed / "meta.json").read_text())["dtype"] == "uint16"
