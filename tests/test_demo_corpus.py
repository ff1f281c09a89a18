"""The built-in demo corpus generator (scripts/demo_corpus.py): determinism, facts, structure, variety, CLI."""

import hashlib
import inspect
import json
import os
import random
import re
import subprocess
import sys
import unicodedata
from collections import Counter

import pytest

from common.paths import REPO_ROOT, DatasetPaths
from demo import vocab as V
from demo.stories import (ATTRIBUTES, DEMO_TIME, GENERATOR_VERSION, SCENE_BREAKS, generate_corpus,
                          generate_story, memory_probes, write_corpus_files, write_text_file)
from scripts.demo_corpus import main
from demo.render import StoryWriter
from demo.stats import jaccard, pairwise_jaccard, shingles

SEED = 1234


@pytest.fixture(scope="module")
def corpus():
    """The default demo corpus (800 stories, the import stage's default seed)."""
    return list(generate_corpus(800, SEED))


def whole_word(value: str, text: str) -> list[int]:
    """Start offsets of `value` in `text` where it is not part of a longer word (case-sensitive)."""
    return [m.start() for m in re.finditer(r"(?<!\w)" + re.escape(value) + r"(?!\w)", text)]


def digest(stories) -> str:
    h = hashlib.sha256()
    for s in stories:
        h.update(json.dumps([s.doc_id, s.title, s.text, s.facts], sort_keys=True).encode("utf-8"))
    return h.hexdigest()


# --- determinism ------------------------------------------------------------------------------------------------

def test_same_seed_same_bytes_and_different_seed_differs():
    a, b = list(generate_corpus(40, 7)), list(generate_corpus(40, 7))
    assert [s.text for s in a] == [s.text for s in b] and digest(a) == digest(b)
    other = list(generate_corpus(40, 8))
    assert sum(x.text != y.text for x, y in zip(a, other)) == 40


def test_story_i_does_not_depend_on_n_or_start():
    long, short = list(generate_corpus(60, SEED)), list(generate_corpus(30, SEED))
    assert digest(long[:30]) == digest(short)
    assert digest(generate_corpus(5, SEED, start=20)) == digest(long[20:25])
    assert generate_story(42, SEED).text == long[42].text


def test_corpus_is_lazy():
    stories = generate_corpus(10**12, SEED)  # would never finish if it were a list
    assert inspect.isgenerator(stories)
    assert next(stories).doc_id == "story-00001" and next(stories).doc_id == "story-00002"


def test_same_bytes_in_other_processes_whatever_the_hash_seed():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from tests.test_demo_corpus import digest; "
            "from demo.stories import generate_corpus; print(digest(generate_corpus(25, 1234)))")
    expected = digest(generate_corpus(25, SEED))
    for hash_seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run([sys.executable, "-c", code, str(REPO_ROOT)], capture_output=True, text=True,
                             env=env, cwd=str(REPO_ROOT), check=True)
        assert out.stdout.strip() == expected


def test_global_random_state_is_neither_used_nor_disturbed():
    random.seed(99)
    before = random.getstate()
    first = generate_story(3, SEED).text
    assert random.getstate() == before
    random.seed(1)
    assert generate_story(3, SEED).text == first


def test_import_constants():
    assert DEMO_TIME.utcoffset() is not None and DEMO_TIME.utcoffset().total_seconds() == 0
    assert isinstance(GENERATOR_VERSION, str) and GENERATOR_VERSION


# --- facts ------------------------------------------------------------------------------------------------------

