"""The extract stage on a temp dataset: raw items with provenance, rejections, reruns, --reextract, kill-safety."""

import gzip
import json

import pytest

from common.fsio import read_jsonl
from common.paths import DatasetPaths
from common.rawstore import list_raw_items, read_raw_index
from scraper.extract.readable import EXTRACTOR_NAME, EXTRACTOR_VERSION
from scraper.extract.stage import doc_id_for, source_name
from scraper.manifest import UrlManifest
from scripts import extract as stage

PARAS = [
    "The ferry left the harbour at dawn, and Ada stood at the rail watching the town shrink to a row of coloured "
    "boxes along the water.",
    "Her grandfather had made this crossing every week for fifty years, carrying letters, seeds and once, famously, "
    "a goat that would not stop singing.",
    "Now it was her turn. She had the satchel, the ticket and the list of names, and a feeling in her stomach like "
    "a bird that wanted out.",
]
SHELL = "<html><body><div id='root'></div><script src='/app.js'></script></body></html>"
PAYWALL = ("<html><body><h1>Locked</h1><p>It began on a cold night.</p><div>Subscribe to continue reading this "
           "story.</div></body></html>")


def page(paras, title="The Ferry", footer=""):
    body = "".join(f"<p>{p}</p>" for p in paras)
    return (f"<html><head><title>{title} - Harbour Tales</title></head><body><div class='story'><h1>{title}</h1>"
            f"{body}{footer}</div></body></html>")


