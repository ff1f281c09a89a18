"""The rolling summary, pure functions only: the summary format round trip, the extractive summarizer on hand-made
texts (facts, determinism also across interpreters, budget under any counting function, hierarchical
compression without drift), the rolling schedule (RollingStory) and make_schedule's errors."""

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.paths import REPO_ROOT
from common.text_format import SUMMARY_CLOSE_ID, SUMMARY_OPEN_ID
from model.tokenizer import CharTokenizer
from story_memory.extract import find
from story_memory.rolling import RollingMemory, RollingStory, make_schedule, rolling_story
from story_memory.summarize import compress, update
from story_memory.summary import Entry, Summary, clean_piece

# Three children, each with a home town, a pet with a name, an object and a favourite colour.
INTRO = ("Mia lived in Ashford with her cat, Pip. Mia had a red kite. Her favourite colour was teal. "
         "Leo came from Brookmere. Leo owned a brass compass. Leo looked after a dog named Rusty. "
         "Nora grew up in Fernvale. Nora carried a silver whistle. Nora kept a rabbit called Clover. "
         "The three friends walked to the old mill.\n")
MIDDLE = ("They ate apples by the water and counted the ducks. Mia laughed at a frog. Leo told a joke about a "
          "hat. Nora sang a song about the moon. The wind blew softly over the fields.\n")

SYLLABLES = ["ka", "lo", "mi", "ru", "te", "vo", "sa", "ne", "bi", "da", "po", "fe"]


def minor_names(n: int) -> list[str]:
    """n distinct capitalised made-up names (Kalo, Kami, ...), none of them a word of the intro."""
    out = []
    for a in SYLLABLES:
        for b in SYLLABLES:
            for c in ("n", "m", "x"):
                if a != b:
                    out.append((a + b + c).capitalize())
    assert len(out) >= n
    return out[:n]


def crowd_text(names: list[str]) -> str:
    """A long stretch where every sentence brings a new minor character, half of them with an object."""
    parts = []
    for i, name in enumerate(names):
        parts.append(f"Then {name} waved at the friends." if i % 2 else f"Then {name} brought a blue lantern.")
    return " ".join(parts) + "\n"


def words(text: str) -> int:
    return len(text.split())


# ------------------------------------------------------------------------------------------- the format
def test_round_trip_of_a_rendered_summary():
    s = Summary([Entry("Mia", ["Ashford", "cat Pip", "colour teal"]), Entry("Leo"), Entry("Nora Fen", ["Fernvale"])],
                place="old mill")
    text = s.render()
    assert text == "Mia: Ashford; cat Pip; colour teal. Leo. Nora Fen: Fernvale. At: old mill."
    assert Summary.parse(text) == s
    assert Summary.parse(Summary().render()) == Summary()
    assert Summary.parse("Leo.") == Summary([Entry("Leo")])


def test_separators_are_stripped_from_names_and_facts():
    assert clean_piece("cat; Pip. the: end") == "cat Pip the end"
    assert clean_piece("  a\tb\n\nc  ") == "a b c"
    s = Summary([Entry(clean_piece("Dr. Mia"), [clean_piece("kite: red; big."), clean_piece("A.B")])])
    assert s.entries[0].name == "Dr Mia" and s.entries[0].facts == ["kite red big", "A B"]
    assert Summary.parse(s.render()) == s


PIECE = st.text(alphabet="abcXYZ éñ.;:,'-\t", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(PIECE, st.lists(PIECE, max_size=4)), max_size=5), PIECE)
def test_parse_of_render_is_the_same_summary_for_any_cleaned_pieces(raw, place):
    entries = []
    for name, facts in raw:
        name = clean_piece(name)
        if not name or name == "At" or any(e.name == name for e in entries):
            continue
        entries.append(Entry(name, [f for f in map(clean_piece, facts) if f]))
    s = Summary(entries, clean_piece(place))
    assert Summary.parse(s.render()) == s


