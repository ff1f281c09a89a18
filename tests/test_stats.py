"""stats: per-source funnel, rejections, processed figures, length distribution, growth, PNG; empty datasets."""

import hashlib
import json
import math
import statistics

import pytest

from common.config import fingerprint
from common.fsio import read_json, write_json
from common.ledger import Ledger
from common.paths import DatasetPaths
from common.rawstore import read_raw_index
from scripts import stats as stats_stage
from scripts.import_text import ImportConfig
from scripts.import_text import run as import_run
from scripts.stats import StatsConfig, length_summary
from scripts.validate_raw import ValidateConfig
from scripts.validate_raw import run as validate_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T_TEXTS = ["A short tale about a cat.\n",
           "A longer tale about a dog who walked to the sea and back again, twice.\n",
           "Medium tale: the owl counted stars.\n",
           "Tiny.\n"]
U_TEXTS = ["From another source: the river kept its secrets under the old bridge.\n"]


def write_inputs(folder, texts):
    folder.mkdir(parents=True)
    for i, text in enumerate(texts):
        (folder / f"story{i}.txt").write_text(text, encoding="utf-8")
    return str(folder)


@pytest.fixture
def dataset(tmp_path):
    """Two sources imported, validated (longest text too large), filter/clean/prepare outputs faked."""
    paths = DatasetPaths.at(tmp_path / "ds")
    import_run(ImportConfig(inputs=[write_inputs(tmp_path / "in_t", T_TEXTS)], source="t"), paths)
    import_run(ImportConfig(inputs=[write_inputs(tmp_path / "in_u", U_TEXTS)], source="u"), paths)
    longest = max(len(t.encode()) for t in T_TEXTS + U_TEXTS)
    validate_run(ValidateConfig(max_bytes=longest - 1), paths)
    index = read_raw_index(paths)
    by_text = {rec["sha256"]: item for item, rec in index.items()}
    item_of = {t: by_text[hashlib.sha256(t.encode()).hexdigest()] for t in T_TEXTS + U_TEXTS}
    # A filter ledger that keeps all validated items but "Tiny.", and one cleaned file.
    with Ledger(paths.ledger("filter"), "filter", fingerprint({"x": 1})) as led:
        for t in T_TEXTS + U_TEXTS:
            if t != T_TEXTS[1]:
                led.decide(item_of[t], t != T_TEXTS[3], None if t != T_TEXTS[3] else "too_short")
    cleaned = paths.cleaned_file(item_of[T_TEXTS[0]])
    cleaned.parent.mkdir(parents=True, exist_ok=True)
    cleaned.write_text(T_TEXTS[0])
    write_json(paths.processed / "meta.json", {"splits": {"train": {"docs": 2, "chars": 90, "tokens": 80},
                                                          "val": {"docs": 1, "chars": 20}},
                                               "vocab_size": 42})
    return paths, item_of, index


