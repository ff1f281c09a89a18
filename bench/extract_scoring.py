"""Scoring an extractor against pages with hand-made ground truth: the measure of bench/extract.py and the tests.

Two page sets:
- the fixtures (tests/fixtures/extract): hand-written story-site pages, written together with the post-filter
  rules, so their scores are in-sample;
- real-pages (`../shared/data/real-pages`, outside the repository): 181 real news and blog pages with ground
  truth from scrapinghub's article-extraction benchmark (MIT), held out from rule writing. They are scored by
  the benchmark's own `evaluate.py` (loaded from that folder), as the benchmark defines its figures.

A fixture folder holds `<name>.html` pages; beside each story page a `<name>.txt` with the exact story text,
beside each page that holds no story a `<name>.expect` with the expected reason code. Scores are token-level:
the bag of lowercase word tokens of the extracted text against the ground truth's (order ignored, repeats
counted), giving precision, recall and F1 per page; macro = mean of the per-page figures, micro = from the
summed overlaps of all pages.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import statistics
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


REAL_PAGES_DIR = REPO_ROOT.parent / "shared" / "data" / "real-pages"


@dataclass
class RealPage:
    """One page of the real-pages set: its id, URL, HTML and the benchmark's true article text."""

    id: str
    url: str
    html: str
    truth: str


def real_pages_present(folder: Path = REAL_PAGES_DIR) -> bool:
    """True when `folder` holds the real-pages set (ground truth, scorer and pages)."""
    folder = Path(folder)
    return (folder / "ground-truth.json").is_file() and (folder / "evaluate.py").is_file() and \
        (folder / "html").is_dir()


def load_real_pages(folder: Path = REAL_PAGES_DIR) -> list[RealPage]:
    """Every page named in ground-truth.json (html/<id>.html.gz, UTF-8), sorted by id."""
    folder = Path(folder)
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth):
        raw = gzip.decompress((folder / "html" / f"{page_id}.html.gz").read_bytes())
        pages.append(RealPage(page_id, truth[page_id].get("url", ""), raw.decode("utf-8", errors="replace"),
                              truth[page_id].get("articleBody", "")))
    return pages


def benchmark_scorer(folder: Path = REAL_PAGES_DIR):
    """The benchmark's own evaluate.py, loaded as a module from the real-pages folder."""
    spec = importlib.util.spec_from_file_location("real_pages_evaluate", Path(folder) / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score_real_pages(texts: dict[str, str], pages: list[RealPage], folder: Path = REAL_PAGES_DIR,
                     n_bootstrap: int = 200) -> dict:
    """F1, precision, recall and accuracy (with bootstrap std) of {page id: text}, as evaluate.py defines them.

    evaluate.py scores 4-word shingles per page, normalised so every page weighs the same; precision is the
    mean over pages with some output, recall over pages with some truth, F1 from those two means.
    """
    scorer = benchmark_scorer(folder)
    truth = {p.id: {"articleBody": p.truth} for p in pages}
    prediction = {p.id: {"articleBody": texts.get(p.id, "")} for p in pages}
    try:
        metrics = scorer.evaluate(truth, prediction, n_bootstrap)
    except statistics.StatisticsError:  # a resample (or the whole set) without any output: precision undefined
        try:
            metrics = scorer.evaluate(truth, prediction, 0)  # no bootstrap std then
        except statistics.StatisticsError:
            metrics = {"f1": 0.0, "precision": 0.0, "recall": 0.0, "accuracy": 0.0}
    metrics.pop("tp_fp_fns", None)
    return metrics
