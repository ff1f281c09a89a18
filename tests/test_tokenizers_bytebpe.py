"""Byte and BPE tokenizers: fixed ids, exact round trips, specials as single ids at 0..15, deterministic BPE
training, the train_tokenizer.py CLI, and prepare_data with tokenizer=byte / tokenizer=bpe."""

import hashlib
import json
import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.config import UserError
from common.paths import REPO_ROOT, DatasetPaths
from corpus import prepare_io
from scripts import train_tokenizer
from scripts.prepare_data import PrepareConfig
from scripts.prepare_data import run as prepare
from scripts.train_tokenizer import TokenizerConfig
from scripts.train_tokenizer import run as train_run
from model.bpe import BYTE_VOCAB, BPETokenizer, ByteTokenizer, safe_chunks, train_bpe
from model.token_files import load_meta, load_tokenizer, open_tokens, tokenizer_from_dict
from model.tokenizer import EOT, NUM_SPECIAL, SPECIAL_TOKENS, CharTokenizer, UnknownCharError

from tests.support.textgen import FRENCH, GERMAN, STORY, synthetic_story

TRAIN_PY = str(REPO_ROOT / "scripts" / "train_tokenizer.py")
fragments = st.one_of(st.text(max_size=30), st.sampled_from(SPECIAL_TOKENS),
                      st.sampled_from(["<|", "|>", "* *", "*", "<|endoftext", "\n", "\n\n", " ", "<POV", "é"]))
mixed_texts = st.lists(fragments, max_size=12).map("".join)
SPECIAL_RE = "|".join(re.escape(s) for s in sorted(SPECIAL_TOKENS, key=len, reverse=True))


def corpus(n: int = 30, seed: int = 7) -> list[str]:
    """Seeded documents: pseudo-stories plus a few hand-written paragraphs (English, French, German)."""
    rng = random.Random(seed)
    return [synthetic_story(rng, 12) for _ in range(n)] + [STORY, FRENCH, GERMAN]


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return train_bpe(corpus(), 600)


def write_cleaned(paths: DatasetPaths, docs: list[str], first: int = 0) -> None:
    for n, text in enumerate(docs, first):
        p = paths.cleaned / "t" / f"20260101_{n:06d}__t__doc-{n}__0123456789ab.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text.encode("utf-8"))


def new_dataset(tmp_path, name: str = "ds", docs: list[str] | None = None) -> DatasetPaths:
    paths = DatasetPaths.at(tmp_path / name)
    paths.make_dirs()
    write_cleaned(paths, corpus() if docs is None else docs)
    return paths


# ---------------------------------------------------------------- byte tokenizer

def reference_bytes(text: str) -> list[int]:
    """Plain-Python model of the byte contract: a special is its id, everything else 16 + each UTF-8 byte."""
    ids = []
    for m in re.finditer(f"({SPECIAL_RE})|(.)", text, flags=re.DOTALL):
        ids += [SPECIAL_TOKENS.index(m.group(1))] if m.group(1) else [16 + b for b in m.group(2).encode()]
    return ids


def test_byte_vocabulary_is_272_fixed_ids_and_never_grows():
    tok = ByteTokenizer()
    assert tok.vocab_size == BYTE_VOCAB == 272 and tok.eot_id == 0
    assert [tok.encode(s).tolist() for s in SPECIAL_TOKENS] == [[i] for i in range(NUM_SPECIAL)]
    assert tok.encode("A\x00ÿ").tolist() == [16 + 65, 16, 16 + 0xC3, 16 + 0xBF]
    assert tok.add_chars("新しい文字 🙂") == 0 and tok.vocab_size == 272 and tok.grows is False
    assert tok.encode("").dtype == np.int32 and tok.decode([]) == ""


@settings(max_examples=300, deadline=None)
@given(mixed_texts)
def test_byte_round_trip_of_any_text_matches_the_reference_model(text):
    tok = ByteTokenizer()
    ids = tok.encode(text)
    assert ids.tolist() == reference_bytes(text)
    assert tok.decode(ids) == text


@settings(max_examples=150, deadline=None)
@given(mixed_texts, mixed_texts)
def test_byte_encoding_in_pieces_cut_at_safe_cut_equals_encoding_whole(a, b):
    tok, whole = ByteTokenizer(), a + "\n" + b
    for p in (whole.rfind("\n") + 1, tok.safe_cut(whole)):
        if p:
            assert np.array_equal(np.concatenate([tok.encode(whole[:p]), tok.encode(whole[p:])]), tok.encode(whole))


