"""Story metrics on hand-made texts whose answers are worked out by hand: distinct-n, repeated 4-grams, loops,
sentence length, aggregation and the edge cases (empty text, one word, non-ASCII text, token-id sequences)."""

import pytest

from generation import story_metrics as sm
from generation.story_metrics import Cycle

VARIED = ("Mira found a brass key under the old oak. She carried it home through the rain, wondering which "
          "door it might open. Her brother laughed at first; then he saw the tiny map engraved on its bow. "
          "Together they followed the lines past the mill, over the frozen creek, and up to the lighthouse.")
LOOPING = ("Mira found a brass key under the old oak. " + "She went to the door and the door was shut. " * 5
           + "She went to the d")


# ------------------------------------------------------------------------------------------------ words, n-grams
def test_words_are_casefolded_letter_runs_with_inner_apostrophes_and_hyphens():
    assert sm.words("Don't STOP -- the well-known cat's toy, 42 times!") == \
        ["don't", "stop", "the", "well-known", "cat's", "toy", "42", "times"]
    assert sm.words("Ça va, naïve Zoë? Straße ΣΟΦΙΑ") == \
        ["ça", "va", "naïve", "zoë", "strasse", "σοφια"]


def test_distinct_n_by_hand():
    ws = sm.words("the cat the cat the dog")  # the cat the cat the dog
    assert sm.distinct_n(ws, 1) == pytest.approx(3 / 6)  # {the, cat, dog} / 6
    assert sm.distinct_n(ws, 2) == pytest.approx(3 / 5)  # the cat, cat the, the cat, cat the, the dog
    assert sm.distinct_n(ws, 3) == pytest.approx(3 / 4)  # tct, ctt, tct, ctd -> 3 unique
    assert sm.repeated_ngram_fraction(ws, 4) == pytest.approx(0.0)  # tctc, ctct, tctd: all different
    ws = sm.words("a b c d a b c d a b")  # 4-grams: abcd bcda cdab dabc abcd bcda cdab -> 4 unique of 7
    assert sm.repeated_ngram_fraction(ws, 4) == pytest.approx(3 / 7)
    assert sm.distinct_n(ws, 1) == pytest.approx(4 / 10)


def test_short_texts_have_no_ngram_values_instead_of_fake_ones():
    assert sm.distinct_n([], 1) is None
    one = sm.text_metrics("Hello")
    assert one["words"] == 1 and one["distinct_1"] == 1.0
    assert one["distinct_2"] is None and one["distinct_3"] is None and one["repeated_4gram_fraction"] is None
    assert one["avg_sentence_words"] == 1.0 and one["sentences"] == 1


def test_empty_and_wordless_texts():
    for text in ("", "   \n\n ", "... !!! ---"):
        m = sm.text_metrics(text)
        assert m["words"] == 0 and m["sentences"] == 0
        assert m["distinct_1"] is None and m["avg_sentence_words"] is None
        assert m["tail_loops"] is False
    assert sm.text_metrics("")["longest_cycle_len"] == 0 and sm.text_metrics("")["chars"] == 0


# ------------------------------------------------------------------------------------------------ sentences
def test_sentence_split_and_average_length():
    text = 'The cat sat. It was warm! Was it?  "Yes," she said.\n\nThe end'
    assert sm.sentences(text) == ["The cat sat.", "It was warm!", "Was it?", '"Yes," she said.', "The end"]
    assert sm.avg_sentence_words(text) == pytest.approx((3 + 3 + 2 + 3 + 2) / 5)
    # closing quotes stay with their sentence; a blank line ends a sentence without punctuation
    assert sm.sentences('He said "Stop!" Then he left\n\nNext part') == ['He said "Stop!"', "Then he left",
                                                                          "Next part"]
    assert sm.avg_sentence_words("Über alles… Ja.") == pytest.approx((2 + 1) / 2)


# ------------------------------------------------------------------------------------------------ cycles
def test_longest_cycle_finds_the_primitive_unit_and_its_extent():
    c = sm.longest_cycle("xyabcabcabz")
    assert c == Cycle(start=2, length=8, period=3) and c.repeats == 2  # "abcabcab": unit abc, partial tail
    assert sm.longest_cycle("aaaaaa") == Cycle(0, 6, 1)  # period 1 wins over 2 and 3 (same length)
    assert sm.longest_cycle("abcdef") == Cycle()  # nothing repeats back to back
    assert sm.longest_cycle("abab", max_period=1) == Cycle()  # the unit is longer than allowed
    assert sm.longest_cycle("") == Cycle() and Cycle().repeats == 0


