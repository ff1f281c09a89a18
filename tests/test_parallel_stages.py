"""The filter and clean stages on a process pool: common/parallel.py's ordered_map (order, bounded look-ahead,
errors, no pool for small inputs), byte-identical outputs whatever the worker count, kill -9 mid-run then a re-run
with another worker count, no worker left behind by a killed stage, and --workers -1 as a one-line error."""

import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.config import StageFailed, UserError
from common.ledger import read_kept
from common.parallel import cpu_count, ordered_map, resolve_workers
from common.paths import REPO_ROOT, DatasetPaths
from scripts import clean_dataset, filter_dataset
from scripts.clean_dataset import CleanConfig
from scripts.filter_dataset import FilterConfig
from tests.support.textgen import FRENCH
from tests.support.textgen import synthetic_story as story
from tests.test_filter_stage import add_items, edit_words
from tests.test_filter_stage import snapshot as filter_snapshot

POLICY = "version: 1\nrules:\n  - name: blorf_near_wimple\n    window: 8\n    groups:\n" \
         "      - terms: [blorf]\n      - terms: [wimple*]\n"
MENU = "\n".join(["Home", "About us", "Stories", "Authors", "Top rated", "New arrivals", "Contact", "Help",
                  "Search", "Random story", "Archive", "Tags", "Feeds", "Donate"] * 3) + "\n"
WALL = ("Story Barn {}\n\nGet the app to keep reading this story!\nAlready have an account? Log in\nWe use "
        "cookies to give you the best experience. By continuing you accept cookies and our privacy policy.\n"
        + "Read on. " * 30)
NOTICE = ("This story has been removed at the request of its author and is no longer available on this page. You "
          "can look for other stories in the same collection, or come back later to see whether it has returned. "
          "We are sorry for the trouble and thank you for your patience. Notice {}.\n")


# --- ordered_map -------------------------------------------------------------------------------------------
# Workers import these by name from this module (spawn), so they live at module level.
_initialised: list = []


def _remember(tag: str) -> None:
    _initialised.append((tag, os.getpid()))


def _slow_square(x: int) -> tuple[int, int]:
    time.sleep((x * 7 % 5) * 0.002)  # uneven work, so chunks finish out of order
    return x * x, os.getpid()


def _fail_at_37(x: int) -> int:
    if x == 37:
        raise ValueError("item 37 is bad")
    return x


def test_results_come_in_input_order_from_worker_processes():
    out = list(ordered_map(_slow_square, range(300), 2, chunk=5, min_items=10))
    assert [r for r, _ in out] == [x * x for x in range(300)]
    assert os.getpid() not in {pid for _, pid in out}
    assert not multiprocessing.active_children()  # joined on the way out


def test_look_ahead_is_bounded():
    pulled = [0]

    def items():  # unsized: ordered_map reads ahead only what it needs
        for x in range(400):
            pulled[0] += 1
            yield x

    workers, chunk, ahead, most = 2, 4, 2, 0
    for done, (r, _) in enumerate(ordered_map(_slow_square, items(), workers, chunk=chunk, min_items=8,
                                              ahead=ahead), 1):
        assert r == (done - 1) ** 2
        most = max(most, pulled[0] - done)
    assert 0 < most <= (workers * ahead + 1) * chunk


def test_worker_exception_propagates_and_the_pool_is_gone():
    with pytest.raises(ValueError, match="item 37 is bad"):
        list(ordered_map(_fail_at_37, range(200), 2, chunk=4, min_items=10))
    assert not multiprocessing.active_children()
    results = ordered_map(_fail_at_37, range(30, 200), 2, chunk=2, min_items=10)
    assert next(results) == 30 and multiprocessing.active_children()
    results.close()  # the consumer stops early: pending work is cancelled and the workers joined
    assert not multiprocessing.active_children()


def test_no_pool_for_one_worker_or_few_items():
    _initialised.clear()
    out = list(ordered_map(_slow_square, range(50), 1, initializer=_remember, initargs=("one",)))
    assert [r for r, _ in out] == [x * x for x in range(50)] and {p for _, p in out} == {os.getpid()}
    out = list(ordered_map(_slow_square, iter(range(9)), 4, initializer=_remember, initargs=("few",), min_items=10))
    assert {p for _, p in out} == {os.getpid()} and _initialised == [("one", os.getpid()), ("few", os.getpid())]
    assert resolve_workers(0) == cpu_count() >= 1 and resolve_workers(3) == 3
    with pytest.raises(UserError, match="workers must be 0"):
        resolve_workers(-1)


