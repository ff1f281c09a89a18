"""Memory probe files: the format (write/read/validation), the name-probe maker for any corpus, the demo probe
maker, and the scripts/make_probes.py command end to end."""

import json
import re

import pytest

import story_memory.probes as probes_module
from common.config import UserError
from common.text_format import EOT
from demo.probes import demo_probe_records
from demo.stories import generate_story
from demo.vocab import COLOURS, PET_KINDS, PET_NAMES, TOWN_HEADS, TOWN_TAILS
from scripts.make_probes import main
from story_memory.probes import (Probe, continues_a_name, corpus_probes, find_names, read_probes,
                                 write_probes)

FILLER = "The boats rocked gently on the water while the gulls called softly above them. " * 3  # 243 characters
STORY = ("Maya lived by the sea with her dog. Every morning Maya and Tom walked to the harbour, and Lila waved "
         "from her window.\n\n" + FILLER + "\n\n"
         "At noon Tom found a shell shaped like a star. Lila said it was the best shell on the whole beach.\n\n"
         + FILLER + "\n\n"
         "In the evening the friends ate soup, and Maya told a story about a whale. Tom laughed, and Lila asked "
         "for another one.\n")


def at(text: str, needle: str) -> int:
    """Offset of `needle`, which must occur exactly once in `text`."""
    assert text.count(needle) == 1, needle
    return text.index(needle)


def good_record(**changes) -> dict:
    rec = {"context": "Ada met Ben. Later, ", "answer": "Ada", "distractors": ["Ben", "Cy"], "last_mention": 3}
    rec.update(changes)
    return rec


# --- the file format ------------------------------------------------------------------------------------------

def test_round_trip_keeps_fields_and_metadata(tmp_path):
    probes = [Probe("Zoë had a cat called Pip. Much later, ", "Zoë", ["Ben", "Cy"], 3, {"source": "t", "kind": "name"}),
              Probe("x" * 5000, "the answer", ["a distractor"], 5000)]
    path = tmp_path / "sub" / "p.jsonl"
    assert write_probes(path, probes) == 2
    assert read_probes(path) == probes
    lines = path.read_bytes().split(b"\n")
    assert len(lines) == 3 and lines[-1] == b"" and json.loads(lines[0])["kind"] == "name"
    assert [p.name for p in path.parent.iterdir()] == ["p.jsonl"]  # no temp file left behind


def test_write_refuses_an_invalid_probe_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "p.jsonl"
    write_probes(path, [Probe("ctx", "a", ["b"], 0)])
    before = path.read_bytes()
    with pytest.raises(ValueError, match="probe 2"):
        write_probes(path, [Probe("ctx", "a", ["b"], 0), Probe("ctx", "a", ["a"], 0)])
    assert path.read_bytes() == before


BAD_LINES = [
    ("not json at all", "not valid JSON"),
    ('[1, 2]', "not a JSON object"),
    (json.dumps(good_record(context="")), "'context'"),
    (json.dumps({k: v for k, v in good_record().items() if k != "context"}), "'context'"),
    (json.dumps(good_record(answer=None)), "'answer'"),
    (json.dumps(good_record(answer="")), "'answer'"),
    (json.dumps(good_record(distractors=[])), "'distractors'"),
    (json.dumps(good_record(distractors="Ben")), "'distractors'"),
    (json.dumps(good_record(distractors=["Ben", ""])), "'distractors'"),
    (json.dumps(good_record(distractors=["Ben", 7])), "'distractors'"),
    (json.dumps(good_record(distractors=["Ben", "Ada"])), "equals the answer"),
    (json.dumps(good_record(distractors=["Ben", "Ben"])), "twice"),
    (json.dumps(good_record(last_mention=-1)), "'last_mention'"),
    (json.dumps(good_record(last_mention=21)), "'last_mention'"),
    (json.dumps(good_record(last_mention="3")), "'last_mention'"),
    (json.dumps(good_record(last_mention=True)), "'last_mention'"),
    (json.dumps(good_record(last_mention=1.5)), "'last_mention'"),
    (json.dumps({k: v for k, v in good_record().items() if k != "last_mention"}), "'last_mention'"),
]


@pytest.mark.parametrize("line, reason", BAD_LINES)
def test_every_bad_line_is_a_one_line_error_naming_the_line(tmp_path, line, reason):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(good_record()) + "\n\n" + line + "\n" + json.dumps(good_record()) + "\n")
    with pytest.raises(UserError) as e:
        read_probes(path)
    message = str(e.value)
    assert "p.jsonl:3:" in message and reason in message and "\n" not in message


def test_invalid_utf8_and_deep_nesting_are_bad_json(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'{"context": "\xff\xfe"}\n')
    with pytest.raises(UserError, match=r"p.jsonl:1: not valid JSON"):
        read_probes(path)
    path.write_text("[" * 100_000 + "\n")
    with pytest.raises(UserError, match=r"p.jsonl:1: not valid JSON"):
        read_probes(path)