def test_tail_cycle_only_counts_stretches_that_reach_the_end():
    assert sm.tail_cycle("abcabcabcX") == Cycle()
    assert sm.tail_cycle("Xabcabcabcab") == Cycle(1, 11, 3)
    assert sm.tail_cycle("Xabcabcabcab").repeats == 3
    assert sm.tail_cycle("hello") == Cycle()


def test_cycles_work_on_token_ids_too():
    ids = [5, 9, 1, 2, 3, 1, 2, 3, 1, 2, 3]
    assert sm.longest_cycle(ids) == Cycle(2, 9, 3)
    assert sm.tail_cycle(ids) == Cycle(2, 9, 3)


def test_a_looping_text_is_flagged_and_a_varied_one_is_not():
    loop = sm.text_metrics(LOOPING)
    assert loop["tail_loops"] is True
    assert loop["tail_cycle_period"] == len("She went to the door and the door was shut. ")
    assert loop["tail_cycle_repeats"] == 5 and loop["longest_cycle_repeats"] == 5
    assert loop["repeated_4gram_fraction"] > 0.5
    varied = sm.text_metrics(VARIED)
    assert varied["tail_loops"] is False
    assert varied["longest_cycle_len"] < 10 and varied["repeated_4gram_fraction"] == 0.0
    assert varied["distinct_2"] > loop["distinct_2"] + 0.4


def test_short_repeats_at_the_end_are_not_loops():
    # "ha ha ha ha" repeats enough times but covers too few characters; the long loop below is flagged
    assert sm.text_metrics("She laughed: ha ha ha ha")["tail_loops"] is False
    assert sm.text_metrics("Wait......")["tail_loops"] is False
    assert sm.is_tail_loop(Cycle(0, 30, 10), min_repeats=3, min_loop_chars=24)
    assert not sm.is_tail_loop(Cycle(0, 29, 10), min_repeats=3, min_loop_chars=24)  # only 2 full repeats
    assert sm.text_metrics("The end. " + "no more " * 4, min_repeats=4, min_loop_chars=24)["tail_loops"]
    assert not sm.text_metrics("The end. " + "no more " * 4, min_repeats=5)["tail_loops"]


def test_unicode_text_is_measured_in_characters():
    text = "Zoë rêve. " + "Ωμέγα λύκος. " * 4
    m = sm.text_metrics(text)
    assert m["chars"] == len(text)
    assert m["tail_cycle_period"] == len("Ωμέγα λύκος. ") and m["tail_cycle_repeats"] == 4
    # "rêve. " ends like the unit does, so the repeat starts two characters early: unit ". Ωμέγα λύκος"
    assert sm.longest_cycle(text) == Cycle(start=8, length=len(text) - 8, period=13)
    assert m["longest_cycle_unit"] == ". Ωμέγα λύκος"
    assert m["tail_loops"] is True
    assert sm.text_metrics("😀😀😀😀 🙂")["chars"] == 6  # code points, not UTF-16 units or bytes


# ------------------------------------------------------------------------------------------------ aggregate
def test_aggregate_averages_defined_values_and_counts_loops():
    per_text, agg = sm.corpus_metrics([VARIED, LOOPING, "Hi"])
    assert agg["texts"] == 3 and agg["tail_loops"] == 1 and agg["tail_loop_rate"] == pytest.approx(1 / 3)
    assert agg["distinct_1"] == pytest.approx(sum(p["distinct_1"] for p in per_text) / 3)
    # "Hi" has no bigram: the bigram mean is over the two texts that have one
    assert agg["distinct_2"] == pytest.approx((per_text[0]["distinct_2"] + per_text[1]["distinct_2"]) / 2)
    assert agg["max_longest_cycle_len"] == per_text[1]["longest_cycle_len"]
    assert agg["chars"] == pytest.approx((len(VARIED) + len(LOOPING) + 2) / 3)
    empty = sm.aggregate([])
    assert empty["texts"] == 0 and empty["distinct_1"] is None and empty["tail_loop_rate"] is None


def test_real_public_domain_text_reads_as_varied():
    from common.paths import SHARED_DATA_DIR
    path = SHARED_DATA_DIR / "tinyshakespeare.txt"
    if not path.is_file():
        pytest.skip("tinyshakespeare.txt not available")
    text = path.read_text(encoding="utf-8")
    chunks = [text[i:i + 1500] for i in range(0, 30000, 3000)]
    _, agg = sm.corpus_metrics(chunks)
    assert agg["tail_loops"] == 0
    assert agg["distinct_2"] > 0.8 and agg["repeated_4gram_fraction"] < 0.05