def test_byte_decode_of_invalid_utf8_is_deterministic_replacement_and_bad_ids_raise():
    tok = ByteTokenizer()
    broken = [16 + 0xC3, 0, 16 + 0xA9, 16 + 0xFF, 16 + 0x41]  # a character split by a special, a stray byte
    assert tok.decode(broken) == "\ufffd" + EOT + "\ufffd\ufffdA" == tok.decode(np.array(broken))
    for bad in ([272], [-1], [[1, 2]]):
        with pytest.raises(ValueError):
            tok.decode(bad)
    with pytest.raises(UnknownCharError):
        tok.encode("lone \ud800 surrogate")
    assert tok.decode(tok.encode("lone \ud800 surrogate", errors="ignore")) == "lone  surrogate"


# ---------------------------------------------------------------- BPE

def test_bpe_specials_are_single_ids_at_0_to_15_and_vocab_size_is_respected(bpe):
    assert bpe.vocab_size == 600 and bpe.eot_id == 0
    for i, s in enumerate(SPECIAL_TOKENS):
        assert bpe.encode(f"x{s}y").tolist()[1] == i and bpe.id_to_string(i) == s
        assert len(bpe.encode(f"x{s}y")) == 3
    doc = corpus()[0]
    assert len(bpe.encode(doc)) < len(doc) / 3  # it learned merges, not just bytes
    assert train_bpe(corpus(), 400).vocab_size == 400
    # A corpus too small for the size asked ends with fewer ids, never more.
    small = train_bpe(["tiny text"], 5000)
    assert 272 <= small.vocab_size < 5000
    with pytest.raises(ValueError):
        train_bpe(corpus(), 100)
    # Ids that stop inside a multi-byte character decode to U+FFFD, the same every time; bad ids raise.
    ids = bpe.encode("🙂").tolist()
    assert len(ids) >= 2 and bpe.decode(ids[:-1]) == bpe.decode(ids[:-1]) and "\ufffd" in bpe.decode(ids[:-1])
    for bad in ([600], [-1]):
        with pytest.raises(ValueError):
            bpe.decode(bad)


def test_a_bpe_tokenizer_from_before_the_chat_tags_still_loads_with_its_placeholders(bpe):
    old_json = bpe.json
    for i, tag in enumerate(("<|memory|>", "<|/memory|>", "<|user|>", "<|assistant|>"), 7):
        old_json = old_json.replace(json.dumps(tag), json.dumps(f"<|reserved_{i}|>"))
    old = BPETokenizer.from_json(old_json)
    assert old.specials[7:11] == tuple(f"<|reserved_{i}|>" for i in range(7, 11))
    assert old.encode("<|reserved_9|>").tolist() == [9] and len(old.encode("<|user|>")) > 1
    assert BPETokenizer.from_dict(old.to_dict()).specials == old.specials
    assert bpe.specials[9] == "<|user|>" and bpe.encode("<|user|>").tolist() == [9]
    with pytest.raises(ValueError, match="not at ids 0..15"):
        BPETokenizer.from_json(bpe.json.replace(json.dumps("<|user|>"), json.dumps("<|someone|>")))


@settings(max_examples=200, deadline=None)
@given(mixed_texts)
def test_bpe_round_trips_any_text(bpe, text):
    ids = bpe.encode(text)
    assert ids.dtype == np.int32 and ((0 <= ids) & (ids < bpe.vocab_size)).all()
    assert bpe.decode(ids) == text
    assert int((ids < NUM_SPECIAL).sum()) == len(re.findall(SPECIAL_RE, text))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(mixed_texts, st.sampled_from(["two words", "ab cd", " \n", "\n \n"])), min_size=2,
                max_size=6))
def test_bpe_encoding_in_pieces_cut_after_a_newline_run_or_at_safe_cut_equals_whole(bpe, parts):
    whole = "\n".join(parts) + " and more words"
    expected = bpe.encode(whole).tolist()
    stripped = whole.rstrip("\n")
    for p in (stripped.rfind("\n") + 1, bpe.safe_cut(whole)):
        if 0 < p < len(whole):
            assert bpe.encode(whole[:p]).tolist() + bpe.encode(whole[p:]).tolist() == expected
    # The batch encoder's chunking gives the same ids as one call on the whole text.
    long = whole * 50
    from model import bpe as bpe_module
    saved, bpe_module.ENCODE_CHUNK = bpe_module.ENCODE_CHUNK, 10
    try:
        chunked = bpe.encode(long).tolist()
    finally:
        bpe_module.ENCODE_CHUNK = saved
    assert chunked == bpe.encode(long).tolist()


