"""A dataset folder on a read-only (or shared) mount: the stages that only read it (train, evaluate, generate,
stats) run, and the stages that write it stop with one line saying the folder is read-only; no traceback.

Two ways, each a real refusal by the system: a read-only bind mount inside a private mount namespace
(`unshare -m`, needs root; EROFS, like a read-only share), and `chmod -R a-w` (EACCES, like a folder of another
user). The tests run as root, where chmod alone does not stop writes, so there the commands also run without the
capabilities that override file permissions (`setpriv`). A way this machine cannot provide is skipped, saying why.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from common.config import build_config
from common.paths import REPO_ROOT, DatasetPaths

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 16, "batch_size": 8, "threads": 1,
        "eval_iters": 2, "eval_interval": 4, "warmup_iters": 1, "plot": False, "log_interval": 4, "max_iters": 4}

# Runs each stage's main() in one process (torch is imported once) and stores (exit code, stderr) per stage.
DRIVER = r"""
import contextlib, importlib, io, json, logging, sys, traceback
logging.basicConfig(level=logging.INFO, stream=sys.__stderr__)  # logs stay out of the per-stage stderr
cases, results = json.loads(sys.argv[1]), {}
for name, module, argv in cases:
    mod = importlib.import_module(module)
    main = mod.run_pipeline if module == "run" else mod.main
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except BaseException:
            code, _ = "traceback", err.write(traceback.format_exc())
    results[name] = [code, err.getvalue()]
json.dump(results, open(sys.argv[2], "w"))
"""


def read_only_prefix(folder: Path, how: str) -> list[str]:
    """The command prefix that runs a command with `folder` read-only, by a read-only bind mount ("mount": the
    system answers EROFS) or by permissions ("chmod": EACCES; as root, the command also loses the capability to
    override them). Skips, saying why, where this machine cannot do it."""
    if how == "chmod":
        subprocess.run(["chmod", "-R", "a-w", str(folder)], check=True)
        if os.geteuid() != 0:
            return []
        caps = "-dac_override,-dac_read_search"
        prefix = ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"]
    else:
        if os.geteuid() != 0:
            pytest.skip("a private read-only mount needs root; the chmod case covers this user")
        script = f'mount --bind "{folder}" "{folder}" && mount -o remount,bind,ro "{folder}" && exec "$@"'
        prefix = ["unshare", "-m", "sh", "-c", script, "sh"]
    if shutil.which(prefix[0]) is None:
        pytest.skip(f"{prefix[0]} is not installed: cannot make a folder read-only for root")
    probe = subprocess.run([*prefix, "sh", "-c", f'! touch "{folder}/probe" 2>/dev/null'], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a folder read-only here ({how}): {probe.stderr.decode().strip()[:200]}")
    return prefix


def digest(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A prepared demo dataset (30 stories) and a tiny model trained on it for 4 steps: (dataset, run folder)."""
    from training import train
    import run
    base = tmp_path_factory.mktemp("readonly")
    ds, out = base / "ds", base / "out"
    prof = base / "profile.yaml"
    prof.write_text("stages: [import, validate, filter, clean, prepare]\n"
                    "import: {demo: true, demo_stories: 30, demo_seed: 7}\n")
    assert run.run_pipeline(["--no-stats", "--config", str(prof), "--dataset-dir", str(ds)]) == 0
    train.run(build_config(train.TrainConfig, {**TINY, "out_dir": str(out)}), DatasetPaths.at(ds))
    (ds / "metadata" / ".lock").unlink(missing_ok=True)  # the harder case for readers: no lock file, none made
    return ds, out, prof


@pytest.mark.slow
@pytest.mark.parametrize("how", ["mount", "chmod"])
def test_reading_stages_run_and_writing_stages_refuse_in_one_line(built, tmp_path, how):
    ds, trained, prof = built
    out = tmp_path / "out"
    shutil.copytree(trained, out)  # each case resumes the same 4-step run
    evaluate_profile = tmp_path / "evaluate.yaml"
    evaluate_profile.write_text(f"stages: [evaluate]\nevaluate: {{checkpoint: '{out}', report_dir: "
                                f"'{tmp_path / 'rep2'}', num_samples: 1, max_new_tokens: 8, max_eval_tokens: 64}}\n")
    story = tmp_path / "story.txt"
    story.write_text("A new story that cannot be imported into a read-only dataset.\n" * 5)
    d = ["--dataset-dir", str(ds)]
    writers = [("import", "scripts.import_text", [*d, str(story)]), ("validate", "scripts.validate_raw", d),
               ("filter", "scripts.filter_dataset", d), ("clean", "scripts.clean_dataset", d),
               ("prepare", "scripts.prepare_data", d),
               ("run.py writing", "run", ["--no-stats", "--config", str(prof), *d, "--only", "validate"])]
    train_flags = [a for k, v in TINY.items() if k != "plot" for a in (f"--{k.replace('_', '-')}", str(v))]
    readers = [("train", "training.train", [*d, "--out-dir", str(out), *train_flags, "--no-plot",
                                            "--max-iters", "6"]),
               ("evaluate", "scripts.evaluate", [*d, "--checkpoint", str(out), "--report-dir", str(tmp_path / "rep"),
                                                 "--num-samples", "1", "--max-new-tokens", "8",
                                                 "--max-eval-tokens", "64"]),
               ("generate", "scripts.generate", [*d, "--checkpoint", str(out), "--max-new-tokens", "8"]),
               ("stats", "scripts.stats", [*d, "--no-chart"]),
               ("run.py reading", "run", [*d, "--config", str(evaluate_profile)])]
    before = digest(ds)
    results_file = tmp_path / "results.json"
    try:
        prefix = read_only_prefix(ds, how)
        res = subprocess.run([*prefix, sys.executable, "-c", DRIVER, json.dumps(writers + readers),
                              str(results_file)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(ds)], check=True)
    assert res.returncode == 0, res.stderr[-2000:]
    results = json.loads(results_file.read_text())
    for name, *_ in writers:
        code, err = results[name]
        assert code == 2 and "Traceback" not in err and err.strip().count("\n") == 0, (name, err)
        assert "is read-only" in err and str(ds) in err, (name, err)
    for name, *_ in readers:
        code, err = results[name]
        assert code == 0 and "Traceback" not in err, (name, err)
    assert digest(ds) == before
    assert json.loads((tmp_path / "rep" / "report.json").read_text())["checkpoint"]["step"] == 6
