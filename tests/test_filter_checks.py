"""Unit tests of the filter stage's pure checks: length, boilerplate, not-narrative, language, content policy,
and the MinHash / signature-file building blocks of near-duplicate detection."""

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common.config import UserError
from corpus.content_policy import DEFAULT_POLICY, check_policy, load_policy
from scripts.filter_dataset import FilterConfig
from corpus.near_dup import (HEADER_BYTES, SignatureIndex, Signer, band_params, exact_key, normalise,
                              similarity)
from corpus.text_heuristics import (LanguageGuesser, check_boilerplate, check_language, check_length,
                                     check_narrative, narrative_stats)
from tests.support.textgen import FRENCH, GERMAN, STORY, shakespeare_chunks, synthetic_story

REPO = Path(__file__).resolve().parents[1]

def test_length_reasons():
    assert check_length("x" * 10, CFG) == (False, "too_short", {"chars": 10, "min_chars": CFG.min_chars})
    cfg = FilterConfig(max_chars=1000)
    verdict = check_length("y" * 1001, cfg)
    assert (verdict.keep, verdict.reason, verdict.evidence["chars"]) == (False, "too_long", 1001)
    assert check_length("  " + STORY + "  ", CFG).keep


# ---- not narrative ----

MENU = "\n".join(["Home", "About us", "Stories", "Authors", "Top rated", "New arrivals", "Contact", "Login",
                  "Search", "Random story"]) + "\n"
LINKS = "\n".join(f"Read more: https://example.org/stories/{i}/the-title-of-story-{i}" for i in range(12))
PY_CODE = "\n".join([
    "import os", "from pathlib import Path", "", "def load(path):", "    with open(path) as f:",
    "        data = f.read()", "    return data.split()", "", "class Reader:", "    def __init__(self, root):",
    "        self.root = Path(root)", "        self.count = 0", "    def next(self):", "        self.count += 1",
    "        return self.count"]) * 3
JS_CODE = "function add(a, b) {\n  const total = a + b;\n  if (total > 10) {\n    return total;\n  }\n" \
          "  return 0;\n}\nlet items = [1, 2, 3];\nitems.forEach((x) => console.log(x));\n" * 4
TABLE = "\n".join(["| Name | Score | Rank |", "|------|-------|------|"] +
                  [f"| Player {i} | {i * 37 % 100} | {i} |" for i in range(1, 15)])
BULLETS = "\n".join(f"- item number {i} with a few words in it" for i in range(12))
NUMBERS = "\n".join(" ".join(str((i * 7919 + j * 31) % 10000) for j in range(12)) for i in range(10))


@pytest.mark.parametrize("text,rule", [(MENU, "menu"), (LINKS, "link_list"), (PY_CODE, "code"),
                                       (JS_CODE, "code"), (TABLE, "table"), (BULLETS, "list"),
                                       (NUMBERS, "numbers")])
def test_not_narrative_rejected(text, rule):
    verdict = check_narrative(text, CFG)
    assert (verdict.keep, verdict.reason) == (False, "not_narrative"), narrative_stats(text)
    assert verdict.evidence["rule"] == rule


def test_narrative_kept():
    rng = random.Random(3)
    texts = [STORY, STORY.replace("\n\n", "\n")] + [synthetic_story(rng) for _ in range(20)] + shakespeare_chunks(40)
    for text in texts:
        verdict = check_narrative(text, CFG)
        assert verdict.keep, (verdict, text[:200])


def test_narrative_checks_can_be_turned_off():
    assert check_narrative(MENU, FilterConfig(narrative_checks=False)).keep


# ---- boilerplate ----

WALL = ("Get the app for the best reading experience!\nAlready have an account? Log in\nNew here? Sign up free\n"
        "We use cookies to improve your experience. Accept cookies\nPrivacy policy | Terms of service\n")


