"""The built-in demo corpus: seeded, deterministic short stories with ground-truth facts for memory probes.

`python run.py` needs data on a fresh machine with no network, so the project writes its own stories (every
word written for this project; child-safe). Each story has two or three named characters, each with a home
town, a pet (kind and name), a favourite colour and an object they carry, all introduced in the first scene
and mentioned again in the last one; 3-5 scenes separated by a scene-break line with a blank line on each side;
dialogue in straight or curly quotes (one style per story), an occasional em dash and accented names (Zoë,
José), paragraphs separated by blank lines. Scene-break lines vary on purpose so the cleaner has work: mostly
`* * *`, sometimes `***`, `###` or `~~~` (SCENE_BREAKS); clean normalises all of them to `* * *`.

Determinism: story i is a pure function of (GENERATOR_VERSION, seed, i): its own `random.Random` seeded from a
sha256 of those, never the global generator or hash(). So the same (n, seed) gives byte-identical stories in
any process, and the first 100 stories of n=200 are the stories of n=100. `generate_corpus` is lazy.

Facts (`Story.facts`, JSON-able): per character its name, pronoun and the five attribute values, and for each
attribute every mention as {start, end, scene} with `text[start:end] == value` (offsets into `Story.text`, in
code points; the first mention is the introduction). A fact value appears in the text only at its recorded
mentions. `memory_probes(story)` turns each late re-mention into (prefix ending right before it, answer).

The command is `scripts/demo_corpus.py`.
"""

from pathlib import Path

import hashlib
import os
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator, NamedTuple

from demo import templates as T
from demo.render import SCENE_BREAKS, StoryWriter  # noqa: F401  (SCENE_BREAKS re-exported)
from demo.vocab import (COLOURS, NAMES_HE, NAMES_SHE, OBJECT_CONDITIONS, OBJECT_NOUNS, PET_KINDS,
                                PET_NAMES, POOLS, PRONOUNS, QUESTS, TOWN_HEADS, TOWN_TAILS)

GENERATOR_VERSION = "demo-stories-1"  # bump whenever the output of any (seed, index) changes
DEMO_TIME = datetime(2026, 1, 1, tzinfo=timezone.utc)  # fixed arrival time of demo raw files
ATTRIBUTES = ("town", "pet", "pet_name", "colour", "object")
SLOT_OF = {"town": "town", "pet": "pet", "pet_name": "petname", "colour": "colour", "object": "object"}


@dataclass(frozen=True)
class Story:
    """One generated story; `facts` is JSON-able ground truth about `text` (see the module docstring)."""

    index: int
    seed: int
    doc_id: str
    title: str
    text: str
    facts: dict


class MemoryProbe(NamedTuple):
    """`prefix` ends right before a late re-mention of a fact introduced early; `answer` comes next in the text."""

    prefix: str
    answer: str
    character: str
    attribute: str
    distance: int  # characters between the end of the introduction and the start of the answer