def test_last_line_without_newline_is_ignored_only_when_torn(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(good_record()) + "\n" + '{"context": "Ada met')
    assert len(read_probes(path)) == 1
    path.write_text(json.dumps(good_record()) + "\n" + json.dumps(good_record(answer="Cy", distractors=["Ben"])))
    assert [p.answer for p in read_probes(path)] == ["Ada", "Cy"]
    path.write_text(json.dumps(good_record()) + "\n" + json.dumps(good_record(distractors=[])))
    with pytest.raises(UserError, match="p.jsonl:2"):
        read_probes(path)  # a complete last line is checked like any other


def test_missing_file_too_large_and_too_many_lines(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="not found"):
        read_probes(tmp_path / "nope.jsonl")
    with pytest.raises(UserError, match="not a file"):
        read_probes(tmp_path)
    path = tmp_path / "p.jsonl"
    path.write_text((json.dumps(good_record()) + "\n") * 3)
    assert len(read_probes(path)) == 3
    monkeypatch.setattr(probes_module, "MAX_PROBES_LINES", 2)
    with pytest.raises(UserError, match="more than 2 lines"):
        read_probes(path)
    monkeypatch.setattr(probes_module, "MAX_PROBES_BYTES", 100)
    with pytest.raises(UserError, match="over the limit of 100"):
        read_probes(path)


# --- name probes for any corpus -------------------------------------------------------------------------------

def test_find_names_keeps_recurring_mid_sentence_names_only():
    names = find_names(STORY)
    assert sorted(names) == ["Lila", "Maya", "Tom"]  # not "Every", "At", "In", "The": only sentence-initial
    assert [m.initial for m in names["Tom"]] == [False, False, True]
    assert [m.initial for m in names["Lila"]] == [False, True, False]
    text = 'Mr. Darcy bowed. Then Mr. Darcy left, and Mr. Darcy came back. "Darcy," she said.'
    darcy = find_names(text)["Darcy"]
    assert [m.initial for m in darcy] == [False, False, False, True]  # a title's full stop ends no sentence
    assert "Then" not in find_names(text + " and then then then")


def test_corpus_probes_on_a_hand_written_story():
    got = corpus_probes([("beach", STORY)], min_distance_chars=150, max_per_doc=10, n_distractors=2)
    tom, maya, lila = at(STORY, "Tom found"), at(STORY, "Maya told"), at(STORY, "Lila asked")
    assert [(p.answer, len(p.context), p.distractors) for p in got] == [
        ("Tom", tom, ["Maya", "Lila"]),  # in its context Maya has 2 mentions, Lila 1
        ("Maya", maya, ["Tom", "Lila"]),  # Tom and Lila 2 each: Tom was mentioned first
        ("Lila", lila, ["Maya", "Tom"]),  # Maya and Tom 3 each: Maya was mentioned first
    ]
    assert [p.last_mention for p in got] == [at(STORY, "Tom walked") + 3, at(STORY, "Maya and") + 4,
                                            at(STORY, "Lila said") + 4]
    assert all(p.context == STORY[:len(p.context)] for p in got)
    assert got[0].meta == {"source": "corpus", "doc": "beach", "kind": "name", "character": "Tom"}
    # "Tom laughed" and "Lila said" start sentences, "Every morning Maya" is too close: no probes there.


def test_corpus_probes_caps_spread_over_names_and_counts():
    def answers(**kw):
        return [(p.answer, len(p.distractors)) for p in corpus_probes([("beach", STORY)], **kw)]
    assert answers(min_distance_chars=150, max_per_doc=1, n_distractors=2) == [("Maya", 2)]  # first mentioned
    assert answers(min_distance_chars=150, max_per_doc=2, n_distractors=1) == [("Tom", 1), ("Maya", 1)]
    assert answers(min_distance_chars=150, max_per_doc=9, n_distractors=5) == [("Tom", 2), ("Maya", 2), ("Lila", 2)]
    assert answers(min_distance_chars=10_000, max_per_doc=9, n_distractors=2) == []
    only_one_name = STORY.replace("Tom", "Maya").replace("Lila", "Maya")
    assert corpus_probes([("x", only_one_name)], 150, 9, 2) == []  # no other name: no distractor, no probe
    related = STORY.replace("Lila", "Mayan")
    assert all("Mayan" not in p.distractors for p in corpus_probes([("x", related)], 150, 9, 2)
               if p.answer == "Maya")
    assert corpus_probes([("a", STORY), ("b", STORY)], 150, 9, 2) == corpus_probes([("a", STORY), ("b", STORY)],
                                                                                 150, 9, 2)