def add_entry(paths: DatasetPaths, url: str, pages: list[str], fetched_at="2026-01-01T00:00:00Z",
              method="static") -> list[str]:
    rels = []
    for n, html in enumerate(pages, 1):
        rel = f"snapshots/example-org/{abs(hash(url)) % 10**8:08d}{'' if n == 1 else f'__p{n}'}.html.gz"
        (paths.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (paths.root / rel).write_bytes(gzip.compress(html.encode("utf-8"), mtime=0))
        rels.append(rel)
    with UrlManifest(paths) as m:
        m.record(url, "fetched", snapshots=rels, pages=len(rels), fetch_method=method, final_url=url + "?final",
                 fetched_at=fetched_at)
    return rels


@pytest.fixture
def paths(tmp_path):
    p = DatasetPaths.at(tmp_path / "ds")
    p.make_dirs()
    return p


def manifest_state(paths, url):
    return UrlManifest(paths).get(url)


def test_stage_writes_items_with_provenance_and_rejects_with_reasons(paths):
    add_entry(paths, "https://example.org/stories/the-ferry", [page(PARAS)], method="browser")
    add_entry(paths, "https://example.org/app", [SHELL])
    add_entry(paths, "https://example.org/locked", [PAYWALL])
    counts = stage.run(stage.ExtractConfig(), paths)
    assert counts["extracted"] == 1 and counts["rejected"] == 2
    assert counts["rejected_js_shell"] == 1 and counts["rejected_paywall"] == 1

    (item,) = list_raw_items(paths)
    assert item.startswith("example-org/")
    assert paths.raw_file(item).read_text(encoding="utf-8") == "\n\n".join(PARAS)
    rec = read_raw_index(paths)[item]
    assert rec["url"] == "https://example.org/stories/the-ferry" and rec["title"] == "The Ferry"
    assert rec["method"] == "browser" and rec["final_url"] == "https://example.org/stories/the-ferry?final"
    assert rec["fetched_at"] == "2026-01-01T00:00:00Z" and rec["pages"] == 1
    assert rec["extractor"] == EXTRACTOR_NAME and rec["extractor_version"] == EXTRACTOR_VERSION
    assert len(rec["sha256"]) == 64

    ok = manifest_state(paths, "https://example.org/stories/the-ferry")
    assert ok["status"] == "fetched" and ok["item"] == item and ok["extracted_at"] and ok["extractor"]
    shell = manifest_state(paths, "https://example.org/app")
    assert shell["status"] == "rejected" and shell["reason"] == "js_shell" and shell["evidence"]
    assert manifest_state(paths, "https://example.org/locked")["reason"] == "paywall"
    manifest = json.loads(paths.manifest("extract").read_text())
    assert manifest["rejected_by_reason"] == {"js_shell": 1, "paywall": 1}


def test_second_run_does_nothing_and_reextract_of_same_text_is_a_no_op(paths):
    add_entry(paths, "https://example.org/a", [page(PARAS)])
    add_entry(paths, "https://example.org/b", [SHELL])
    stage.run(stage.ExtractConfig(), paths)
    events = (paths.metadata / "urls.jsonl").read_bytes()
    index = paths.raw_index.read_bytes()
    again = stage.run(stage.ExtractConfig(), paths)
    assert again["extracted"] == again["rejected"] == again["unchanged"] == 0
    re = stage.run(stage.ExtractConfig(reextract=True), paths)
    assert re["extracted"] == 0 and re["unchanged"] == 1 and re["rejected"] == 1
    assert (paths.metadata / "urls.jsonl").read_bytes() == events  # nothing new to record
    assert paths.raw_index.read_bytes() == index and len(list_raw_items(paths)) == 1


def test_reextract_with_different_text_adds_a_new_item(paths, monkeypatch):
    add_entry(paths, "https://example.org/a", [page(PARAS)])
    stage.run(stage.ExtractConfig(), paths)
    (old,) = list_raw_items(paths)
    import scraper.extract.stage as st
    real = st.extract_pages

    def better(htmls, url="", rules=None):
        result = real(htmls, url, rules)
        result.text += "\n\nA new ending found by a better extractor."
        return result
    monkeypatch.setattr(st, "extract_pages", better)
    counts = stage.run(stage.ExtractConfig(reextract=True), paths)
    assert counts["extracted"] == 1
    items = list_raw_items(paths)
    assert len(items) == 2 and old in items  # raw is append-only: the old item stays
    assert manifest_state(paths, "https://example.org/a")["item"] != old


def test_multi_page_entry_becomes_one_item_in_order(paths):
    pages = [page(PARAS[:1], footer="<p>Page 1 of 3</p>"), page(PARAS[1:2], footer="<p>Page 2 of 3</p>"),
             page(PARAS[2:], footer="<p>Page 3 of 3</p>")]
    add_entry(paths, "https://example.org/long", pages)
    assert stage.run(stage.ExtractConfig(), paths)["extracted"] == 1
    (item,) = list_raw_items(paths)
    assert paths.raw_file(item).read_text(encoding="utf-8") == "\n\n".join(PARAS)
    assert read_raw_index(paths)[item]["pages"] == 3


def test_missing_snapshot_is_skipped_with_a_one_line_reason(paths, caplog):
    rels = add_entry(paths, "https://example.org/gone", [page(PARAS)])
    (paths.root / rels[0]).unlink()
    add_entry(paths, "https://example.org/ok", [page(PARAS, title="Other")])
    with UrlManifest(paths) as m:
        m.record("https://example.org/none", "fetched", fetched_at="2026-01-01T00:00:00Z")
        m.record("https://example.org/escape", "fetched", snapshots=["../../etc/passwd"])
    with caplog.at_level("WARNING"):
        counts = stage.run(stage.ExtractConfig(), paths)
    assert counts["missing_snapshot"] == 3 and counts["extracted"] == 1
    lines = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert any("snapshot missing" in line for line in lines) and all("\n" not in line for line in lines)
    assert any("outside the dataset" in line for line in lines)
    assert manifest_state(paths, "https://example.org/gone")["status"] == "fetched"  # fetch may try again


def test_refetched_entry_is_extracted_again(paths):
    url = "https://example.org/a"
    add_entry(paths, url, [page(PARAS)])
    stage.run(stage.ExtractConfig(), paths)
    add_entry(paths, url, [page(PARAS + ["An extra paragraph the author added later, about the goat."])],
              fetched_at="2026-02-01T00:00:00Z")
    assert stage.run(stage.ExtractConfig(), paths)["extracted"] == 1
    assert len(list_raw_items(paths)) == 2


def test_kill_between_raw_file_and_index_is_adopted(paths):
    add_entry(paths, "https://example.org/a", [page(PARAS)])
    stage.run(stage.ExtractConfig(), paths)
    (item,) = list_raw_items(paths)
    raw_bytes = paths.raw_file(item).read_bytes()
    # Simulate a kill after the raw file was written but before its index record and manifest event.
    paths.raw_index.unlink()
    lines = (paths.metadata / "urls.jsonl").read_text().splitlines(keepends=True)
    (paths.metadata / "urls.jsonl").write_text("".join(lines[:-1]))
    counts = stage.run(stage.ExtractConfig(), paths)
    assert counts["extracted"] == 1
    assert list_raw_items(paths) == [item] and paths.raw_file(item).read_bytes() == raw_bytes  # adopted
    assert [r["path"] for r in read_jsonl(paths.raw_index)] == [item + ".txt"]


def test_source_and_doc_id_naming():
    assert source_name("https://www.Stories.Example.org/x") == "stories-example-org"
    a, b = doc_id_for("https://example.org/s/the-ferry?page=1"), doc_id_for("https://example.org/s/the-ferry")
    assert a.startswith("s-the-ferry-page-1-") and a != b


def test_cli_runs_and_bad_limit_is_a_user_error(paths, capsys):
    add_entry(paths, "https://example.org/a", [page(PARAS)])
    assert stage.main(["--dataset-dir", str(paths.root)]) == 0
    assert "1 extracted" in capsys.readouterr().out
    assert stage.main(["--dataset-dir", str(paths.root), "--limit", "-1"]) == 2
    assert stage.main(["--dataset-dir", str(paths.root), "--reextract", "--dry-run"]) == 0
