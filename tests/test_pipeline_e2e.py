"""run.py end to end on fixture corpora: the ground rules of the data pipeline.

- raw bytes never change, whatever a stage does;
- a second run does no work; deleting cleaned/ and processed/ and re-running gives the same bytes;
- kill -9 at any moment of any stage, re-run: the same bytes as an uninterrupted run;
- bad inputs (binary, invalid UTF-8, empty, a 50 MB single line, odd names, config typos, a missing dataset
  folder) get a one-line reason and never crash the pipeline.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.fsio import append_jsonl, sha256_file
from common.paths import REPO_ROOT, DatasetPaths

RUN_PY = str(REPO_ROOT / "run.py")
# What "the result" of a pipeline run is: every derived file plus the raw store itself. Manifests hold this
# run's counts (they differ after a resume by design) and stats are a report, so they are left out.
RESULT_DIRS = ("raw", "cleaned", "processed", "rejected")
RESULT_METADATA = ("raw_index.jsonl", "validate_ledger.jsonl", "filter_ledger.jsonl")


def write_profile(tmp_path: Path, stories: int, extra: str = "") -> Path:
    prof = tmp_path / "profile.yaml"
    prof.write_text(f"stages: [import, validate, filter, clean, prepare]\n"
                    f"import: {{demo: true, demo_stories: {stories}, demo_seed: 7}}\n{extra}")
    return prof


def run_py(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, RUN_PY, "--no-stats", *args], capture_output=True, text=True,
                          timeout=timeout)


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every result file under a dataset folder, by relative path."""
    out = {}
    for sub in RESULT_DIRS:
        for p in sorted((root / sub).rglob("*")):
            if p.is_file() and p.name != ".gitkeep":
                out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    for name in RESULT_METADATA:
        p = root / "metadata" / name
        if p.exists():
            out[f"metadata/{name}"] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def raw_digest(root: Path) -> dict[str, str]:
    return {k: v for k, v in tree_digest(root).items() if k.startswith("raw/")}


def stage_lines(stdout: str) -> dict[str, str]:
    """{stage: its one summary line} from run.py's output."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith("[") and "]" in line:
            parts = line.split("]", 1)[1].split()
            out[parts[0]] = line
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of the demo profile (small corpus) to compare everything against."""
    base = tmp_path_factory.mktemp("ref")
    prof = write_profile(base, stories=300)
    ds = base / "ds"
    res = run_py("--config", str(prof), "--dataset-dir", str(ds))
    assert res.returncode == 0, res.stderr
    return prof, ds, res


def test_demo_profile_runs_every_stage_and_produces_training_data(reference):
    prof, ds, res = reference
    lines = stage_lines(res.stdout)
    assert list(lines) == ["import", "validate", "filter", "clean", "prepare"]
    assert "300 added" in lines["import"]
    paths = DatasetPaths.at(ds)
    meta = json.loads((paths.processed / "meta.json").read_text())
    for name in ("train.txt", "val.txt", "train.bin", "val.bin"):
        assert (paths.processed / name).stat().st_size > 0
    kept = len(list(paths.cleaned.rglob("*.txt")))
    assert kept >= 250, f"the demo corpus should mostly survive the filter, kept {kept}"
    assert meta["vocab_size"] > 40


def test_second_run_does_no_work(reference):
    prof, ds, _ = reference
    before = tree_digest(ds)
    res = run_py("--config", str(prof), "--dataset-dir", str(ds))
    assert res.returncode == 0, res.stderr
    lines = stage_lines(res.stdout)
    assert "0 added" in lines["import"]
    assert tree_digest(ds) == before


def test_deleting_derived_folders_regenerates_identical_bytes(reference, tmp_path):
    prof, ds, _ = reference
    copy = tmp_path / "ds"
    subprocess.run(["cp", "-a", str(ds), str(copy)], check=True)
    for sub in ("cleaned", "processed"):
        subprocess.run(["rm", "-rf", str(copy / sub)], check=True)
    res = run_py("--config", str(prof), "--dataset-dir", str(copy), "--skip-import")
    assert res.returncode == 0, res.stderr
    assert tree_digest(copy) == tree_digest(ds)