def test_the_second_word_of_a_longer_name_is_never_a_probe():
    """"the Yellow Dwarf", "the Fairy of the Desert": the word before gives the answer away, whatever the memory
    holds; a title is not a name of its own, so "Prince Ahmed" still asks for Ahmed."""
    def second(text):
        return continues_a_name(text, len(text) - len(re.split(r"[ \n-]", text)[-1]))
    assert second("so angry with the Yellow Dwarf") and second("back to the Fairy of the Desert")
    assert second("the King of the Gold") and second("she saw Humpy-Dumpy") and second("with the Fir\nTree")
    assert not second("he told Prince Ahmed") and not second("the Princess\nNouronnihar")
    assert not second("He left. Then Dummling") and not second("Snow-white and Rose") and not second("Tom and Maya")
    assert second("may come! Humpy-Dumpy")  # a hyphen joins the two words even at a sentence's start
    dwarf = "Ada met the Yellow Dwarf. Then Ada ran, and the Yellow Dwarf laughed at Ada and the Yellow Dwarf."
    assert sorted(find_names(dwarf)) == ["Ada", "Yellow"]  # "Dwarf" is only ever the end of "the Yellow Dwarf"
    plain = corpus_probes([("beach", STORY)], 150, 10, 2)
    # mid-sentence "Old Tom" twice ("Tom laughed" starts a sentence: "Old Tom laughed" there would read as
    # "Then Tom laughed", a sentence-initial word before a name, which the rule leaves alone)
    longer = STORY.replace("Tom", "Old Tom").replace("Old Tom laughed", "Tom laughed").replace("Maya", "Captain Maya")
    got = corpus_probes([("beach", longer)], 150, 10, 2)
    assert "Tom" in [p.answer for p in plain] and "Tom" not in [p.answer for p in got]
    assert [p.answer for p in got if p.answer != "Old"] == [p.answer for p in plain if p.answer != "Tom"]


# --- demo probes ----------------------------------------------------------------------------------------------

def test_demo_probes_are_exact_story_prefixes_with_exact_distractors():
    records = demo_probe_records(6, 1234, 1000, n_distractors=3, start=100_000)
    assert len(records) > 30
    pools = {"colour": set(COLOURS), "pet": set(PET_KINDS), "pet_name": set(PET_NAMES)}
    for r in records:
        story = generate_story(int(r["doc"].split("-")[1]) - 1, 1234)
        assert story.index >= 100_000 and r["source"] == "demo"
        ctx, answer, last = r["context"], r["answer"], r["last_mention"]
        assert story.text[:len(ctx)] == ctx and story.text[len(ctx):].startswith(answer)
        assert len(r["distractors"]) == len(set(r["distractors"])) == 3 and answer not in r["distractors"]
        assert ctx[last - len(answer):last] == answer  # the LAST earlier mention: none between it and the probe
        assert not re.search(r"(?<!\w)" + re.escape(answer) + r"(?!\w)", ctx[last:])
        assert len(ctx) - last >= 1000
        char = next(c for c in story.facts["characters"] if c["name"] == r["character"])
        assert char[r["kind"]] == answer
        others = [c[r["kind"]] for c in story.facts["characters"] if c is not char]
        assert r["distractors"][:len(others)] == others  # the story's own other values come first
        if r["kind"] in pools:
            assert set(r["distractors"]) <= pools[r["kind"]]
        if r["kind"] == "town":
            assert all(any(d.startswith(h) for h in TOWN_HEADS) and d.endswith(TOWN_TAILS) for d in r["distractors"])
        assert set(r) == {"context", "answer", "distractors", "last_mention", "source", "doc", "kind", "character"}
    assert {r["kind"] for r in records} == {"town", "pet", "pet_name", "colour", "object"}


def test_demo_probes_are_deterministic_and_valid_records(tmp_path):
    a = demo_probe_records(3, 7, 500, n_distractors=6, start=50)
    assert a == demo_probe_records(3, 7, 500, n_distractors=6, start=50)
    assert a != demo_probe_records(3, 8, 500, n_distractors=6, start=50)
    assert all(len(r["distractors"]) == 6 for r in a)
    assert demo_probe_records(3, 7, 10**6) == []
    write_probes(tmp_path / "p.jsonl", [probes_module.probe_from_record(r) for r in a])
    assert [p.record() for p in read_probes(tmp_path / "p.jsonl")] == a
    with pytest.raises(ValueError):
        demo_probe_records(1, 7, 0, n_distractors=0)


# --- the command ----------------------------------------------------------------------------------------------

