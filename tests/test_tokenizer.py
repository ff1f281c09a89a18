"""The char tokenizer: specials are single ids at fixed positions, ids never move, exact round trips."""

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import model.tokenizer as tokenizer_module
from model.tokenizer import (EOT, EOT_ID, NUM_SPECIAL, SCENE_BREAK, SCENE_BREAK_ID, SPECIAL_TOKENS,
                                CharTokenizer, UnknownCharError)

from tests.support.textgen import SHAKESPEARE  # noqa: E402

# Texts mixing ordinary characters (any Unicode but surrogates) with the special strings and pieces of them.
fragments = st.one_of(st.text(max_size=30), st.sampled_from(SPECIAL_TOKENS),
                      st.sampled_from(["<|", "|>", "* *", "*", "<|endoftext", "reserved_", "\n", "<POV"]))
mixed_texts = st.lists(fragments, max_size=12).map("".join)


def test_special_tokens_sit_at_fixed_ids():
    tok = CharTokenizer()
    assert tok.vocab_size == NUM_SPECIAL == 16
    expected = ["<|endoftext|>", "* * *", "<|summary|>", "<|/summary|>", "<SCENE>", "<POV>", "<TONE>"]
    assert list(tok.specials[:7]) == expected
    assert tok.specials[7:11] == ("<|memory|>", "<|/memory|>", "<|user|>", "<|assistant|>")
    assert tok.specials[11:] == tuple(f"<|reserved_{i}|>" for i in range(11, 16))
    assert (EOT_ID, SCENE_BREAK_ID) == (0, 1)
    for i, s in enumerate(SPECIAL_TOKENS):
        assert tok.encode(s).tolist() == [i]  # no characters needed: a special is never spelled out


def test_characters_start_at_16_in_order_of_first_appearance():
    tok = CharTokenizer()
    assert tok.add_chars("hello") == 4
    assert tok.chars == ["h", "e", "l", "o"]
    assert tok.encode("hello").tolist() == [16, 17, 18, 18, 19]


def test_specials_inside_text_are_single_ids_and_their_characters_are_not_added():
    tok = CharTokenizer()
    text = f"One.\n\n{SCENE_BREAK}\n\nTwo<POV>x{EOT}"
    tok.add_chars(text)
    assert "*" not in tok.chars and "<" not in tok.chars and "|" not in tok.chars
    ids = tok.encode(text).tolist()
    assert ids.count(SCENE_BREAK_ID) == 1 and ids.count(5) == 1 and ids[-1] == EOT_ID
    assert len(ids) == len(text) - (len(SCENE_BREAK) - 1) - (len("<POV>") - 1) - (len(EOT) - 1)
    assert tok.decode(ids) == text


def test_overlapping_and_partial_specials_match_leftmost_first():
    tok = CharTokenizer(chars="* <|endoftxa")
    assert tok.encode("* * * * *").tolist() == [1] + tok.encode(" * *").tolist()
    assert tok.encode("<|endoftext<|endoftext|>").tolist() == tok.encode("<|endoftext").tolist() + [0]
    assert len(tok.encode("* *")) == 3  # not a scene break


def test_ids_never_move_when_characters_are_added():
    tok = CharTokenizer()
    tok.add_chars("the cat")
    before = tok.encode("the cat").tolist()
    saved = tok.to_dict()
    assert tok.add_chars("Zoë saw 日本") == len(set("Zoësaw日本") - set("the cat"))
    assert tok.add_chars("the cat") == 0
    assert tok.encode("the cat").tolist() == before
    assert tok.chars[: len(saved["chars"])] == saved["chars"]
    new_ids = tok.encode("ë日").tolist()
    assert min(new_ids) >= NUM_SPECIAL + len(saved["chars"])


def test_unknown_characters_raise_a_clear_error_or_are_dropped_on_request():
    tok = CharTokenizer(chars="abc")
    with pytest.raises(UnknownCharError, match=r"'z' \(U\+007A\)"):
        tok.encode("abz")
    with pytest.raises(UnknownCharError, match="U\\+1F600"):
        tok.encode("a\U0001F600")  # beyond the lookup table
    assert tok.decode(tok.encode("a z<POV>b", errors="ignore")) == "a<POV>b"  # ' ' and 'z' are unknown
    with pytest.raises(ValueError):
        tok.encode("a", errors="replace")


def test_decode_rejects_ids_outside_the_vocabulary():
    tok = CharTokenizer(chars="ab")
    with pytest.raises(ValueError, match="out of range"):
        tok.decode([0, 18])
    with pytest.raises(ValueError, match="out of range"):
        tok.decode(np.array([-1]))
    assert tok.decode([]) == ""