# ------------------------------------------------------------------------------------------- the summarizer
def test_hand_made_story_gives_each_child_town_pet_object_and_colour():
    text, topic = update("", INTRO, 1000)
    s = Summary.parse(text)
    assert s.names() == ["Mia", "Leo", "Nora"]
    for name, facts in {"Mia": ["Ashford", "cat Pip", "red kite", "colour teal"],
                        "Leo": ["Brookmere", "brass compass", "dog Rusty"],
                        "Nora": ["Fernvale", "silver whistle", "rabbit Clover"]}.items():
        got = s.entry(name).facts
        assert got[0] == facts[0], (name, got)  # the town of the introduction first
        for f in facts:
            assert f in got, (name, f, got)
    assert s.place == "old mill"
    assert topic == "Nora"
    assert text.startswith("Mia: Ashford; cat Pip")


@pytest.mark.parametrize("text, facts", [
    ("Pearl's most treasured possession was a tiny patched satchel.", ["tiny patched satchel"]),
    ("Bo laughed. Her greatest treasure was an old tin whistle.", ["old tin whistle"]),
    ("One rainy winter Rafi had rescued a cockatoo and named it Rolo.", ["cockatoo Rolo"]),
    ("When Pearl closed her eyes, she always saw chartreuse.", ["colour chartreuse"]),
    ("Almost everything Bruno owned was lavender, from his bobble hat to his toothbrush.",
     ["bobble hat", "toothbrush", "colour lavender"]),
    ("If you asked Inés, she would say that sky blue was the best one.", ["colour sky blue"]),
    # a colour before a noun describes the noun; a verb or adverb ends a noun phrase; body parts, clothing
    # parts and feelings are nobody's telling facts
    ("Mia looked at the red barn. Mia said the door was green and the roof grey.", []),
    ("Wherever Inés went, her tin harmonica went too. Inés kept her map safely.", ["tin harmonica", "map"]),
    ("Nell wiped her lips on her sleeve and their spirits rose with her idea.", []),
])
def test_what_a_character_treasures_names_and_likes(text, facts):
    s = Summary.parse(update("", text, 1000)[0])
    assert len(s.entries) == 1
    assert s.entries[0].facts == facts


@pytest.mark.parametrize("text, names", [
    ("Long ago, when the clock struck nine, Arlo woke up. Arlo lived in Linbury.", ["Arlo"]),
    ("Ask anyone in Oxmere about Tomás and they will smile.", ["Tomás"]),
    ("Thin clouds drifted over the hill. Renée lived in Oxfield.", ["Renée"]),
    ("Wherever Inés went, her tin harmonica went too.", ["Inés"]),
    ("Halfway up the hill, their spirits lifted.", []),
    ("Zora sang all day. Kit woke at dawn. Pim hid the key.", ["Zora", "Kit", "Pim"]),
])
def test_a_first_word_is_a_name_only_before_a_verb_of_narration(text, names):
    # a capitalised first word with no other evidence: "Long ago", "Ask anyone", "Thin clouds" are not
    # characters, "Kit woke" is; a function word ("Wherever") never starts a name
    assert find(text, [], "").names == names


def test_rolling_update_extends_a_fact_and_keeps_the_earlier_ones():
    first, topic = update("", "Mia lived in Ashford. She had a green umbrella.", 1000)
    assert first == "Mia: Ashford; green umbrella."  # "She" goes to the topic, Mia
    assert topic == "Mia"
    second, _ = update(first, "Her dog, Biscuit, barked at the gate.", 1000, last_topic=topic)
    assert Summary.parse(second).entry("Mia").facts == ["Ashford", "green umbrella", "dog Biscuit"]
    grown, _ = update("Mia: cat.", "Mia's cat, Pip, chased a moth.", 1000)
    assert grown == "Mia: cat Pip."  # "cat Pip" extends "cat" instead of adding a second fact