# --- the stages ---------------------------------------------------------------------------------------------
def mixed_texts(n: int, seed: int) -> list[str]:
    """Stories with every filter outcome mixed in (exact and near duplicates, too short, foreign, menus, walls,
    repeated notices, policy hits) and markup and wrapping for the cleaner."""
    rng = random.Random(seed)
    texts: list[str] = []
    for i in range(n):
        k = i % 20
        if k == 3 and texts:
            texts.append("  " + rng.choice(texts).upper())
        elif k == 7 and texts:
            texts.append(edit_words(rng.choice(texts), rng, 2))
        elif k == 9:
            texts.append("tiny")
        elif k == 11:
            texts.append(FRENCH * 2)
        elif k == 13:
            texts.append(MENU)
        elif k == 15:
            texts.append(WALL.format(i))
        elif k == 17:
            texts.append(NOTICE.format(i % 3))
        elif k == 19:
            texts.append(story(rng, 12).replace("\n\n", "\n\nThe blorf hid behind the wimples. ", 1))
        elif k == 5:
            text = story(rng, rng.randint(8, 16)).replace(". ", ".\n", 3)
            texts.append("<p>" + text.replace("\n\n", "</p>\n\n<p>&amp; ") + "</p>\nPlease vote and comment!\n")
        else:
            texts.append(story(rng, rng.randint(8, 16)))
    return texts


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def copy_dataset(src: DatasetPaths, dst: Path) -> DatasetPaths:
    shutil.copytree(src.root, dst)
    return DatasetPaths.at(dst)


def spy_pool(monkeypatch, module) -> list[int]:
    """Count live worker processes each time the stage takes a result (proves which path ran)."""
    seen: list[int] = []

    def watched(*args, **kwargs):
        for result in ordered_map(*args, **kwargs):
            seen.append(len(multiprocessing.active_children()))
            yield result
    monkeypatch.setattr(module, "ordered_map", watched)
    return seen


def test_outputs_are_byte_identical_with_one_or_two_workers(tmp_path, monkeypatch):
    for module in (filter_dataset, clean_dataset):
        monkeypatch.setattr(module, "POOL_MIN_ITEMS", 40)  # a pool even for this small corpus
    seen = {"filter": spy_pool(monkeypatch, filter_dataset), "clean": spy_pool(monkeypatch, clean_dataset)}
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    base = DatasetPaths.at(tmp_path / "base")
    base.make_dirs()
    items = add_items(base, mixed_texts(400, 5))
    base.raw_file(items[30]).write_bytes(b"edited after validate " * 40)  # tampered: no decision
    base.raw_file(items[31]).unlink()  # vanished: skipped
    trees = {}
    for workers in (1, 2):
        paths = copy_dataset(base, tmp_path / f"w{workers}")
        for stage in seen.values():
            stage.clear()
        with pytest.raises(StageFailed, match="sha256_mismatch"):
            filter_dataset.run(FilterConfig(policy_file=str(policy), workers=workers), paths)
        cfg = CleanConfig(min_chars=700, workers=workers)
        clean_dataset.run(cfg, paths)
        for i, item in enumerate(read_kept(paths, "clean")):
            if i % 3 == 0:
                paths.cleaned_file(item).unlink()  # redone while the others are current
        victim = read_kept(paths, "clean")[3]  # its cleaned file is gone, so it is read again
        paths.raw_file(victim).write_bytes(b"edited after filter " * 40)
        with pytest.raises(StageFailed, match="sha256_mismatch"):
            clean_dataset.run(cfg, paths)
        assert (max(seen["filter"]) >= 2 and max(seen["clean"]) >= 2) if workers == 2 else \
            (max(seen["filter"]) == 0 and max(seen["clean"]) == 0)
        trees[workers] = tree(paths.root)
    assert trees[1] == trees[2]
    reasons = {json.loads(line).get("reason") for line in trees[1]["metadata/filter_ledger.jsonl"].splitlines()}
    assert reasons >= {None, "exact_duplicate", "near_duplicate", "too_short", "wrong_language", "not_narrative",
                       "boilerplate", "content_policy"}, reasons
    assert any(name.startswith("cleaned/") for name in trees[1])
    assert "rejected/empty_after_clean/clean.jsonl" in trees[1]
    assert b'"workers"' not in trees[1]["metadata/filter_manifest.json"]
    # A new worker count is not a config change: nothing is redone.
    paths = DatasetPaths.at(tmp_path / "w1")
    paths.raw_file(items[30]).unlink()
    again = filter_dataset.run(FilterConfig(policy_file=str(policy), workers=2), paths)
    assert again["new"] == 0


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> DatasetPaths:
    """2,400 mixed items, validated, not filtered: big enough for the stages' own pool threshold."""
    paths = DatasetPaths.at(tmp_path_factory.mktemp("parallel") / "base")
    paths.make_dirs()
    add_items(paths, mixed_texts(2400, 8))
    return paths


