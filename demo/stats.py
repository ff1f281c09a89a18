"""Figures about the demo corpus (scripts/demo_corpus.py): size, generation speed, characters, variety.

Variety is measured the way the filter stage sees near-duplicates: Jaccard similarity of word 5-gram shingle
sets (the filter rejects pairs above about 0.8 with MinHash). Here it is computed exactly over every pair of a
sample. Used by `python scripts/demo_corpus.py --stats` and by tests/test_demo_corpus.py.
"""

import itertools
import time
import zlib

from demo.stories import generate_corpus, memory_probes


def shingles(text: str, k: int = 5) -> set[int]:
    """Word k-gram shingles of `text` (lowercased, whitespace-split), as crc32 ints for speed."""
    words = text.lower().split()
    return {zlib.crc32(" ".join(words[i:i + k]).encode("utf-8")) for i in range(max(len(words) - k + 1, 1))}


def jaccard(a: set, b: set) -> float:
    """|a & b| / |a | b| (0.0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def pairwise_jaccard(texts: list[str], k: int = 5) -> list[float]:
    """Jaccard of k-gram shingles for every pair of `texts`."""
    sets = [shingles(t, k) for t in texts]
    return [jaccard(a, b) for a, b in itertools.combinations(sets, 2)]


def corpus_stats(n: int, seed: int, sample: int = 300) -> dict:
    """Size and speed over n stories, characters used, probes per story, and 5-gram Jaccard over a sample."""
    start = time.perf_counter()
    stories = list(generate_corpus(n, seed))
    seconds = time.perf_counter() - start
    sizes = [len(s.text.encode("utf-8")) for s in stories]
    chars: set[str] = set()
    for s in stories:
        chars.update(s.text)
    sims = sorted(pairwise_jaccard([s.text for s in stories[:sample]]))
    probes = [len(memory_probes(s)) for s in stories[:sample]]
    return {
        "stories": n, "seed": seed, "bytes": sum(sizes), "mb": round(sum(sizes) / 1e6, 3),
        "generation_mb_per_s": round(sum(sizes) / 1e6 / seconds, 2),
        "story_bytes_mean": round(sum(sizes) / n), "story_bytes_min": min(sizes), "story_bytes_max": max(sizes),
        "distinct_chars": len(chars), "non_ascii_chars": "".join(sorted(c for c in chars if ord(c) > 127)),
        "jaccard_sample": min(sample, n), "jaccard_max": round(sims[-1], 4) if sims else 0.0,
        "jaccard_mean": round(sum(sims) / len(sims), 4) if sims else 0.0,
        "jaccard_p99": round(sims[int(len(sims) * 0.99)], 4) if sims else 0.0,
        "probes_per_story_mean": round(sum(probes) / max(len(probes), 1), 2),
    }