def test_summary_is_deterministic_within_and_across_interpreters():
    texts = [INTRO, MIDDLE, crowd_text(minor_names(40)), INTRO + MIDDLE * 3]
    budgets = [30, 80, 160, 1000]
    here = [update("", t, b) for t in texts for b in budgets]
    assert here == [update("", t, b) for t in texts for b in budgets]
    code = ("import json, sys; from story_memory.summarize import update; texts, budgets = json.load(sys.stdin); "
            "print(json.dumps([update('', t, b) for t in texts for b in budgets]))")
    for seed in ("1", "2", "777"):  # sets and dicts of strings iterate in a hash-seed order: must not matter
        p = subprocess.run([sys.executable, "-c", code], input=json.dumps([texts, budgets]), capture_output=True,
                           text=True, cwd=REPO_ROOT, env={**os.environ, "PYTHONHASHSEED": seed}, timeout=60)
        assert p.returncode == 0, p.stderr
        assert [tuple(x) for x in json.loads(p.stdout)] == here


@pytest.mark.parametrize("count", [len, words], ids=["chars", "words"])
def test_budget_is_respected_for_every_budget_and_counting_function(count):
    previous = ""
    text = INTRO + MIDDLE + crowd_text(minor_names(12))
    for budget in list(range(1, 60)) + list(range(60, 400, 7)):
        out, _ = update("", text, budget, count)
        assert count(out) <= budget, (budget, out)
        if count("Mia: Ashford.") <= budget:  # then no text cut: compressed summaries stay in the format
            assert Summary.parse(out).render() == out and out.startswith("Mia: Ashford"), (budget, out)
        rolled, _ = update(previous, MIDDLE, budget, count)  # and a rolling update from a full summary
        assert count(rolled) <= budget
        previous = out
    big = update("", text, 10_000, count)[0]
    assert update("", text, count(big), count)[0] == big  # nothing is dropped when it fits


def test_compress_drops_place_then_bare_names_then_plain_facts_then_newest_characters():
    s = Summary([Entry("Mia", ["Ashford", "cat Pip", "hat"]), Entry("Leo", ["Brookmere"]), Entry("Bo")],
                place="old mill")
    full = s.render()
    assert compress(Summary.parse(full), len(full)) == full
    assert compress(Summary.parse(full), len(full) - 1) == "Mia: Ashford; cat Pip; hat. Leo: Brookmere. Bo."
    assert compress(Summary.parse(full), 44) == "Mia: Ashford; cat Pip; hat. Leo: Brookmere."
    assert compress(Summary.parse(full), 39) == "Mia: Ashford; cat Pip. Leo: Brookmere."
    assert compress(Summary.parse(full), 33) == "Mia: Ashford. Leo: Brookmere."
    assert compress(Summary.parse(full), 20) == "Mia: Ashford."
    assert len(compress(Summary.parse(full), 5)) <= 5


@pytest.mark.parametrize("budget", [60, 120, 200])
def test_many_new_minor_names_do_not_push_out_the_first_characters(budget):
    mem = RollingMemory(budget)
    mem.fold(INTRO)
    first = Summary.parse(mem.summary)
    assert first.names()[0] == "Mia" and len(first.names()) >= 2
    crowd = crowd_text(minor_names(200))
    chunks = [crowd[i:i + 150] for i in range(0, len(crowd), 150)]  # cut mid-sentence, as tokens are
    seen_new = set()
    for chunk in chunks + [MIDDLE] * 3:
        out = mem.fold(chunk)
        assert len(out) <= budget, out
        s = Summary.parse(out)
        assert s.names()[0] == "Mia" and s.entry("Mia").facts[0] == "Ashford", out  # the anti-drift rule
        for name in first.names():  # every early character that fit stays while newcomers arrive
            if budget >= len(Summary(first.entries[: first.names().index(name) + 1]).render()) + 20:
                assert name in s.names(), (name, out)
        seen_new |= set(s.names()) - set(first.names())
    assert mem.updates == 1 + len(chunks) + 3
    assert len(seen_new) < 20  # newcomers never flood the summary
    if budget >= 200:
        assert Summary.parse(mem.summary).names()[:3] == ["Mia", "Leo", "Nora"]


# ------------------------------------------------------------------------------------------- the schedule
STORY = INTRO + MIDDLE + crowd_text(minor_names(30)) + MIDDLE + INTRO.replace("Mia", "Mia again")


