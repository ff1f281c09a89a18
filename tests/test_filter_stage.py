"""Behaviour tests of scripts/filter_dataset.py on real dataset folders: duplicates, keep-earliest, sticky
incremental decisions, boilerplate walls, content policy, config errors, idle re-runs and kill -9 resume."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from common.config import StageFailed, UserError, resolve_config
from common.fsio import append_jsonl, read_jsonl, sha256_bytes
from common.ledger import Ledger, read_kept
from common.paths import DatasetPaths
from common.rawstore import list_raw_items, raw_name
from scripts.filter_dataset import SIGNATURE_FILE, STAGE, FilterConfig, main, run
from tests.support.textgen import FRENCH
from tests.support.textgen import synthetic_story as story

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
def edit_words(text: str, rng: random.Random, n: int = 3) -> str:
    """The same text with `n` words replaced (a near-duplicate)."""
    words = text.split(" ")
    for _ in range(n):
        words[rng.randrange(len(words))] = "zebra"
    return " ".join(words)


def add_items(paths: DatasetPaths, texts: list[str], start: int = 0, source: str = "t") -> list[str]:
    """Write raw files named as the raw store does (arrival time T0 + index seconds), with their index records
    (the filter checks each file's sha256 against its record), and mark them validated."""
    items, records = [], []
    for i, text in enumerate(texts, start):
        data = text.encode("utf-8")
        name = raw_name(T0 + timedelta(seconds=i), source, f"doc{i:05d}", sha256_bytes(data))
        path = paths.raw / source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        items.append(f"{source}/{name[:-4]}")
        records.append({"v": 1, "path": f"{source}/{name}", "source": source, "sha256": sha256_bytes(data),
                        "bytes": len(data)})
    append_jsonl(paths.raw_index, records)
    with Ledger(paths.ledger("validate"), "validate", "test") as ledger:
        for item in list_raw_items(paths):
            if item not in ledger:
                ledger.decide(item, True)
    return items


def new_dataset(tmp_path: Path, texts: list[str], name: str = "ds") -> tuple[DatasetPaths, list[str]]:
    paths = DatasetPaths.at(tmp_path / name)
    paths.make_dirs()
    return paths, add_items(paths, texts)


def decisions(paths: DatasetPaths) -> dict[str, dict]:
    return {r["item"]: r for r in read_jsonl(paths.ledger(STAGE)) if "item" in r}


def snapshot(paths: DatasetPaths) -> dict[str, bytes]:
    """Every file the filter writes, by relative path."""
    files = [paths.ledger(STAGE), paths.manifest(STAGE), paths.metadata / SIGNATURE_FILE]
    files += sorted(paths.rejected.glob(f"*/{STAGE}.jsonl"))
    return {str(p.relative_to(paths.root)): p.read_bytes() for p in files if p.exists()}


def test_exact_and_near_duplicates_point_at_earliest(tmp_path):
    rng = random.Random(11)
    a, b = story(rng, 40), story(rng, 40)
    texts = [a, b, "  " + a.upper().replace("\n\n", "\n \n"), edit_words(b, rng, 3), story(rng)]
    paths, items = new_dataset(tmp_path, texts)
    counts = run(FilterConfig(), paths)
    assert counts["new"] == 5 and counts["kept"] == 3 and counts["exact_duplicate"] == 1
    dec = decisions(paths)
    assert dec[items[2]]["reason"] == "exact_duplicate"
    assert dec[items[2]]["evidence"] == {"duplicate_of": items[0], "similarity": 1.0}
    assert dec[items[3]]["reason"] == "near_duplicate"
    assert dec[items[3]]["evidence"]["duplicate_of"] == items[1]
    assert 0.8 <= dec[items[3]]["evidence"]["similarity"] < 1.0
    logged = list(read_jsonl(paths.rejected / "near_duplicate" / "filter.jsonl"))
    assert [(r["item"], r["reason"], r["evidence"]["duplicate_of"]) for r in logged] == \
        [(items[3], "near_duplicate", items[1])]
    assert read_kept(paths, STAGE) == [items[0], items[1], items[4]]


def test_keep_earliest_by_arrival_not_by_write_order(tmp_path):
    rng = random.Random(12)
    original = story(rng, 40)
    paths = DatasetPaths.at(tmp_path / "ds")
    paths.make_dirs()
    late = add_items(paths, [original], start=50)[0]  # written first, but arrived later
    early = add_items(paths, [edit_words(original, rng, 2)], start=5)[0]
    run(FilterConfig(), paths)
    dec = decisions(paths)
    assert dec[early]["keep"] and not dec[late]["keep"]
    assert dec[late]["evidence"]["duplicate_of"] == early


def test_incremental_no_flip_and_same_as_from_scratch(tmp_path):
    rng = random.Random(13)
    first = [story(rng, 30) for _ in range(30)] + ["too short"]
    first.append(edit_words(first[4], rng, 2))
    second = [story(rng, 30) for _ in range(20)] + [edit_words(first[7], rng, 3), FRENCH * 2]
    paths, items1 = new_dataset(tmp_path, first, "inc")
    c1 = run(FilterConfig(), paths)
    ledger_before = paths.ledger(STAGE).read_bytes()
    before = decisions(paths)
    items2 = add_items(paths, second, start=len(first))
    c2 = run(FilterConfig(), paths)
    assert c1["new"] == len(first) and c2["new"] == len(second)
    assert paths.ledger(STAGE).read_bytes().startswith(ledger_before)  # old decisions untouched
    after = decisions(paths)
    assert all(after[i] == before[i] for i in items1)
    assert after[items2[-2]]["reason"] == "near_duplicate"
    assert after[items2[-2]]["evidence"]["duplicate_of"] == items1[7]
    assert after[items2[-1]]["reason"] == "wrong_language"
    # Everything at once from scratch gives the same bytes as the two incremental runs.
    scratch, _ = new_dataset(tmp_path, first + second, "scratch")
    run(FilterConfig(), scratch)
    assert snapshot(scratch) == snapshot(paths)


def test_boilerplate_walls(tmp_path):
    rng = random.Random(14)
    sites = ["Lantern Tales", "Story Barn", "Inkwell", "Night Reads", "Paper Boat", "Moon Shelf", "Quill Lane",
             "Tiny Fables", "Owl Library", "Fox Press"]
    walls = [(f"{site}\n\nGet the app to keep reading this story!\nAlready have an account? Log in\n"
              f"New to {site}? Sign up for free.\nWe use cookies to give you the best experience. By continuing "
              f"you accept cookies and our privacy policy.\nDownload the app on your phone. {site} {2020 + i}\n"
              "Reading with a free account means new chapters every week, offline reading, no adverts and a "
              "reading list that follows you to every device.\n")
             for i, site in enumerate(sites)]
    # A repeated short notice that has none of the wall phrases: caught by repetition instead.
    notice = ("This story has been removed at the request of its author and is no longer available on this "
              "page. You can look for other stories in the same collection, or come back later to see whether "
              "it has returned. We are sorry for the trouble and thank you for your patience. If you think this "
              "is a mistake, write to the editors and tell them the title of the story. Notice {}.\n")
    notices = [notice.format(i) for i in range(5)]
    texts = [story(rng)] + walls + notices + [story(rng)]
    paths, items = new_dataset(tmp_path, texts)
    run(FilterConfig(), paths)
    dec = decisions(paths)
    wall_recs = [dec[i] for i in items[1:1 + len(walls)]]
    assert all(r["reason"] == "boilerplate" and r["evidence"]["rule"] == "wall_phrases" for r in wall_recs)
    notice_recs = [dec[i] for i in items[1 + len(walls):-1]]
    assert notice_recs[0]["keep"]
    assert notice_recs[1]["reason"] in ("near_duplicate", "exact_duplicate")
    for rec in notice_recs[2:]:
        assert rec["reason"] == "boilerplate" and rec["evidence"]["rule"] == "repeated_short_text"
        assert rec["evidence"]["duplicate_of"] == items[1 + len(walls)]
    assert [r["evidence"]["copies"] for r in notice_recs[2:]] == [3, 4, 5]
    assert dec[items[0]]["keep"] and dec[items[-1]]["keep"]
    assert len(list(read_jsonl(paths.rejected / "boilerplate" / "filter.jsonl"))) == len(walls) + 3


def test_content_policy_custom_yaml_and_other_reasons(tmp_path):
    rng = random.Random(15)
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nrules:\n  - name: blorf_near_wimple\n    window: 8\n    groups:\n"
                      "      - terms: [blorf]\n      - terms: [wimple*]\n", encoding="utf-8")
    flagged = story(rng).replace("\n\n", "\n\nThe blorf hid behind the wimples. ", 1)
    menu = "\n".join(["Home", "About us", "Stories", "Authors", "Top rated", "New arrivals", "Contact", "Help",
                      "Search", "Random story", "Archive", "Tags", "Feeds", "Donate"]) + "\n" * 20
    paths, items = new_dataset(tmp_path, [flagged, story(rng), menu * 3, FRENCH * 2])
    counts = run(FilterConfig(policy_file=str(policy)), paths)
    dec = decisions(paths)
    assert dec[items[0]]["reason"] == "content_policy"
    assert dec[items[0]]["evidence"]["rule"] == "blorf_near_wimple"
    assert dec[items[2]]["reason"] == "not_narrative" and dec[items[3]]["reason"] == "wrong_language"
    assert counts["kept"] == 1 and counts["rejected"] == 3
    manifest = (paths.manifest(STAGE)).read_text()
    assert '"content_policy": 1' in manifest and str(policy) in manifest