def test_bpe_training_is_deterministic_and_the_json_round_trips_without_pickle(bpe):
    again = train_bpe(corpus(), 600)
    assert again.json == bpe.json
    # Pieces cut after newline runs count the same words as whole documents: same tokenizer.
    pieces = [p for doc in corpus() for p in re.split(r"(?<=\n)(?=[^\n])", doc)]
    assert train_bpe(pieces, 600).json == bpe.json
    assert train_bpe([c for doc in corpus() for c in safe_chunks(doc, 40)], 600).json == bpe.json
    assert train_bpe(corpus(seed=8), 600).json != bpe.json
    d = json.loads(json.dumps(bpe.to_dict()))
    assert d["type"] == "bpe" and d["fingerprint"] == bpe.fingerprint and d["vocab_size"] == 600
    back = tokenizer_from_dict(d)
    assert isinstance(back, BPETokenizer) and back == bpe and back.json == bpe.json
    assert back.encode(STORY).tolist() == bpe.encode(STORY).tolist()
    with pytest.raises(ValueError, match="fingerprint"):
        tokenizer_from_dict({**d, "fingerprint": "0" * 16})
    with pytest.raises(ValueError):
        BPETokenizer.from_json('{"not": "a tokenizer"}')


def test_a_larger_bpe_on_the_same_corpus_extends_the_smaller_one(bpe):
    bigger = train_bpe(corpus(), 800)
    assert bigger.extends(bpe) and not bpe.extends(bigger)
    assert not train_bpe(corpus(seed=8), 800).extends(bpe)
    assert not bpe.extends(ByteTokenizer()) and ByteTokenizer().extends(ByteTokenizer())
    char = CharTokenizer("ab")
    grown = CharTokenizer("abc")
    assert grown.extends(char) and not char.extends(grown) and not grown.extends(bpe)


def test_tokenizer_from_dict_builds_each_type_and_refuses_unknown_ones(bpe):
    for tok in (CharTokenizer("xyz"), ByteTokenizer(), bpe):
        back = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
        assert type(back) is type(tok) and back.fingerprint == tok.fingerprint
    for bad in ({"type": "sentencepiece"}, {"type": "byte", "version": 9}, None,
                {**CharTokenizer("ab").to_dict(), "chars": ["a", "c"]}):
        with pytest.raises(ValueError):
            tokenizer_from_dict(bad)


# ---------------------------------------------------------------- train_tokenizer.py

def test_train_tokenizer_writes_the_json_then_does_no_work_and_guards_the_old_file(tmp_path):
    paths = new_dataset(tmp_path)
    counts = train_run(TokenizerConfig(vocab_size=500), paths)
    out = paths.metadata / "bpe_tokenizer.json"
    assert counts == {"docs": 33, "vocab_size": 500, "unchanged": False}
    data = out.read_bytes()
    assert BPETokenizer.from_file(out).json.encode("utf-8") == data
    assert train_run(TokenizerConfig(vocab_size=500), paths)["unchanged"] is True
    with pytest.raises(UserError, match="--force"):
        train_run(TokenizerConfig(vocab_size=450), paths)
    assert out.read_bytes() == data
    # keep_existing (run.py's profiles): the old tokenizer stays, so token ids and the model's resume hold
    assert train_run(TokenizerConfig(vocab_size=450, keep_existing=True), paths) == {"docs": 33, "kept": True}
    assert out.read_bytes() == data
    assert train_run(TokenizerConfig(vocab_size=450), paths, force=True)["vocab_size"] == 450
    manifest = json.loads(paths.manifest("tokenizer").read_text())
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