def test_boilerplate_wall_rejected_story_kept():
    verdict = check_boilerplate(WALL, CFG)
    assert (verdict.keep, verdict.reason, verdict.evidence["rule"]) == (False, "boilerplate", "wall_phrases")
    assert "get the app" in verdict.evidence["phrases"]
    mention = STORY.replace("lit the lamp", "lit the lamp, then tried to log in to the harbour radio")
    assert check_boilerplate(mention, CFG).keep  # one phrase in passing is not a wall
    assert check_boilerplate(STORY * 10 + WALL, CFG).keep  # long texts are not walls


# ---- language ----

@pytest.fixture(scope="module")
def guesser():
    return LanguageGuesser()


def test_language_english_kept_others_rejected(guesser):
    assert check_language(STORY, CFG, guesser).keep
    for text, lang in ((FRENCH, "fr"), (GERMAN, "de")):
        verdict = check_language(text, CFG, guesser)
        assert (verdict.keep, verdict.reason, verdict.evidence["language"]) == (False, "wrong_language", lang)
        assert verdict.evidence["confidence"] >= CFG.lang_min_confidence
    for chunk in shakespeare_chunks(10, 1500):
        assert check_language(chunk, CFG, guesser).keep


def test_language_config(guesser):
    assert check_language(FRENCH, FilterConfig(languages=["en", "fr"]), guesser).keep
    assert check_language(FRENCH, FilterConfig(languages=[]), guesser).keep  # check off
    assert not check_language(STORY, FilterConfig(languages=["fr"]), guesser).keep
    assert check_language("Bonjour mon ami, ça va?", CFG, guesser).keep  # too few letters to judge
    assert check_language(FRENCH, FilterConfig(lang_min_confidence=1.01), guesser).keep  # never confident enough


# ---- content policy (neutral made-up terms) ----

POLICY_YAML = """
version: 1
rules:
  - name: zorp_near_quib
    window: 5
    groups:
      - name: zorp
        terms: [blorf, snazzle*, glim glam]
      - name: quib
        terms: [wimple]
        regex: ['\\bgrade [0-3]\\b']
  - name: forbidden_word
    window: null
    groups:
      - terms: [frobnitz]
"""


@pytest.fixture()
def policy(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY_YAML, encoding="utf-8")
    return load_policy(path)


def test_policy_cooccurrence_window(policy):
    hit = check_policy("One day the BLORF met a wimple near the well.", policy)
    assert (hit.keep, hit.reason, hit.evidence["rule"]) == (False, "content_policy", "zorp_near_quib")
    assert hit.evidence["matched"] == {"zorp": "blorf", "quib": "wimple"} and hit.evidence["span_words"] == 3
    far = "The blorf sang " + "and sang " * 10 + "to the wimple."
    assert check_policy(far, policy).keep  # too far apart
    assert check_policy("A blorf alone, and another blorf.", policy).keep  # one group only
    assert not check_policy("Snazzleberries for grade 2 pupils.", policy).keep  # prefix term + regex
    assert check_policy("Snazzleberries for grade 7 pupils.", policy).keep
    assert not check_policy("The glim-glam of a wimple.", policy).keep  # two-word term, any separator
    single = check_policy("Nothing but a frobnitz here.", policy)
    assert (single.reason, single.evidence["rule"]) == ("content_policy", "forbidden_word")
    assert check_policy(STORY, policy).keep


@pytest.mark.parametrize("bad,message", [
    ("rules:\n  - name: x\n    groups: [{terms: [a]}]\n    windw: 3\n", "unknown key 'windw'"),
    ("rules:\n  - name: x\n    groups: [{regex: ['(unclosed']}]\n", "bad regex"),
    ("rules:\n  - name: x\n    groups: []\n", "non-empty list"),
    ("rules:\n  - name: x\n    window: -2\n    groups: [{terms: [a]}]\n", "window"),
    ("rules:\n  - groups: [{terms: [a]}]\n", "snake_case 'name'"),
    ("rules: [oops: [\n", "not valid"),
])
def test_policy_file_mistakes_are_user_errors(tmp_path, bad, message):
    path = tmp_path / "bad.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(UserError, match=message):
        load_policy(path)
    with pytest.raises(UserError, match="not found"):
        load_policy(tmp_path / "missing.yaml")


