"""Scoring an extractor against pages with hand-made ground truth (used by bench/extract.py and the tests).

A fixture folder holds `<name>.html` pages; beside each story page a `<name>.txt` with the exact story text,
beside each page that holds no story a `<name>.expect` with the expected reason code. Scores are token-level:
the bag of lowercase word tokens of the extracted text against the ground truth's (order ignored, repeats
counted), giving precision, recall and F1 per page; macro = mean of the per-page figures, micro = from the
summed overlaps of all pages.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from common.paths import REPO_ROOT

FIXTURES_DIR = REPO_ROOT / "tests" / "fixtures" / "extract"
_WORD_RE = re.compile(r"\w+", re.UNICODE)


@dataclass
class Fixture:
    """One page: its HTML and either the story text or the expected reason code."""

    name: str
    html: str
    truth: str | None  # story text; None for a page that holds no story
    expect: str | None  # reason code expected for a no-story page


def load_fixtures(folder: Path = FIXTURES_DIR) -> list[Fixture]:
    """Every `<name>.html` with its `.txt` or `.expect`, sorted by name (pages without either are skipped)."""
    out = []
    for page in sorted(Path(folder).glob("*.html")):
        txt, expect = page.with_suffix(".txt"), page.with_suffix(".expect")
        html = page.read_text(encoding="utf-8")
        if txt.is_file():
            out.append(Fixture(page.stem, html, txt.read_text(encoding="utf-8"), None))
        elif expect.is_file():
            out.append(Fixture(page.stem, html, None, expect.read_text(encoding="utf-8").strip()))
    return out


def tokens(text: str) -> Counter:
    """Bag of lowercase word tokens."""
    return Counter(_WORD_RE.findall(text.lower()))


def overlap(pred: str, truth: str) -> tuple[int, int, int]:
    """(shared tokens, predicted tokens, true tokens)."""
    p, t = tokens(pred), tokens(truth)
    return sum((p & t).values()), sum(p.values()), sum(t.values())


def prf(common: int, n_pred: int, n_true: int) -> tuple[float, float, float]:
    """Precision, recall, F1 from token counts (empty prediction: precision 0)."""
    precision = common / n_pred if n_pred else 0.0
    recall = common / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


@dataclass
class Score:
    """Macro and micro token P/R/F1 over story pages, plus per-page F1."""

    macro: tuple[float, float, float]
    micro: tuple[float, float, float]
    per_page: dict[str, float]


def score_texts(pairs: list[tuple[str, str, str]]) -> Score:
    """Score (name, predicted text, true text) triples."""
    per_page, macro, sums = {}, [0.0, 0.0, 0.0], [0, 0, 0]
    for name, pred, truth in pairs:
        counts = overlap(pred, truth)
        p, r, f = prf(*counts)
        per_page[name] = f
        for i, v in enumerate((p, r, f)):
            macro[i] += v
        for i, v in enumerate(counts):
            sums[i] += v
    n = max(len(pairs), 1)
    return Score(tuple(v / n for v in macro), prf(*sums), per_page)


def score_extractor(extract: Callable[[str], str], fixtures: list[Fixture]) -> Score:
    """Score a function html -> text on the story pages of `fixtures`."""
    return score_texts([(f.name, extract(f.html) or "", f.truth) for f in fixtures if f.truth is not None])