def test_train_tokenizer_cli_is_deterministic_across_thread_counts_and_errors_are_one_line(tmp_path):
    paths = new_dataset(tmp_path)
    train_run(TokenizerConfig(vocab_size=500, output="tok_a.json"), paths)
    env = {**os.environ, "RAYON_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, TRAIN_PY, "--dataset-dir", str(paths.root), "--vocab-size", "500",
                          "--output", str(tmp_path / "tok_b.json")], capture_output=True, text=True, env=env,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert "500 vocab_size" in res.stdout
    assert (tmp_path / "tok_b.json").read_bytes() == (paths.root / "tok_a.json").read_bytes()
    with pytest.raises(SystemExit) as e:
        train_tokenizer.main(["--help"])
    assert e.value.code == 0
    for argv, msg in ((["--vocab-size", "100"], "vocab_size must be between 272"),
                      (["--vocab-size", "lots"], "must be int"),
                      (["--dataset-dir", str(tmp_path / "nope")], "dataset folder not found")):
        res = subprocess.run([sys.executable, TRAIN_PY, "--dataset-dir", str(paths.root), *argv],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 2 and msg in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    bare = DatasetPaths.at(tmp_path / "bare")
    bare.root.mkdir()
    with pytest.raises(UserError, match="no cleaned/ folder"):
        train_run(TokenizerConfig(), bare)


# ---------------------------------------------------------------- prepare with byte and bpe

@pytest.mark.parametrize("kind", ["byte", "bpe"])
def test_prepare_with_byte_or_bpe_writes_bins_that_decode_to_the_text_files(tmp_path, monkeypatch, kind):
    docs = corpus() + ["Zoë 🙂 日本語\n\n* * *\n\n<POV> tabs\tand\r\nCRLF.\n"]
    paths = new_dataset(tmp_path, docs=docs)
    if kind == "bpe":
        train_run(TokenizerConfig(vocab_size=500), paths)
    counts = prepare(PrepareConfig(tokenizer=kind), paths)
    meta = load_meta(paths.processed)
    tok = load_tokenizer(paths.processed)
    assert isinstance(tok, ByteTokenizer if kind == "byte" else BPETokenizer)
    assert meta["tokenizer"]["type"] == kind and meta["tokenizer"]["fingerprint"] == tok.fingerprint
    assert meta["vocab_size"] == tok.vocab_size == (272 if kind == "byte" else 500) and meta["dtype"] == "uint16"
    for split in ("train", "val"):
        ids = open_tokens(paths.processed, split)
        assert tok.decode(ids) == (paths.processed / f"{split}.txt").read_bytes().decode("utf-8")
        assert int((ids == 0).sum()) == meta["splits"][split]["docs"] >= 1
    assert counts["new_chars"] == 0 and counts["docs"] == len(docs)
    assert prepare(PrepareConfig(tokenizer=kind), paths)["unchanged"] is True
    # Small pieces and cuts inside long lines write the same bytes.
    before = {p.name: p.read_bytes() for p in paths.processed.iterdir()}
    monkeypatch.setattr(prepare_io, "PIECE_BYTES", 7)  # cuts inside multi-byte characters
    monkeypatch.setattr(prepare_io, "MAX_CARRY_CHARS", 40)  # and inside lines (safe_cut)
    prepare(PrepareConfig(tokenizer=kind), paths, force=True)
    assert {p.name: p.read_bytes() for p in paths.processed.iterdir()} == before


def test_prepare_re_encodes_when_the_tokenizer_or_its_type_changes(tmp_path):
    paths = new_dataset(tmp_path)
    with pytest.raises(UserError, match="train_tokenizer.py"):
        prepare(PrepareConfig(tokenizer="bpe"), paths)
    with pytest.raises(UserError, match="tokenizer must be one of"):
        prepare(PrepareConfig(tokenizer="words"), paths)
    prepare(PrepareConfig(), paths)
    char_bin = (paths.processed / "train.bin").read_bytes()
    assert prepare(PrepareConfig(tokenizer="byte"), paths)["unchanged"] is False
    train_run(TokenizerConfig(vocab_size=500), paths)
    assert prepare(PrepareConfig(tokenizer="bpe"), paths)["unchanged"] is False
    first = (paths.processed / "train.bin").read_bytes()
    assert prepare(PrepareConfig(tokenizer="bpe"), paths)["unchanged"] is True
    train_run(TokenizerConfig(vocab_size=700), paths, force=True)  # retrained: every id may move
    assert prepare(PrepareConfig(tokenizer="bpe"), paths)["unchanged"] is False
    assert (paths.processed / "train.bin").read_bytes() != first
    assert load_tokenizer(paths.processed).vocab_size == 700
    # Back to char: a vocabulary from scratch, the same bytes as the first char run.
    assert prepare(PrepareConfig(), paths)["unchanged"] is False
    assert (paths.processed / "train.bin").read_bytes() == char_bin
    assert isinstance(load_tokenizer(paths.processed), CharTokenizer)
    # A tokenizer file given relative to the dataset folder.
    (paths.root / "mine.json").write_bytes((paths.metadata / "bpe_tokenizer.json").read_bytes())
    prepare(PrepareConfig(tokenizer="bpe", tokenizer_file="mine.json"), paths)
    assert load_tokenizer(paths.processed).vocab_size == 700