def test_default_policy_loads():
    policy = load_policy("")
    assert policy.path == str(DEFAULT_POLICY)
    rule = policy.rules[0]
    assert rule.name == "sexual_content_minor" and len(rule.groups) == 2 and rule.window
    assert check_policy(STORY, policy).keep


# ---- near-duplicate building blocks ----

def test_normalise_and_exact_key():
    assert exact_key(normalise("The  Cat\nsat.\t")) == exact_key(normalise("the cat sat."))
    assert exact_key(normalise("the cat sat.")) != exact_key(normalise("the cat sat!"))


def test_signatures_deterministic_across_processes():
    text = normalise(STORY)
    here = Signer(128).sign(text).tobytes().hex()
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from corpus.near_dup import Signer, normalise; "
            "print(Signer(128).sign(normalise(sys.argv[2])).tobytes().hex())")
    other = subprocess.run([sys.executable, "-c", code, str(REPO), STORY], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": "123"}).stdout.strip()
    assert here == other


def test_similarity_tracks_edits():
    rng = random.Random(1)
    base = synthetic_story(rng, 60)
    words = base.split(" ")
    for i in (10, 100, 200):
        words[i] = "zebra"
    signer = Signer(128)
    a, b = signer.sign(normalise(base)), signer.sign(normalise(" ".join(words)))
    assert similarity(a, b) >= 0.8
    assert similarity(a, signer.sign(normalise(synthetic_story(rng, 60)))) < 0.3


def test_band_params_recall():
    for perm, thr in ((64, 0.8), (128, 0.8), (128, 0.7)):
        bands, rows = band_params(perm, thr)
        assert bands * rows <= perm
        assert 1 - (1 - thr ** rows) ** bands >= 0.99


def test_signature_index_persists_and_cuts_torn_tail(tmp_path):
    rng = random.Random(2)
    signer = Signer(64)
    sigs = [signer.sign(normalise(synthetic_story(rng))) for _ in range(30)]
    path = tmp_path / "sig.bin"
    idx = SignatureIndex(path, 64, 0.8)
    assert idx.open(0) == 0
    for s in sigs[:20]:
        assert idx.query(s) == []
        idx.add(s)
    assert idx.query(sigs[7]) == [(7, 1.0)]
    idx.close()
    with open(path, "ab") as f:
        f.write(b"\x01\x02\x03")  # a torn row from a kill mid-write
    again = SignatureIndex(path, 64, 0.8)
    assert again.open(20) == 20 and path.stat().st_size == HEADER_BYTES + 20 * 64 * 4
    assert again.query(sigs[13]) == [(13, 1.0)] and again.query(sigs[25]) == []
    again.close()
    fewer = SignatureIndex(path, 64, 0.8)
    assert fewer.open(5) == 5 and fewer.query(sigs[13]) == []  # rows beyond the ledger are cut
    fewer.close()
    other = SignatureIndex(path, 128, 0.8)  # another num_perm: file restarted
    assert other.open(5) == 0
    other.close()


def test_signature_index_many_rows_merge(tmp_path):
    rng = np.random.default_rng(0)
    idx = SignatureIndex(tmp_path / "s.bin", 64, 0.8)
    idx.open(0)
    sigs = rng.integers(0, 2 ** 32, size=(3000, 64), dtype=np.uint64).astype(np.uint32)
    for s in sigs:
        idx.add(s)  # 3000 x 12 bands: crosses the pending-merge limit
    assert [idx.query(sigs[i])[0][0] for i in (0, 1500, 2999)] == [0, 1500, 2999]
    idx.close()
CFG = FilterConfig()