def test_to_dict_is_json_and_round_trips():
    tok = CharTokenizer()
    tok.add_chars("Zoë, Привет, 日本語!\n\t\x00")
    d = json.loads(json.dumps(tok.to_dict()))
    assert d["type"] == "char" and d["version"] == 1
    back = CharTokenizer.from_dict(d)
    assert back == tok and back.vocab_size == tok.vocab_size
    text = "Привет <SCENE> Zoë\x00"
    assert back.encode(text).tolist() == tok.encode(text).tolist()


@pytest.mark.parametrize("bad", [
    {"type": "bpe", "version": 1, "chars": []},
    {"type": "char", "version": 99, "chars": []},
    {"type": "char", "version": 1, "chars": ["ab"]},
    {"type": "char", "version": 1, "chars": ["a", "a"]},
    {"type": "char", "version": 1, "chars": [], "specials": ["<x>"] * 16},
])
def test_from_dict_refuses_what_it_cannot_read(bad):
    with pytest.raises(ValueError):
        CharTokenizer.from_dict(bad)


@settings(max_examples=300, deadline=None)
@given(mixed_texts)
def test_round_trip_of_any_text_whose_characters_are_known(text):
    tok = CharTokenizer()
    tok.add_chars(text)
    ids = tok.encode(text)
    assert ids.dtype == np.int32 and (ids >= 0).all() and (ids < tok.vocab_size).all()
    assert tok.decode(ids) == text
    assert len(ids) <= len(text)


def reference_encode(text: str) -> tuple[list[str], list]:
    """Plain-Python model of the contract: (characters in order of first appearance, tokens as strings)."""
    pattern = "|".join(re.escape(s) for s in sorted(SPECIAL_TOKENS, key=len, reverse=True))
    tokens = []
    for m in re.finditer(f"({pattern})|(.)", text, flags=re.DOTALL):
        tokens.append(("special", m.group(1)) if m.group(1) else ("char", m.group(2)))
    return list(dict.fromkeys(t for kind, t in tokens if kind == "char")), tokens


@settings(max_examples=300, deadline=None)
@given(mixed_texts)
def test_ids_match_a_plain_python_model_even_with_tiny_lookup_blocks(text):
    chars, tokens = reference_encode(text)
    saved = tokenizer_module.ENCODE_BLOCK
    for block in (saved, 3):  # 3: first appearances and specials cross block boundaries
        tokenizer_module.ENCODE_BLOCK = block
        try:
            tok = CharTokenizer()
            tok.add_chars(text)
            ids = tok.encode(text).tolist()
        finally:
            tokenizer_module.ENCODE_BLOCK = saved
        assert tok.chars == chars
        assert ids == [SPECIAL_TOKENS.index(t) if kind == "special" else NUM_SPECIAL + chars.index(t)
                       for kind, t in tokens]


@settings(max_examples=200, deadline=None)
@given(mixed_texts, mixed_texts)
def test_encoding_in_pieces_cut_at_a_newline_or_safe_cut_equals_encoding_whole(a, b):
    tok = CharTokenizer()
    whole = a + "\n" + b
    tok.add_chars(whole)
    cut = whole.rfind("\n") + 1
    assert np.array_equal(np.concatenate([tok.encode(whole[:cut]), tok.encode(whole[cut:])]), tok.encode(whole))
    p = tok.safe_cut(whole)
    if p:
        assert 0 < p < len(whole)
        assert np.array_equal(np.concatenate([tok.encode(whole[:p]), tok.encode(whole[p:])]), tok.encode(whole))


@settings(max_examples=100, deadline=None)
@given(st.lists(mixed_texts, min_size=1, max_size=5))
def test_adding_texts_one_by_one_equals_adding_them_joined(texts):
    one, joined = CharTokenizer(), CharTokenizer()
    for i, t in enumerate(texts):
        one.add_chars(t)
        if i < len(texts) - 1:
            one.add_chars("\n")
    joined.add_chars("\n".join(texts))  # a newline never joins pieces into a special string
    assert one.chars == joined.chars


def test_round_trip_of_real_text():
    if not SHAKESPEARE.exists():
        pytest.skip("tinyshakespeare.txt not available")
    text = SHAKESPEARE.read_text(encoding="utf-8")
    tok = CharTokenizer()
    tok.add_chars(text)
    assert tok.vocab_size == NUM_SPECIAL + len(set(text))
    assert tok.decode(tok.encode(text)) == text
