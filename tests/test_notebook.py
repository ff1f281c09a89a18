"""NanoGPT_Training.ipynb: committed without outputs, and "Run all" works top to bottom.

The notebook runs in a real Jupyter kernel (nbclient + ipykernel from requirements-dev.txt) with the quick
profile (profiles/quick.yaml: 120 demo stories, ~15 s of tiny training, a short story, a 2-sample evaluation),
its dataset and checkpoints in a temporary folder through the environment variables every stage honours. The
kernel is this interpreter (a kernelspec written into a temporary JUPYTER_PATH), so it sees the same packages as
the test. Any failing cell fails the test; the story, the report and the charts must come out.
"""

import json
import sys

import pytest

from common.paths import REPO_ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = REPO_ROOT / "NanoGPT_Training.ipynb"
KERNEL = "miniature-memory-test"
QUICK = REPO_ROOT / "profiles" / "quick.yaml"


def test_committed_notebook_has_no_outputs_and_clean_metadata():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "the notebook has no code cells"
    for cell in code:
        assert cell.outputs == [], f"committed outputs in cell {cell.get('id')}: strip them"
        assert cell.execution_count is None, f"execution count left in cell {cell.get('id')}"
    for cell in nb.cells:
        assert set(cell.metadata) <= {"id"}, f"cell metadata left in {cell.get('id')}: {dict(cell.metadata)}"
    assert set(nb.metadata) <= {"kernelspec", "language_info", "colab"}, f"notebook metadata: {set(nb.metadata)}"
    # Short cells, each explained: every code cell follows a markdown cell.
    assert nb.cells[0].cell_type == "markdown"
    for prev, cell in zip(nb.cells, nb.cells[1:]):
        if cell.cell_type == "code":
            assert prev.cell_type == "markdown", f"code cell {cell.get('id')} has no markdown cell before it"
    assert max(len(c.source.splitlines()) for c in code) <= 45, "a code cell grew past 45 lines: split it"


@pytest.fixture
def kernel_env(tmp_path, monkeypatch):
    """A kernelspec for this very interpreter, found through JUPYTER_PATH; data and checkpoints in tmp_path."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "miniature-memory test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("MINIATURE_MEMORY_PROFILE", str(QUICK))
    monkeypatch.setenv("MINIATURE_MEMORY_DATASET", str(tmp_path / "ds"))
    monkeypatch.setenv("MINIATURE_MEMORY_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("MPLBACKEND", "agg")
    return tmp_path


def outputs_of(cell) -> tuple[str, set[str]]:
    """All text a cell printed, and the MIME types of what it displayed."""
    text, mimes = [], set()
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            text.append(out.text)
        elif out.output_type in ("display_data", "execute_result"):
            mimes |= set(out.data)
            text.append(out.data.get("text/plain", ""))
    return "".join(text), mimes


@pytest.mark.slow
def test_notebook_runs_top_to_bottom_with_the_quick_profile(kernel_env):
    tmp = kernel_env
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=300,
                                     resources={"metadata": {"path": str(REPO_ROOT)}})
    client.execute()  # raises CellExecutionError, naming the cell, when any cell fails

    ds, run_dir = tmp / "ds", tmp / "out" / "quick"
    assert (ds / "processed" / "meta.json").is_file(), "the pipeline cells did not prepare the temp dataset"
    assert json.loads((ds / "processed" / "meta.json").read_text())["splits"]["train"]["docs"] > 0
    assert (ds / "metadata" / "stats.png").is_file()
    assert (run_dir / "last.safetensors").is_file(), "no checkpoint in the temp output folder"
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(metrics) >= 2 and metrics[-1]["val_loss"] < metrics[0]["val_loss"], "the loss did not go down"
    story = (run_dir / "story.txt").read_text(encoding="utf-8")
    assert len(story.strip()) >= 20, f"no story came out: {story!r}"
    report = run_dir / "eval"
    assert (report / "report.json").is_file() and (report / "report.md").is_file(), "no evaluation report"
    assert json.loads((report / "report.json").read_text()), "empty evaluation report"

    cells = [c for c in nb.cells if c.cell_type == "code"]
    shown = [outputs_of(c) for c in cells]
    assert any("image/png" in mimes and "raw" in text for text, mimes in shown), "no stats table + chart"
    train_cell = next(i for i, c in enumerate(cells) if "Popen" in c.source)
    text, mimes = shown[train_cell]
    assert "image/png" in mimes, "the training cell showed no loss plot"
    assert "val loss" in text, f"the training cell showed no training log: {text[-500:]!r}"