def test_whole_rebuild_from_raw_alone_is_identical(reference, tmp_path):
    prof, ds, _ = reference
    copy = tmp_path / "ds"
    (copy / "metadata").mkdir(parents=True)
    subprocess.run(["cp", "-a", str(ds / "raw"), str(copy / "raw")], check=True)
    subprocess.run(["cp", str(ds / "metadata" / "raw_index.jsonl"), str(copy / "metadata")], check=True)
    res = run_py("--config", str(prof), "--dataset-dir", str(copy), "--skip-import")
    assert res.returncode == 0, res.stderr
    assert tree_digest(copy) == tree_digest(ds)


@pytest.mark.slow
def test_kill_9_at_any_point_then_rerun_matches_uninterrupted_run(tmp_path):
    prof = write_profile(tmp_path, stories=1500)
    ref, victim = tmp_path / "ref", tmp_path / "victim"
    assert run_py("--config", str(prof), "--dataset-dir", str(ref)).returncode == 0
    kills = 0
    # Kill after growing delays so successive kills land further along, in every stage.
    for delay in (0.4, 0.9, 1.5, 2.2, 3.0, 4.0, 5.5, 7.0):
        proc = subprocess.Popen([sys.executable, RUN_PY, "--no-stats", "--config", str(prof),
                                 "--dataset-dir", str(victim)], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.communicate()
    assert kills >= 3, "the run finished too fast for the kills to land; raise the corpus size"
    res = run_py("--config", str(prof), "--dataset-dir", str(victim))
    assert res.returncode == 0, res.stderr
    assert tree_digest(victim) == tree_digest(ref)


def test_raw_bytes_unchanged_by_every_stage(reference, tmp_path):
    prof, ds, _ = reference
    copy = tmp_path / "ds"
    subprocess.run(["cp", "-a", str(ds), str(copy)], check=True)
    before = raw_digest(copy)
    for stage in ("validate", "filter", "clean", "prepare"):
        res = run_py("--config", str(prof), "--dataset-dir", str(copy), "--only", stage, "--force")
        assert res.returncode == 0, res.stderr
        assert raw_digest(copy) == before, f"stage {stage} changed raw bytes"


@pytest.mark.slow
def test_bad_inputs_get_one_line_reasons_and_never_crash(tmp_path):
    ds = tmp_path / "ds"
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    story = ("The lighthouse keeper counted the ships every evening. " * 12 + "\n\n") * 3
    (inputs / "good story.txt").write_text(story)
    (inputs / "weird name ünï (1).txt").write_text(story.replace("ships", "boats"))
    (inputs / "binary.txt").write_bytes(bytes(range(256)) * 10)
    (inputs / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1") * 50)
    (inputs / "empty.txt").write_bytes(b"")
    prof = tmp_path / "p.yaml"
    prof.write_text(f"stages: [import, validate, filter, clean, prepare]\n"
                    f"import: {{inputs: ['{inputs}'], source: mixed}}\n")
    res = run_py("--config", str(prof), "--dataset-dir", str(ds))
    assert res.returncode == 0, res.stderr
    for word in ("binary", "not valid UTF-8", "empty"):
        assert word in res.stderr
    assert "Traceback" not in res.stderr

    # Files that reach raw/ by other means (a buggy extractor that still indexed them, a hand-copied file):
    # the validate stage rejects them with reason codes.
    src = ds / "raw" / "mixed"
    bad = {"20260101_000000__mixed__bin__000000000000.txt": b"\x00\x01\x02" * 100,
           "20260101_000001__mixed__bad-utf8__000000000000.txt": b"ok \xff\xfe bad" * 40,
           "20260101_000002__mixed__empty__000000000000.txt": b""}
    for name, data in bad.items():
        (src / name).write_bytes(data)
    huge = src / "20260101_000003__mixed__huge__000000000000.txt"
    with open(huge, "wb") as f:
        for _ in range(50):
            f.write(b"word " * 200_000)  # 50 MB, one line
    (src / "no scheme at all.txt").write_text(story)
    append_jsonl(ds / "metadata" / "raw_index.jsonl",
                 [{"v": 1, "path": f"mixed/{p.name}", "source": "mixed", "sha256": sha256_file(p)}
                  for p in [*(src / n for n in bad), huge]])
    res = run_py("--config", str(prof), "--dataset-dir", str(ds), "--skip-import")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    reasons = {p.name for p in (ds / "rejected").iterdir() if p.is_dir()}
    assert {"binary", "not_utf8", "empty", "bad_name", "too_large"} <= reasons
    assert len(list((ds / "cleaned" / "mixed").glob("*.txt"))) == 2


def test_user_mistakes_are_one_line_errors(tmp_path):
    typo = tmp_path / "typo.yaml"
    typo.write_text("filter: {min_charz: 3}\n")
    res = run_py("--config", str(typo), "--dataset-dir", str(tmp_path / "ds"))
    assert res.returncode == 2 and "unknown key 'min_charz'" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1

    res = run_py("--config", str(tmp_path / "absent.yaml"))
    assert res.returncode == 2 and "config file not found" in res.stderr

    res = run_py("--only", "validate", "--dataset-dir", str(tmp_path / "nowhere"))
    assert res.returncode == 1 and "dataset folder not found" in res.stderr
    assert "Traceback" not in res.stderr

    stages = tmp_path / "stages.yaml"
    stages.write_text("stages: [import, generat]\n")
    res = run_py("--config", str(stages), "--dataset-dir", str(tmp_path / "ds"))
    assert res.returncode == 2 and "unknown stage 'generat'" in res.stderr

    no_model = tmp_path / "no_model.yaml"
    no_model.write_text(f"stages: [generate]\ngenerate: {{checkpoint: '{tmp_path / 'no-run'}'}}\n")
    (tmp_path / "ds2").mkdir()
    res = run_py("--config", str(no_model), "--dataset-dir", str(tmp_path / "ds2"))
    assert res.returncode == 1 and "generate  FAILED" in res.stderr and "Traceback" not in res.stderr


def test_tampered_raw_file_stops_the_pipeline(reference, tmp_path):
    prof, ds, _ = reference
    copy = tmp_path / "ds"
    subprocess.run(["cp", "-a", str(ds), str(copy)], check=True)
    victim = sorted((copy / "raw" / "demo").glob("*.txt"))[5]
    victim.write_text(victim.read_text() + "an edit")
    res = run_py("--config", str(prof), "--dataset-dir", str(copy), "--skip-import")
    assert res.returncode == 1
    assert "validate" in res.stderr and victim.name[:20] in res.stderr
    assert "filter" not in stage_lines(res.stdout)


def test_raw_file_edited_after_validate_never_reaches_cleaned_or_processed(tmp_path):
    """Edit a raw file between validate and `--from filter`: filter refuses it (the rest is still done), nothing
    of the edit reaches cleaned/ or processed/, and restoring the original gives the untampered result."""
    prof = write_profile(tmp_path, stories=40)
    ref, ds = tmp_path / "ref", tmp_path / "ds"
    assert run_py("--config", str(prof), "--dataset-dir", str(ref)).returncode == 0
    assert run_py("--config", str(prof), "--dataset-dir", str(ds), "--only", "import",
                  "--only", "validate").returncode == 0
    victim = sorted((ds / "raw" / "demo").glob("*.txt"))[5]
    original = victim.read_bytes()
    victim.write_bytes(original + b"\nINJECTED BY AN EDIT\n")

    res = run_py("--config", str(prof), "--dataset-dir", str(ds), "--from", "filter")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "filter    FAILED" in res.stderr and "sha256_mismatch" in res.stderr and victim.name in res.stderr
    derived = [p for sub in ("cleaned", "processed") for p in (ds / sub).rglob("*") if p.is_file()]
    assert not any(b"INJECTED" in p.read_bytes() for p in derived)

    victim.write_bytes(original)
    res = run_py("--config", str(prof), "--dataset-dir", str(ds), "--from", "filter")
    assert res.returncode == 0, res.stderr
    derived_of = lambda root: {k: v for k, v in tree_digest(root).items()  # noqa: E731
                               if k.startswith(("cleaned/", "processed/"))}
    assert derived_of(ds) == derived_of(ref)

    # Cleaning everything again (--force) while the file is edited: refused; restored: cleaned from the original.
    victim.write_bytes(original + b"\nINJECTED AGAIN\n")
    clean_py = [sys.executable, str(REPO_ROOT / "scripts" / "clean_dataset.py"), "--dataset-dir", str(ds)]
    res = subprocess.run([*clean_py, "--force"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "sha256_mismatch" in res.stderr and "Traceback" not in res.stderr
    assert not any(b"INJECTED" in p.read_bytes() for p in (ds / "cleaned").rglob("*.txt"))
    victim.write_bytes(original)
    res = subprocess.run(clean_py, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "clean: 1 cleaned, 39 unchanged" in res.stdout
    assert derived_of(ds) == derived_of(ref)