def story_rng(seed: int, index: int) -> random.Random:
    """The private generator of story `index`: seeded from sha256, so it is the same in every process."""
    digest = hashlib.sha256(f"{GENERATOR_VERSION}|{seed}|{index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _make_characters(rng: random.Random) -> list[dict]:
    """Two or three characters with distinct names and distinct attribute values."""
    k = rng.choice((2, 2, 3))
    people = rng.sample([(n, "she") for n in NAMES_SHE] + [(n, "he") for n in NAMES_HE], k)
    pets, pet_names, colours = rng.sample(PET_KINDS, k), rng.sample(PET_NAMES, k), rng.sample(COLOURS, k)
    heads, nouns = rng.sample(TOWN_HEADS, k), rng.sample(OBJECT_NOUNS, k)
    chars = []
    for i, (name, pronoun) in enumerate(people):
        noun, materials = nouns[i]
        obj = f"{rng.choice(materials)} {noun}"
        if rng.random() < 0.5:
            obj = f"{rng.choice(OBJECT_CONDITIONS)} {obj}"
        he, him, his, kid = PRONOUNS[pronoun]
        values = {"town": heads[i] + rng.choice(TOWN_TAILS), "pet": pets[i], "pet_name": pet_names[i],
                  "colour": colours[i], "object": obj}
        slots = {"name": name, "he": he, "him": him, "his": his, "kid": kid}
        slots.update({SLOT_OF[a]: (v, i, a) for a, v in values.items()})
        chars.append({"name": name, "pronoun": pronoun, "values": values, "slots": slots})
    return chars


def _pair(chars: list[dict], a: int, b: int) -> dict:
    """Slots of character a, plus character b's with a `2` suffix."""
    out = dict(chars[a]["slots"])
    out.update({k + "2": v for k, v in chars[b]["slots"].items()})
    return out


def _dialogue(w: StoryWriter, chars: list[dict], scene: dict, story: dict, lines: int) -> None:
    """A few lines of talk between two characters taking turns, one paragraph per speaker."""
    a, b = w.rng.sample(range(len(chars)), 2)
    for turn in range(lines):
        ctx = (_pair(chars, a, b) if turn % 2 == 0 else _pair(chars, b, a), scene, story)
        roll = w.rng.random()
        w.paragraph()
        if roll < 0.45:
            w.sentence(T.SAY_STATEMENT, ctx)
        elif roll < 0.75:
            w.sentence(T.SAY_QUESTION, ctx)
            w.paragraph()
            w.sentence(T.SAY_REPLY, ctx)
        else:
            w.sentence(T.SAY_EXCLAIM, ctx)


def generate_story(index: int, seed: int) -> Story:
    """Story number `index` (0-based) of the corpus with this seed."""
    rng = story_rng(seed, index)
    w = StoryWriter(rng)
    chars = _make_characters(rng)
    k = len(chars)
    quest = rng.choice(QUESTS)
    names = [c["name"] for c in chars]
    story = dict(quest, all=" and ".join([", ".join(names[:-1]), names[-1]]))
    n_middle = rng.choice((1, 1, 2, 2, 3))
    pairs = [_pair(chars, a, b) for a in range(k) for b in range(k) if a != b]

    def new_scene() -> dict:
        """What stays the same within one scene: where it happens, who they meet, what they eat."""
        return {"place": w.pick(POOLS["place"]), "food": w.pick(POOLS["food"]), "side_role": w.pick(POOLS["side_role"]),
                "side": f"{rng.choice(POOLS['side_title'])} {rng.choice(POOLS['side_surname'])}"}

    def say(templates: tuple[str, ...], scene: dict, pair: dict | None = None) -> None:
        w.sentence(templates, (pair or rng.choice(pairs), scene, story))

    # Scene 0: who everyone is (every fact introduced here), and what they set out to do.
    scene = new_scene()
    w.paragraph()
    say(T.OPENING, scene)
    for i in range(k):
        me = _pair(chars, i, (i + 1) % k)
        w.paragraph()
        say(T.INTRO_TOWN, scene, me)
        kinds = [T.INTRO_PET, T.INTRO_COLOUR, T.INTRO_OBJECT] + ([T.INTRO_TRAIT] if rng.random() < 0.4 else [])
        rng.shuffle(kinds)
        for kind in kinds:
            say(kind, scene, me)
    w.paragraph()
    say(T.MEETING, scene)
    say(T.INCITING, scene)
    _dialogue(w, chars, scene, story, rng.randint(1, 2))

    # Middle scenes: getting there, a problem, a solution; no fact values, only names.
    for _ in range(n_middle):
        w.scene_break()
        scene = new_scene()
        w.paragraph()
        say(T.TRAVEL, scene)
        for _ in range(rng.randint(1, 2)):
            say(T.SETTING, scene)
        w.paragraph()
        for kind in rng.sample([T.ACTION, T.ACTION, T.SIDE, T.QUEST_MIDDLE], rng.randint(2, 3)):
            say(kind, scene)
        _dialogue(w, chars, scene, story, rng.randint(1, 3))
        w.paragraph()
        say(T.PROBLEM, scene)
        say(T.SOLUTION, scene)
        if rng.random() < 0.5:
            say(T.FEELING, scene)

    # Last scene: how it ended, and every fact mentioned once more, long after its introduction.
    w.scene_break()
    scene = new_scene()
    w.paragraph()
    say(T.RETURN, scene)
    say(T.RESOLUTION, scene)
    for i in rng.sample(range(k), k):
        me = _pair(chars, i, (i + 1) % k)
        w.paragraph()
        kinds = [T.REMENTION_TOWN, T.REMENTION_PET, T.REMENTION_COLOUR, T.REMENTION_OBJECT]
        rng.shuffle(kinds)
        for kind in kinds:
            say(kind, scene, me)
    w.paragraph()
    say(T.CLOSING, scene)
    w.scenes[-1][1] = w.pos

    text = "".join(w.parts) + "\n"
    curly = rng.random() < 0.35
    # One quote style per story; one character for one, so fact offsets stay valid.
    text = text.replace("'", "’") if curly else text.replace("“", '"').replace("”", '"')
    title = rng.choice(T.TITLES)
    title = _title(title, chars[0]["name"], chars[1]["name"], chars[0]["values"]["town"], quest["title"])
    facts = {"generator": GENERATOR_VERSION, "seed": seed, "index": index, "quest": quest["title"],
             "quotes": "curly" if curly else "straight", "scenes": w.scenes, "scene_breaks": w.breaks,
             "characters": [{"name": c["name"], "pronoun": c["pronoun"], **c["values"],
                             "mentions": {a: [] for a in ATTRIBUTES}} for c in chars]}
    for char, attr, start, end, scene_no in w.mentions:
        facts["characters"][char]["mentions"][attr].append({"start": start, "end": end, "scene": scene_no})
    return Story(index, seed, f"story-{index + 1:05d}", title, text, facts)


def _title(template: str, name: str, name2: str, town: str, quest_title: str) -> str:
    """The story's title (kept out of the text; the import stage stores it as provenance)."""
    lower = quest_title[0].lower() + quest_title[1:] if quest_title.startswith("The ") else quest_title
    return template.format(name=name, name2=name2, town=town, quest_title=quest_title, quest_title_lower=lower)


def generate_corpus(n: int, seed: int, start: int = 0) -> Iterator[Story]:
    """Lazily yield stories start .. start+n-1; story i never depends on n."""
    for index in range(start, start + n):
        yield generate_story(index, seed)


def memory_probes(story: Story, min_distance: int = 0) -> list[MemoryProbe]:
    """One probe per re-mention of a fact in a later scene than its introduction, in text order."""
    probes = []
    for char in story.facts["characters"]:
        for attr in ATTRIBUTES:
            first, *later = char["mentions"][attr]
            for m in later:
                distance = m["start"] - first["end"]
                if m["scene"] > first["scene"] and distance >= min_distance:
                    probes.append((m["start"], MemoryProbe(story.text[:m["start"]], char[attr], char["name"],
                                                           attr, distance)))
    return [p for _, p in sorted(probes, key=lambda x: x[0])]


def write_text_file(path: str | Path, megabytes: float, seed: int) -> dict:
    """Stories separated by blank lines until the file holds `megabytes` (10**6 bytes); streamed, renamed last."""
    path, target = Path(path), megabytes * 1e6
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    stories = size = 0
    with open(tmp, "wb") as f:
        for story in generate_corpus(10**12, seed):
            if size >= target:
                break
            data = (("\n" if stories else "") + story.text).encode("utf-8")
            f.write(data)
            stories, size = stories + 1, size + len(data)
    os.replace(tmp, path)
    return {"stories": stories, "bytes": size}


def write_corpus_files(folder: str | Path, megabytes: float, seed: int) -> dict:
    """One `story-NNNNN.txt` per story in `folder` until their total reaches `megabytes` (10**6 bytes)."""
    folder, target = Path(folder), megabytes * 1e6
    folder.mkdir(parents=True, exist_ok=True)
    stories = size = 0
    for story in generate_corpus(10**12, seed):
        if size >= target:
            break
        data = story.text.encode("utf-8")
        (folder / f"{story.doc_id}.txt").write_bytes(data)
        stories, size = stories + 1, size + len(data)
    return {"stories": stories, "bytes": size}