def test_config_mistakes_are_user_errors(tmp_path, capsys):
    paths, _ = new_dataset(tmp_path, [story(random.Random(1))])
    bad = tmp_path / "bad.yaml"
    bad.write_text("min_chars: 100\ndedup_treshold: 0.9\n", encoding="utf-8")
    with pytest.raises(UserError, match="dedup_treshold"):
        resolve_config(FilterConfig, STAGE, str(bad), {})
    assert main(["--dataset-dir", str(paths.root), "--config", str(bad)]) == 2
    assert "unknown key 'dedup_treshold'" in capsys.readouterr().err
    for argv in (["--languages", "english"], ["--min-chars", "500", "--max-chars", "100"],
                 ["--dedup-threshold", "1.5"], ["--policy-file", str(tmp_path / "nope.yaml")]):
        assert main(["--dataset-dir", str(paths.root)] + argv) == 2, argv
    assert main(["--dataset-dir", str(tmp_path / "missing")]) == 2
    assert not paths.ledger(STAGE).exists()


def test_second_run_does_no_work_and_config_change_restarts(tmp_path):
    rng = random.Random(16)
    paths, items = new_dataset(tmp_path, [story(rng, 20) for _ in range(8)] + ["short one " * 40])
    first = run(FilterConfig(), paths)
    snap = snapshot(paths)
    again = run(FilterConfig(), paths)
    assert again["new"] == 0 and {k: v for k, v in again.items() if k != "new"} == \
        {k: v for k, v in first.items() if k != "new"}
    assert snapshot(paths) == snap
    changed = run(FilterConfig(min_chars=10_000), paths)  # config change: every item decided again
    assert changed["new"] == len(items) and changed["kept"] == 0 and changed["too_short"] == len(items)
    assert not (paths.rejected / "near_duplicate").exists()
    forced = run(FilterConfig(), paths, force=True)
    assert forced["new"] == len(items) and snapshot(paths) == snap