def test_stats_numbers_match_the_dataset(dataset, capsys):
    paths, item_of, index = dataset
    counts = stats_stage.run(StatsConfig(hist_bins=4), paths)
    out = capsys.readouterr().out
    s = read_json(paths.metadata / "stats.json")
    assert s["sources"]["t"] == {"raw": 4, "validated": 3, "filtered": 2, "cleaned": 1, "processed": None}
    assert s["sources"]["u"] == {"raw": 1, "validated": 1, "filtered": 1, "cleaned": 0, "processed": None}
    assert s["totals"] == {"raw": 5, "validated": 4, "filtered": 3, "cleaned": 1, "processed": 3}
    assert s["rejections"] == {"too_large": {"validate": 1}} and s["rejected_total"] == 1
    assert s["processed"]["splits"] == {"train": {"docs": 2, "chars": 90, "tokens": 80},
                                        "val": {"docs": 1, "chars": 20, "tokens": None}}
    assert s["processed"]["vocab_size"] == 42
    lengths = sorted(len(t) for t in T_TEXTS + U_TEXTS)
    ln = s["lengths"]
    assert (ln["items"], ln["total"], ln["min"], ln["max"]) == (5, sum(lengths), lengths[0], lengths[-1])
    assert ln["median"] == statistics.median(lengths) and ln["p90"] == lengths[math.ceil(0.9 * 5) - 1]
    assert sum(ln["histogram"]["counts"]) == 5 and len(ln["histogram"]["counts"]) <= 4
    days = sorted({rec["time"][:10] for rec in index.values()})
    assert [g["day"] for g in s["growth"]] == days
    assert s["growth"][-1]["total_items"] == 5 and s["growth"][-1]["total_chars"] == sum(lengths)
    assert counts == {"raw": 5, "validated": 4, "rejected": 1, "chars": sum(lengths)}
    assert "too_large" in out and "vocabulary size: 42" in out and "total" in out
    png = (paths.metadata / "stats.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE)


def test_second_run_writes_identical_bytes_and_touches_nothing_else(dataset):
    paths, _, _ = dataset
    stats_stage.run(StatsConfig(), paths)
    outputs = {p: p.stat().st_mtime_ns for p in (paths.metadata / "stats.json", paths.metadata / "stats.png")}
    others = {p: p.read_bytes() for p in paths.root.rglob("*") if p.is_file() and p not in outputs}
    png = (paths.metadata / "stats.png").read_bytes()
    stats_stage.run(StatsConfig(), paths)
    assert {p: p.stat().st_mtime_ns for p in outputs} == outputs
    assert (paths.metadata / "stats.png").read_bytes() == png
    assert {p: p.read_bytes() for p in paths.root.rglob("*") if p.is_file() and p not in outputs} == others
    assert b"Software" not in png and b"matplotlib" not in png


@pytest.mark.parametrize("skeleton", [True, False])
def test_empty_dataset_prints_zeros(tmp_path, capsys, skeleton):
    paths = DatasetPaths.at(tmp_path / "ds")
    paths.make_dirs() if skeleton else paths.root.mkdir()
    assert stats_stage.main(["--dataset-dir", str(paths.root)]) == 0
    out = capsys.readouterr().out
    s = read_json(paths.metadata / "stats.json")
    assert s["totals"] == {"raw": 0, "validated": None, "filtered": None, "cleaned": 0, "processed": None}
    assert s["lengths"]["items"] == 0 and s["growth"] == [] and s["rejections"] == {}
    assert "0 raw" in out
    assert (paths.metadata / "stats.png").read_bytes().startswith(PNG_SIGNATURE)


def test_main_returns_zero_and_missing_dataset_is_exit_2(dataset, tmp_path, capsys):
    paths, _, _ = dataset
    assert stats_stage.main(["--dataset-dir", str(paths.root), "--no-chart"]) == 0
    assert stats_stage.main(["--dataset-dir", str(tmp_path / "nope")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize("meta_text", ["{not json", "[1, 2]", json.dumps({"splits": {"train": "x"}}),
                                       json.dumps({"train": {"docs": "many", "chars": 5}, "vocab_size": True})])
def test_damaged_or_partial_meta_shows_dashes(dataset, meta_text, capsys):
    paths, _, _ = dataset
    (paths.processed / "meta.json").write_text(meta_text)
    stats_stage.run(StatsConfig(chart=False), paths)
    s = read_json(paths.metadata / "stats.json")
    assert s["processed"]["vocab_size"] is None
    assert all(v is None or isinstance(v, int) for f in s["processed"]["splits"].values() for v in f.values())
    if "train" in meta_text and '"docs": "many"' in meta_text:
        assert s["processed"]["splits"]["train"] == {"docs": None, "chars": 5, "tokens": None}
        assert s["totals"]["processed"] is None
    assert "vocabulary size: -" in capsys.readouterr().out


def test_per_source_processed_counts_when_meta_has_them(dataset):
    paths, _, _ = dataset
    write_json(paths.processed / "meta.json", {"sources": {"t": 2, "u": {"docs": 1}}, "vocab_size": 7})
    stats_stage.run(StatsConfig(chart=False), paths)
    s = read_json(paths.metadata / "stats.json")
    assert (s["sources"]["t"]["processed"], s["sources"]["u"]["processed"], s["totals"]["processed"]) == (2, 1, 3)


def test_length_summary_histogram_covers_every_item():
    xs = [1, 2, 2, 3, 10, 100, 1000]
    s = length_summary(xs, 5)
    edges, counts = s["histogram"]["edges"], s["histogram"]["counts"]
    assert sum(counts) == len(xs) and len(edges) == len(counts) + 1 and len(counts) <= 5
    assert edges[0] <= min(xs) and edges[-1] > max(xs)
    for x in xs:  # each value falls in exactly one half-open bin
        assert sum(a <= x < b for a, b in zip(edges, edges[1:])) == 1
    assert (s["min"], s["median"], s["p90"], s["max"]) == (1, 3, 1000, 1000)
    assert length_summary([7], 20)["histogram"] == {"edges": [7, 8], "counts": [1]}
