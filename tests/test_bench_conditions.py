"""bench/conditions.py: every benchmark's header names the code it measured, and warns when a script of one
checkout runs with the packages of another (a worktree run with the main checkout's editable install)."""

import shutil
import subprocess
import sys

import pytest

from bench.conditions import code_checkout, format_conditions, measure_conditions
from common.paths import REPO_ROOT


def test_the_header_names_the_checkout_and_commit_measured():
    cond = measure_conditions(dtype="fp32", threads=1)
    assert cond["code"]["root"] == str(REPO_ROOT) and cond["code"]["mismatch"] is None
    line = format_conditions(cond)
    assert f"code {REPO_ROOT} @ " in line and "WARNING" not in line
    if shutil.which("git") and (REPO_ROOT / ".git").exists():
        head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        assert cond["code"]["commit"].startswith(head)


def test_a_script_from_another_checkout_is_flagged(tmp_path):
    other = tmp_path / "older-checkout"
    (other / "common").mkdir(parents=True)
    (other / "common" / "paths.py").write_text("# another checkout's package\n")
    (other / "bench").mkdir()
    script = other / "bench" / "generate.py"
    script.write_text("")
    code = code_checkout(str(script))
    assert str(other) in code["mismatch"] and str(REPO_ROOT) in code["mismatch"]
    assert f"PYTHONPATH={other}" in code["mismatch"]
    cond = measure_conditions()
    cond["code"] = code
    assert format_conditions(cond).splitlines()[1].startswith("WARNING: this script is from ")
    # this checkout's own scripts, and scripts outside any checkout, are not flagged
    assert code_checkout(str(REPO_ROOT / "bench" / "generate.py"))["mismatch"] is None
    assert code_checkout(str(tmp_path / "x.py"))["mismatch"] is None


@pytest.mark.skipif(sys.platform != "linux", reason="runs a bench script in a subprocess")
def test_a_bench_run_prints_the_code_line():
    res = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "conditions.py")], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0 and f"code {REPO_ROOT} @ " in res.stdout and "WARNING" not in res.stdout