@pytest.mark.parametrize("edit", ["same_size", "appended"])
def test_raw_file_edited_after_validate_is_not_decided(tmp_path, edit):
    rng = random.Random(18)
    paths, items = new_dataset(tmp_path, [story(rng, 12) for _ in range(3)])
    raw = paths.raw_file(items[1])
    original = raw.read_bytes()
    tampered = original.replace(b"e", b"E") if edit == "same_size" else original + b" INJECTED TEXT"
    raw.write_bytes(tampered)  # after validate kept it
    with pytest.raises(StageFailed, match="sha256_mismatch.*" + items[1].split("/")[1]):
        run(FilterConfig(), paths)
    got = decisions(paths)
    assert items[0] in got and items[2] in got and items[1] not in got  # no sticky decision on edited bytes
    raw.write_bytes(original)
    assert run(FilterConfig(), paths)["new"] == 1 and decisions(paths)[items[1]]["keep"]


def _run_filter(root: Path) -> subprocess.Popen:
    cmd = [sys.executable, str(REPO / "scripts" / "filter_dataset.py"), "--dataset-dir", str(root)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_kill_9_and_rerun_gives_identical_files(tmp_path):
    rng = random.Random(17)
    texts = []
    for i in range(2000):
        if i % 9 == 8:
            texts.append(edit_words(texts[rng.randrange(len(texts))], rng, 2))
        elif i % 50 == 49:
            texts.append("tiny")
        else:
            texts.append(story(rng, rng.randint(8, 16)))
    clean, _ = new_dataset(tmp_path, texts, "clean")
    run(FilterConfig(), clean)
    killed = DatasetPaths.at(tmp_path / "killed")
    shutil.copytree(clean.raw, killed.raw)
    shutil.copytree(clean.metadata, killed.metadata, ignore=lambda d, names: [n for n in names if "filter" in n])
    ledger = killed.ledger(STAGE)
    kills = 0
    for wait_lines in (3, 6):  # kill twice, at different depths into the run
        proc = _run_filter(killed.root)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if ledger.exists() and ledger.read_bytes().count(b"\n") >= wait_lines * 200:
                break
            time.sleep(0.01)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 1, "the filter finished before it could be killed"
    assert ledger.read_bytes().count(b"\n") < len(texts)  # it really stopped part-way
    assert _run_filter(killed.root).wait() == 0
    assert snapshot(killed) == snapshot(clean)