def char_tok() -> CharTokenizer:
    return CharTokenizer(sorted(set(STORY + ":;")))  # the summary separators, as any real corpus has them


@pytest.mark.parametrize("block,budget,every", [(64, 24, 0), (64, 24, 5), (48, 20, 26), (96, 40, 1)])
def test_rolling_story_keeps_prefix_and_window_within_the_block(block, budget, every):
    tok = char_tok()
    ids = tok.encode(STORY).tolist()
    sch = make_schedule(block, budget, every)
    story = rolling_story(tok, sch)
    text_of = lambda a, b: tok.decode(ids[a:b])
    folds = 0
    for n in range(1, len(ids) + 1):
        before = story.covered
        changed = story.catch_up(n, text_of)
        assert story.fits(n) and len(story.prefix) + n - story.covered <= block
        assert story.covered % sch.update_every == 0 and story.covered <= n
        assert changed == (story.covered != before)
        if story.prefix:
            assert story.prefix[0] == SUMMARY_OPEN_ID and story.prefix[-1] == SUMMARY_CLOSE_ID
            assert len(story.prefix) <= budget + 2
            assert story.prefix[1:-1] == tok.encode(story.memory.summary).tolist()
        folds += changed
    assert folds > 3 and story.memory.summary  # the story is many windows long
    assert "Mia" in Summary.parse(story.memory.summary).names()


@pytest.mark.parametrize("every,focus", [(0, "window"), (7, "window"), (7, "none")])
def test_catch_up_in_one_call_equals_token_by_token(every, focus):
    tok = char_tok()
    ids = tok.encode(STORY).tolist()
    sch = make_schedule(64, 24, every, focus)
    text_of = lambda a, b: tok.decode(ids[a:b])
    for n in (100, 333, len(ids)):
        one, steps = rolling_story(tok, sch), rolling_story(tok, sch)
        log_one, log_steps = [], []
        one.catch_up(n, text_of, log_one)
        for k in range(1, n + 1):
            steps.catch_up(k, text_of, log_steps)
        assert (one.covered, one.prefix, one.memory.summary) == (steps.covered, steps.prefix, steps.memory.summary)
        assert log_one == log_steps and [r["covered"] for r in log_one] == \
            list(range(sch.update_every, one.covered + 1, sch.update_every))
        assert "".join(r["evicted"] for r in log_one) == tok.decode(ids[:one.covered])


def test_rolling_story_with_a_word_encoder():
    """Any encoder works: here one id per word, so the budget counts words."""
    vocab: dict[str, int] = {}
    enc = lambda t: [vocab.setdefault(w, 16 + len(vocab)) for w in t.split()]
    words_ = STORY.split()
    story = RollingStory(make_schedule(40, 12, 6), enc, SUMMARY_OPEN_ID, SUMMARY_CLOSE_ID)
    story.catch_up(len(words_), lambda a, b: " ".join(words_[a:b]) + " ")
    assert story.fits(len(words_)) and len(story.prefix) <= 14 and len(story.memory.summary.split()) <= 12


# ------------------------------------------------------------------------------------------- schedule errors
def test_make_schedule_defaults_and_errors():
    sch = make_schedule(64, 24)
    assert (sch.block_size, sch.budget, sch.min_window, sch.update_every) == (64, 24, 38, 19)
    with pytest.raises(ValueError, match="budget of 60 tokens leaves 2 tokens of a 64-token block.*lower the budget"):
        make_schedule(64, 60)
    with pytest.raises(ValueError, match="lower the budget or raise block_size"):
        make_schedule(16, 20)
    with pytest.raises(ValueError, match="budget of 0"):
        make_schedule(64, 0)
    assert sch.focus == "window" and make_schedule(64, 24, focus="none").focus == "none"
    with pytest.raises(ValueError, match="focus must be one of window, none, got 'all'"):
        make_schedule(64, 24, focus="all")
    for bad in (39, 1000, -1):
        with pytest.raises(ValueError, match=r"update_every must be between 1 and 38 .*got " + str(bad)):
            make_schedule(64, 24, bad)
    assert make_schedule(64, 24, 38).update_every == 38