def test_facts_match_the_text_exactly(corpus):
    for story in corpus[:300]:
        facts = json.loads(json.dumps(story.facts))
        assert facts == story.facts, "facts must be JSON-able"
        last = len(facts["scenes"]) - 1
        chars = facts["characters"]
        assert 2 <= len(chars) <= 3
        for attr in ATTRIBUTES:
            assert len({c[attr] for c in chars}) == len(chars), f"two characters share a {attr}"
        for c in chars:
            for attr in ATTRIBUTES:
                value, mentions = c[attr], c["mentions"][attr]
                for m in mentions:
                    assert story.text[m["start"]:m["end"]] == value
                    lo, hi = facts["scenes"][m["scene"]]
                    assert lo <= m["start"] and m["end"] <= hi
                assert mentions[0]["scene"] == 0, "introduced in the first scene"
                assert mentions[-1]["scene"] == last, "mentioned again in the last scene"
                # ...and nowhere else, so a late mention is only predictable from the early one
                assert whole_word(value, story.text) == [m["start"] for m in mentions], (story.doc_id, value)
            assert c["name"] in story.text[:facts["scenes"][0][1]]


def test_fact_pools_are_disjoint():
    pools = {"names": V.NAMES_SHE + V.NAMES_HE, "pets": V.PET_KINDS, "pet_names": V.PET_NAMES,
             "colours": V.COLOURS, "nouns": tuple(n for n, _ in V.OBJECT_NOUNS)}
    for name, pool in pools.items():
        assert len(set(pool)) == len(pool), f"duplicates in {name}"
        for other, words in pools.items():
            if other != name:
                assert not set(pool) & set(words), (name, other)


# --- structure --------------------------------------------------------------------------------------------------

def test_scenes_are_separated_by_break_lines_with_blank_lines(corpus):
    markers = Counter()
    for story in corpus[:300]:
        scenes = story.facts["scenes"]
        assert len(scenes) >= 3
        for (_, end), (start, _), marker in zip(scenes, scenes[1:], story.facts["scene_breaks"]):
            assert story.text[end:start] == f"\n\n{marker}\n\n"
            markers[marker] += 1
        assert len(story.facts["scene_breaks"]) == len(scenes) - 1
    assert set(markers) <= set(SCENE_BREAKS) and len(markers) >= 3
    assert markers["* * *"] > sum(markers.values()) / 2


def test_paragraphs_dialogue_and_characters(corpus):
    styles = Counter()
    for story in corpus[:300]:
        text = story.text
        assert text.endswith("\n") and not text.endswith("\n\n") and not text[0].isspace()
        assert "\n\n\n" not in text and "  " not in text
        assert all(line == line.strip() for line in text.split("\n"))
        assert text.count("\n\n") >= 8, "paragraphs separated by blank lines"
        if "“" in text:
            styles["curly"] += 1
            assert text.count("“") == text.count("”") > 0 and '"' not in text and "'" not in text
        else:
            styles["straight"] += 1
            assert text.count('"') % 2 == 0 and text.count('"') > 0 and "’" not in text
    assert styles["curly"] > 30 and styles["straight"] > 30
    everything = "".join(s.text for s in corpus)
    for ch in "—ëé":
        assert ch in everything
    assert any(name in everything for name in ("Zoë", "José"))


def test_text_is_clean_utf8(corpus):
    for story in corpus:
        data = story.text.encode("utf-8")  # raises on lone surrogates
        assert data.decode("utf-8") == story.text
        assert not [c for c in story.text if c != "\n" and unicodedata.category(c)[0] == "C"]
        assert unicodedata.normalize("NFC", story.text) == story.text


def test_sizes_in_expected_range(corpus):
    sizes = [len(s.text.encode("utf-8")) for s in corpus]
    assert 1_000_000 <= sum(sizes) <= 3_000_000
    assert min(sizes) >= 1500 and max(sizes) <= 6000


def test_stories_are_varied(corpus):
    sims = pairwise_jaccard([s.text for s in corpus[:150]])
    assert max(sims) < 0.5, "the filter would see near-duplicates"
    assert sum(sims) / len(sims) < 0.1
    assert len({s.title for s in corpus}) > 100
    assert Counter(s.text[:25] for s in corpus).most_common(1)[0][1] < len(corpus) / 10, "openings too alike"


