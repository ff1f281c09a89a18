"""Extraction on real pages (../shared/data/real-pages, held out) and the extraction benchmark's report.

The real-pages set lives outside the repository; its tests skip with a reason when it is absent. Measured with
extractor 1.1 (bench/extract.py): F1 0.971 by the benchmark's evaluate.py, no page empty, no wall verdict; the
floors below sit a little under that so ordinary noise does not fail them while a regression to 1.0's behaviour
(F1 0.827, 43 empty pages, 11 wall verdicts) does.
"""

import gzip
import json
import subprocess
import sys
from collections import Counter

import pytest

from common.paths import REPO_ROOT
from scraper.extract.readable import extract_story
from bench.extract_scoring import REAL_PAGES_DIR, load_real_pages, real_pages_present, score_real_pages

WALLS = {"login_wall", "paywall", "app_wall", "consent_wall"}
F1_FLOOR = 0.96
MAX_EMPTY = 3

needs_real_pages = pytest.mark.skipif(not real_pages_present(REAL_PAGES_DIR),
                                      reason=f"real-pages set not found at {REAL_PAGES_DIR}")


@pytest.fixture(scope="module")
def extracted():
    pages = load_real_pages(REAL_PAGES_DIR)
    return pages, {p.id: extract_story(p.html, p.url) for p in pages}


@needs_real_pages
@pytest.mark.slow
def test_no_real_article_is_a_wall_and_almost_none_is_empty(extracted):
    pages, results = extracted
    assert len(pages) >= 150
    walls = {pid: (r.reason, r.evidence) for pid, r in results.items() if r.reason in WALLS}
    assert not walls, walls
    empty = Counter(r.reason or "empty" for r in results.values() if not r.ok or not r.text.strip())
    assert sum(empty.values()) <= MAX_EMPTY, empty


@needs_real_pages
@pytest.mark.slow
def test_real_pages_f1_by_the_benchmarks_own_scorer(extracted):
    pages, results = extracted
    texts = {pid: (r.text if r.ok else "") for pid, r in results.items()}
    metrics = score_real_pages(texts, pages, REAL_PAGES_DIR, n_bootstrap=0)
    assert metrics["f1"] >= F1_FLOOR, metrics
    assert metrics["precision"] >= 0.94 and metrics["recall"] >= 0.95, metrics


@pytest.mark.slow
def test_bench_reports_the_fixtures_and_says_when_real_pages_is_missing(tmp_path):
    out = tmp_path / "extract.json"
    run = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "extract.py"), "--repeat", "1",
                          "--no-ablation", "--real-pages", str(tmp_path / "absent"), "--json", str(out)],
                         capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert run.returncode == 0, run.stderr
    assert "conditions:" in run.stdout.splitlines()[0]
    assert "fixtures (in-sample: pages and rules written together)" in run.stdout
    assert "real-pages (held out)" in run.stdout and "missing" in run.stdout
    report = json.loads(out.read_text())
    assert report["conditions"]["cpu"] and report["conditions"]["threads"] == 1
    rows = report["fixtures"]["rows"]
    assert rows[0]["extractor"].startswith("ours") and rows[0]["macro"][2] >= 0.97
    assert report["fixtures"]["reasons_correct"] == report["fixtures"]["no_story"]
    assert report["real_pages"]["missing"]


@needs_real_pages
@pytest.mark.slow
def test_bench_scores_real_pages_with_the_benchmarks_scorer(tmp_path):
    # a six-page stand-in for real-pages (our own pages) scored by the benchmark's evaluate.py, copied to tmp
    folder = tmp_path / "real-pages"
    (folder / "html").mkdir(parents=True)
    (folder / "evaluate.py").write_bytes((REAL_PAGES_DIR / "evaluate.py").read_bytes())
    pages, truth = {}, {}
    for n in range(5):  # five stories (so no bootstrap resample is all empty) and one JavaScript shell
        story = " ".join(f"Sentence {i} of ferry story {n}, where the crossing went on through fog and rain."
                         for i in range(12))
        pages[f"s{n}"] = f"<html><body><div class='post'><p>{story}</p><p>{story}</p></div></body></html>"
        truth[f"s{n}"] = {"articleBody": f"{story}\n{story}", "url": f"https://example.org/s{n}"}
    pages["shell"] = "<html><body><div id='root'></div><script src='/app.js'></script></body></html>"
    truth["shell"] = {"articleBody": "The text the app would have shown.", "url": "https://example.org/app"}
    for pid, html in pages.items():
        (folder / "html" / f"{pid}.html.gz").write_bytes(gzip.compress(html.encode("utf-8")))
    (folder / "ground-truth.json").write_text(json.dumps(truth))
    out = tmp_path / "extract.json"
    run = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "extract.py"), "--repeat", "1",
                          "--no-ablation", "--bootstrap", "10", "--real-pages", str(folder), "--json", str(out)],
                         capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert run.returncode == 0, run.stderr
    rows = json.loads(out.read_text())["real_pages"]["rows"]
    ours = rows[0]
    assert ours["extractor"].startswith("ours") and ours["empty"] == {"js_shell": 1}
    assert ours["precision"] == pytest.approx(1.0) and ours["recall"] == pytest.approx(5 / 6, abs=1e-3)
    assert {"f1", "precision", "recall", "accuracy", "f1_std", "pages_per_s"} <= set(ours)
