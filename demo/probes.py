"""Memory probes from the demo corpus's ground truth, as records of the probes file format (DATA_FORMAT.md).

Every demo story introduces each character's town, pet, pet's name, colour and object in its first scene and
mentions them again in its last (`demo.stories.memory_probes`). Each such re-mention is a probe: the story up to
it, the fact's value as the answer, and exactly `n_distractors` other values of the same attribute: the other
characters' values in the same story first (the hardest: the model has read them too), then values drawn from the
generator's own word pools, the way the generator builds them, with a generator seeded from (seed, story index,
position), so the same arguments give the same records in any process.

The demo profile trains on stories 0..799 of seed 1234: take probes from far beyond (`start`, e.g. 100000) so the
model is scored on stories it never saw.
"""

from __future__ import annotations

import hashlib
import random

from demo.stories import ATTRIBUTES, Story, generate_corpus, memory_probes
from demo.vocab import COLOURS, OBJECT_CONDITIONS, OBJECT_NOUNS, PET_KINDS, PET_NAMES, TOWN_HEADS, TOWN_TAILS

PROBES_VERSION = "demo-probes-1"  # bump when the records for given arguments change
MAX_DISTRACTORS = 20  # every pool has more than this many values besides a story's own
MAX_DRAWS = 10_000  # draws per probe before giving up (never reached while MAX_DISTRACTORS holds)


def draw_value(attribute: str, rng: random.Random) -> str:
    """One value of `attribute` drawn from the generator's pools, built as `demo.stories` builds it."""
    if attribute == "town":
        return rng.choice(TOWN_HEADS) + rng.choice(TOWN_TAILS)
    if attribute == "pet":
        return rng.choice(PET_KINDS)
    if attribute == "pet_name":
        return rng.choice(PET_NAMES)
    if attribute == "colour":
        return rng.choice(COLOURS)
    if attribute == "object":
        noun, materials = rng.choice(OBJECT_NOUNS)
        obj = f"{rng.choice(materials)} {noun}"
        return f"{rng.choice(OBJECT_CONDITIONS)} {obj}" if rng.random() < 0.5 else obj
    raise ValueError(f"unknown attribute {attribute!r} (known: {', '.join(ATTRIBUTES)})")


def probe_rng(seed: int, index: int, position: int) -> random.Random:
    """The distractor draws of the probe at `position` of story `index`: sha256-seeded, same in every process."""
    digest = hashlib.sha256(f"{PROBES_VERSION}|{seed}|{index}|{position}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def distractors_for(story: Story, character: str, attribute: str, answer: str, position: int,
                    n: int) -> list[str]:
    """Exactly `n` distinct values of `attribute`, none equal to `answer`: the story's other characters' first."""
    chosen: list[str] = []
    for char in story.facts["characters"]:
        value = char[attribute]
        if char["name"] != character and value != answer and value not in chosen and len(chosen) < n:
            chosen.append(value)
    rng = probe_rng(story.seed, story.index, position)
    for _ in range(MAX_DRAWS):
        if len(chosen) == n:
            return chosen
        value = draw_value(attribute, rng)
        if value != answer and value not in chosen:
            chosen.append(value)
    raise RuntimeError(f"could not draw {n} distinct {attribute} values")  # pools shrank below MAX_DISTRACTORS


def last_mention_before(story: Story, character: str, attribute: str, start: int) -> int:
    """End offset of the fact's last mention that ends before `start`."""
    char = next(c for c in story.facts["characters"] if c["name"] == character)
    return max(m["end"] for m in char["mentions"][attribute] if m["end"] <= start)


def demo_probe_records(n_stories: int, seed: int, min_distance_chars: int, n_distractors: int = 3,
                       start: int = 0) -> list[dict]:
    """Probe records of stories start .. start+n_stories-1 of the demo corpus with `seed`, in story then text order.

    A re-mention becomes a probe when at least `min_distance_chars` characters separate it from the fact's last
    earlier mention (`last_mention` is that mention's end). Metadata: source "demo", doc (the story's id),
    kind (the attribute), character (whose fact it is)."""
    if n_stories < 0 or start < 0 or min_distance_chars < 0:
        raise ValueError("n_stories, start and min_distance_chars must be >= 0")
    if not 1 <= n_distractors <= MAX_DISTRACTORS:
        raise ValueError(f"n_distractors must be from 1 to {MAX_DISTRACTORS}")
    records = []
    for story in generate_corpus(n_stories, seed, start):
        for probe in memory_probes(story):
            at = len(probe.prefix)
            last = last_mention_before(story, probe.character, probe.attribute, at)
            if at - last < min_distance_chars:
                continue
            records.append({
                "context": probe.prefix, "answer": probe.answer,
                "distractors": distractors_for(story, probe.character, probe.attribute, probe.answer, at,
                                               n_distractors),
                "last_mention": last, "source": "demo", "doc": story.doc_id, "kind": probe.attribute,
                "character": probe.character})
    return records