@pytest.fixture(scope="module")
def filtered(base, tmp_path_factory) -> DatasetPaths:
    """The base corpus filtered in one uninterrupted run on two workers."""
    paths = copy_dataset(base, tmp_path_factory.mktemp("parallel") / "filtered")
    assert filter_dataset.run(FilterConfig(workers=2), paths)["kept"] >= filter_dataset.POOL_MIN_ITEMS
    return paths


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def gone(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def kill_mid_run(script: str, root: Path, progress, at: int, workers: int) -> None:
    """Start a stage script, kill -9 it once `progress()` reaches `at`, and check its workers die with it."""
    proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "scripts" / script), "--dataset-dir", str(root),
                             "--workers", str(workers)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while proc.poll() is None and progress() < at and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, f"{script} finished before it could be killed: raise the corpus size"
    workers_seen = children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(workers_seen) >= workers  # its pool was running
    deadline = time.monotonic() + 20
    while not all(map(gone, workers_seen)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(map(gone, workers_seen)), "workers outlived the killed stage"


def rerun(script: str, root: Path, workers: int) -> None:
    assert subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / script), "--dataset-dir", str(root),
                           "--workers", str(workers)], capture_output=True, check=False).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers through Linux /proc")
def test_filter_killed_mid_run_then_rerun_on_one_worker_equals_uninterrupted(base, filtered, tmp_path):
    killed = copy_dataset(base, tmp_path / "killed")
    ledger = killed.ledger("filter")
    kill_mid_run("filter_dataset.py", killed.root, lambda: ledger.exists() and ledger.read_bytes().count(b"\n"),
                 1201, workers=2)
    assert ledger.read_bytes().count(b"\n") < 2400  # it really stopped part-way
    rerun("filter_dataset.py", killed.root, workers=1)
    assert filter_snapshot(killed) == filter_snapshot(filtered)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers through Linux /proc")
def test_clean_killed_mid_run_then_rerun_on_one_worker_equals_uninterrupted(filtered, tmp_path):
    whole = copy_dataset(filtered, tmp_path / "whole")
    assert clean_dataset.run(CleanConfig(workers=2), whole)["cleaned"] >= clean_dataset.POOL_MIN_ITEMS
    killed = copy_dataset(filtered, tmp_path / "killed")
    folder = killed.cleaned / "t"
    kill_mid_run("clean_dataset.py", killed.root, lambda: len(os.listdir(folder)) if folder.is_dir() else 0,
                 1000, workers=2)
    rerun("clean_dataset.py", killed.root, workers=1)
    for sub in ("cleaned", "rejected"):
        assert tree(killed.root / sub) == tree(whole.root / sub)
    assert killed.ledger("clean").read_bytes() == whole.ledger("clean").read_bytes()


@pytest.mark.parametrize("script", ["filter_dataset.py", "clean_dataset.py"])
def test_negative_workers_is_a_one_line_error(script, tmp_path):
    paths = DatasetPaths.at(tmp_path / "ds")
    paths.make_dirs()
    res = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / script), "--dataset-dir", str(paths.root),
                          "--workers", "-1"], capture_output=True, text=True, check=False)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "workers must be 0 (one per CPU core) or more" in res.stderr
    config = tmp_path / "cfg.yaml"
    config.write_text("workers: -2\n", encoding="utf-8")
    module = filter_dataset if script.startswith("filter") else clean_dataset
    assert module.main(["--dataset-dir", str(paths.root), "--config", str(config)]) == 2