def run_cmd(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_command_demo(tmp_path, capsys):
    out_file = tmp_path / "demo.jsonl"
    code, out, err = run_cmd(capsys, "--demo", 3, "--start", 100_000, "--out", out_file)
    assert code == 0 and err == ""
    probes = read_probes(out_file)
    assert [p.record() for p in probes] == demo_probe_records(3, 1234, 1000, 3, 100_000)
    assert out.strip() == f"wrote {len(probes)} probes to {out_file} (chance level 0.250)"


def test_command_from_text_and_from_processed(tmp_path, capsys):
    story = tmp_path / "beach.txt"
    story.write_text(STORY, encoding="utf-8")
    out_file = tmp_path / "text.jsonl"
    code, out, _ = run_cmd(capsys, "--from-text", story, "--min-distance", 150, "--distractors", 1,
                           "--out", out_file)
    assert code == 0 and "wrote 3 probes" in out and "(chance level 0.500)" in out
    assert read_probes(out_file) == corpus_probes([("beach.txt", STORY)], 150, 10, 1)

    processed = tmp_path / "ds" / "processed"
    processed.mkdir(parents=True)
    (processed / "val.txt").write_text(f"A short tale.{EOT}{STORY}{EOT}", encoding="utf-8")
    code, out, _ = run_cmd(capsys, "--from-processed", "--dataset-dir", tmp_path / "ds", "--min-distance", 150,
                           "--max-per-doc", 2, "--out", out_file)
    assert code == 0 and "wrote 2 probes" in out
    assert [(p.meta["doc"], p.answer) for p in read_probes(out_file)] == [("val:1", "Tom"), ("val:1", "Maya")]
    (processed / "val.txt").write_text(f"{STORY}{EOT}{STORY + 'The end.'}{EOT}", encoding="utf-8")
    code, out, _ = run_cmd(capsys, "--from-processed", "--dataset-dir", tmp_path / "ds", "--min-distance", 150,
                           "--min-doc-chars", len(STORY) + 1, "--out", out_file)
    assert code == 0 and "wrote 3 probes" in out and {p.meta["doc"] for p in read_probes(out_file)} == {"val:1"}


@pytest.mark.parametrize("args, code, message", [
    (["--demo", 0], 2, "--demo must be from 1"),
    (["--demo", 1, "--distractors", 0], 2, "--distractors must be from 1"),
    (["--demo", 1, "--distractors", 21], 2, "--distractors must be from 1"),
    (["--demo", 1, "--min-distance", -5], 2, "--min-distance must be >= 0"),
    (["--demo", 1, "--start", -1], 2, "--start must be from 0"),
    (["--demo", 1, "--min-distance", 10**7], 1, "found no probes"),
    (["--from-text", "MISSING"], 2, "input not found"),
    (["--from-text", "BINARY"], 2, "is not UTF-8 text"),
    (["--from-text", "DIR"], 2, "is a folder"),
    (["--from-text", "/dev/zero"], 2, "is not a regular file"),
    (["--from-text", "NAMELESS"], 1, "found no probes"),
    (["--from-text", "STORY", "--max-per-doc", 0], 2, "--max-per-doc must be >= 1"),
    (["--from-text", "STORY", "--min-doc-chars", -1], 2, "--min-doc-chars must be >= 0"),
    (["--from-text", "STORY", "--min-doc-chars", 10**6], 1, "found no probes"),
    (["--from-processed", "--dataset-dir", "DIR"], 2, "run the prepare stage first"),
])
def test_command_errors_are_one_line(tmp_path, capsys, args, code, message):
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00 not text")
    (tmp_path / "nameless.txt").write_text("the sea was calm. " * 500)
    (tmp_path / "story.txt").write_text(STORY)
    where = {"MISSING": tmp_path / "missing.txt", "BINARY": tmp_path / "bin.txt", "DIR": tmp_path,
             "NAMELESS": tmp_path / "nameless.txt", "STORY": tmp_path / "story.txt"}
    out_file = tmp_path / "out.jsonl"
    got, out, err = run_cmd(capsys, *[where.get(a, a) for a in args], "--out", out_file)
    assert got == code and out == "" and message in err and err.count("\n") == 1
    assert not out_file.exists()


def test_command_output_path_that_is_a_folder(tmp_path, capsys):
    code, _, err = run_cmd(capsys, "--demo", 1, "--out", tmp_path)
    assert code == 1 and err.startswith("make_probes.py: failed:") and err.count("\n") == 1


def test_command_refuses_a_text_over_the_size_limit(tmp_path, capsys, monkeypatch):
    import scripts.make_probes as make_probes
    story = tmp_path / "beach.txt"
    story.write_text(STORY, encoding="utf-8")
    monkeypatch.setattr(make_probes, "MAX_TEXT_BYTES", len(STORY.encode()) - 1)
    code, _, err = run_cmd(capsys, "--from-text", story, "--min-distance", 150, "--out", tmp_path / "o.jsonl")
    assert code == 2 and "is larger than" in err and err.count("\n") == 1
