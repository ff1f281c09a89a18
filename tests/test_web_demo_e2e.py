"""run.py on the web demo profile: a local story site searched, fetched (static and headless Chromium),
extracted, filtered and prepared, with the rejections its special pages are built to cause."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from common.fsio import read_jsonl
from common.paths import REPO_ROOT, DatasetPaths
from scraper.fetch.browser import system_chromium

PROFILE = REPO_ROOT / "profiles" / "web-demo.yaml"


def run_py(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO_ROOT / "run.py"), "--no-stats", *args],
                          capture_output=True, text=True, timeout=600)


def rejected_items(root, stage: str) -> dict[str, str]:
    out = {}
    for p in (root / "rejected").glob(f"*/{stage}.jsonl"):
        for rec in read_jsonl(p):
            out[rec["item"]] = rec["reason"]
    return out


@pytest.fixture(scope="module")
def web_run(tmp_path_factory):
    ds = tmp_path_factory.mktemp("web") / "ds"
    res = run_py("--config", str(PROFILE), "--dataset-dir", str(ds))
    assert res.returncode == 0, res.stderr
    return ds, res


@pytest.mark.skipif(system_chromium() is None and shutil.which("chromium") is None and not os.environ.get("CI"),
                    reason="no Chromium on this machine (setup.sh installs one; under CI this fails instead)")
def test_web_demo_profile_end_to_end(web_run):
    ds, res = web_run
    paths = DatasetPaths.at(ds)
    manifest = {}
    for ev in read_jsonl(paths.metadata / "urls.jsonl"):
        manifest.setdefault(ev["url"], {}).update(ev)
    by_path = {url.split("/", 3)[3]: state for url, state in manifest.items()}

    # robots.txt: the /private/ story is refused and never stored.
    private = [s for p, s in by_path.items() if p.startswith("private/")]
    assert private and all(s["status"] == "rejected" and s["reason"] == "robots" for s in private)
    # Both fetch methods produced stories: the JavaScript-only pages went through Chromium.
    methods = {s.get("fetch_method") for s in manifest.values() if s.get("item")}
    assert methods == {"static", "browser"}
    # Multi-page stories were joined into one item.
    assert any(s.get("pages", 1) > 1 and s.get("item") for s in manifest.values())
    # The app-download wall is recognised as such, not stored.
    walls = [s for s in manifest.values() if s.get("reason") == "app_wall"]
    assert len(walls) == 1 and not walls[0].get("item")

    reasons = set(rejected_items(ds, "filter").values())
    assert {"near_duplicate", "too_short", "wrong_language"} <= reasons
    meta = json.loads((paths.processed / "meta.json").read_text())
    assert meta["splits"]["train"]["docs"] + meta["splits"]["val"]["docs"] >= 35
    assert "Traceback" not in res.stderr


def test_web_demo_second_run_adds_nothing(web_run):
    ds, _ = web_run
    res = run_py("--config", str(PROFILE), "--dataset-dir", str(ds))
    assert res.returncode == 0, res.stderr
    lines = {ln.split()[1]: ln for ln in res.stdout.splitlines() if ln.startswith("[")}
    assert " 0 new" in lines["search"]
    assert "0 fetched" in lines["fetch"]
    assert "0 extracted" in lines["extract"]
    assert "0 cleaned" in lines["clean"]
