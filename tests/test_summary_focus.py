"""What of the kept summary the model is shown (story_memory/focus.py): the window's characters first with their
facts, then the other names, then their facts, then the place, within the budget; and the rolling memory that
keeps more than it shows."""

import pytest

from story_memory.focus import KEPT_FACTOR, focused, named_in
from story_memory.rolling import RollingMemory
from story_memory.summary import Entry, Summary
from tests.test_story_memory import INTRO, MIDDLE, crowd_text, minor_names

KEPT = Summary([Entry("Mia", ["Ashford", "cat Pip", "red kite"]),
                Entry("Leo", ["Brookmere", "brass compass", "dog Rusty"]),
                Entry("Nora", ["Fernvale", "rabbit Clover"])], place="old mill")


def test_named_in_finds_whole_names_latest_first():
    text = "Leo waved at Nora. Annabel and Leonard left. Then Mia smiled, and Nora too."
    assert named_in(text, ["Mia", "Leo", "Nora", "Ann", "Bo"]) == ["Nora", "Mia", "Leo"]
    assert named_in("Leonard and Annabel", ["Leo", "Ann"]) == []
    assert named_in("Mr. O'Hara (a+b) met Ann", ["O'Hara", "(a+b)"]) == ["(a+b)", "O'Hara"]  # names as plain text


def test_the_window_character_comes_first_with_all_its_facts():
    # a budget that holds every name but only one character's facts
    shown = focused(KEPT, "Later that day Nora ran home.", 44)
    assert shown == "Nora: Fernvale; rabbit Clover. Mia. Leo."
    # two characters in the window: the one named last first; their facts before anyone else's name
    assert focused(KEPT, "Nora saw Leo by the gate.", 60) == "Leo: Brookmere; brass compass; dog Rusty. Nora: Fernvale."


def test_other_names_come_before_other_facts_and_the_place_last():
    full = focused(KEPT, "Mia walked to the mill.", 1000)
    assert full == ("Mia: Ashford; cat Pip; red kite. Leo: Brookmere; brass compass; dog Rusty. "
                    "Nora: Fernvale; rabbit Clover. At: old mill.")
    # no character in the window: the kept order; names of all before any fact of the later ones
    assert focused(KEPT, "The wind blew.", 40) == "Mia: Ashford; cat Pip. Leo. Nora."


def test_the_place_alone_is_counted_without_a_leading_space():
    kept = Summary([Entry("Bartholomew", ["Ashford"])], place="mill")
    assert focused(kept, "", len("At: mill.")) == "At: mill."


def test_a_fact_too_long_is_skipped_for_a_shorter_one():
    kept = Summary([Entry("Mia", ["Ashford", "a very long and winding description of a hat", "cat Pip"])])
    assert focused(kept, "Mia", 30) == "Mia: Ashford; cat Pip."


@pytest.mark.parametrize("budget", [10, 25, 44, 60, 90])
@pytest.mark.parametrize("count", [len, lambda t: len(t.split())])
def test_the_shown_summary_fits_the_budget_and_is_a_part_of_the_kept_one(budget, count):
    for window in ("", "Mia", "Nora and Leo", "nobody"):
        shown = Summary.parse(focused(KEPT, window, budget, count))
        assert count(shown.render()) <= budget
        for e in shown.entries:
            assert set(e.facts) <= set(KEPT.entry(e.name).facts)


def test_rolling_memory_with_focus_keeps_more_than_it_shows():
    budget = 60
    plain, focus = RollingMemory(budget), RollingMemory(budget, focus=True)
    crowd = crowd_text(minor_names(12))
    for chunk, window in ((INTRO, "Nora"), (MIDDLE, "Nora"), (crowd, "Nora"), (MIDDLE, "Leo smiled.")):
        a, b = plain.fold(chunk), focus.fold(chunk, window)
        assert len(a) <= budget and len(b) <= budget
        assert plain.kept == a and len(focus.kept) <= budget * KEPT_FACTOR
    assert len(focus.kept) > budget  # the kept summary holds more than one budget's worth
    assert focus.summary.startswith("Leo: Brookmere") and "dog Rusty" in focus.summary
    assert "Leo: Brookmere" in focus.kept and "Nora: Fernvale" in focus.kept
    assert "dog Rusty" not in plain.summary  # the plain summary, cut by age, lost Leo's pet