def test_jaccard_helpers():
    text = "one two three four five six seven"
    assert len(shingles(text)) == 3
    assert jaccard(shingles(text), shingles(text)) == 1.0
    assert jaccard(shingles(text), shingles("eight nine ten eleven twelve")) == 0.0
    assert jaccard(set(), set()) == 0.0


# --- memory probes ----------------------------------------------------------------------------------------------

def test_memory_probes_answer_follows_prefix(corpus):
    for story in corpus[:200]:
        probes = memory_probes(story)
        chars = story.facts["characters"]
        assert len(probes) >= len(chars) * len(ATTRIBUTES)
        assert [len(p.prefix) for p in probes] == sorted(len(p.prefix) for p in probes)
        for p in probes:
            assert story.text.startswith(p.prefix)
            assert story.text[len(p.prefix):].startswith(p.answer)
            assert p.answer in p.prefix, "introduced before the probe"
            assert p.character in p.prefix[-200:], "the prefix says whose fact is asked for"
            assert p.distance > 500
        assert memory_probes(story, min_distance=10**6) == []


def test_writer_keeps_fact_offsets_through_articles_and_capitals():
    w = StoryWriter(random.Random(0))
    ctx = ({"object": ("old iron key", 0, "object"), "name": "Zoë", "town": ("Ashford", 0, "town")},)
    w.paragraph()
    w.sentence(("{name} had a {object} from {town}.",), ctx)
    text = "".join(w.parts)
    assert text == "Zoë had an old iron key from Ashford."
    for _, _, start, end, _ in w.mentions:
        assert text[start:end] in ("old iron key", "Ashford")
    with pytest.raises(ValueError):
        w.sentence(("{object} was lost.",), ctx)


# --- files and CLI ----------------------------------------------------------------------------------------------

def test_big_file_and_folder_writers(tmp_path):
    counts = write_text_file(tmp_path / "big.txt", 0.05, SEED)
    data = (tmp_path / "big.txt").read_bytes()
    assert len(data) == counts["bytes"] >= 50_000
    first = list(generate_corpus(counts["stories"], SEED))
    assert data.decode("utf-8") == "\n".join(s.text for s in first)
    assert not list(tmp_path.glob(".*.tmp"))
    folder = write_corpus_files(tmp_path / "stories", 0.02, SEED)
    files = sorted((tmp_path / "stories").glob("*.txt"))
    assert len(files) == folder["stories"] and sum(f.stat().st_size for f in files) == folder["bytes"] >= 20_000
    assert files[0].read_text(encoding="utf-8") == first[0].text


def test_cli_prints_stories_and_writes_files(tmp_path, capsys):
    assert main(["--stories", "2", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    a, b = generate_corpus(2, 5)
    assert a.text in out and b.text in out and out.count("=== story-") == 2
    assert main(["--stories", "1", "--facts"]) == 0
    assert "probe:" in capsys.readouterr().out
    assert main(["--out", str(tmp_path / "x.txt"), "--mb", "0.01"]) == 0
    assert (tmp_path / "x.txt").stat().st_size >= 10_000
    with pytest.raises(SystemExit) as e:
        main(["--mb", "-1", "--out", str(tmp_path / "y.txt")])
    assert e.value.code == 2


def test_import_stage_writes_the_demo_corpus_reproducibly(tmp_path):
    from scripts.import_text import ImportConfig, run
    cfg = ImportConfig(demo=True, demo_stories=4, demo_seed=SEED)
    names = []
    for ds in ("a", "b"):
        paths = DatasetPaths.at(tmp_path / ds)
        assert run(cfg, paths)["added"] == 4
        names.append(sorted(p.name for p in (paths.raw / "demo").glob("*.txt")))
    assert names[0] == names[1] and len(names[0]) == 4
    assert names[0][0].startswith(DEMO_TIME.strftime("%Y%m%d_%H%M%S") + "__demo__story-00001__")
    paths = DatasetPaths.at(tmp_path / "a")
    assert (paths.raw / "demo" / names[0][0]).read_text(encoding="utf-8") == generate_story(0, SEED).text
