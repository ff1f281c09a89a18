"""Every command starting with `python` (or `.venv/bin/python`) that README.md and DATA_FORMAT.md show runs and
exits with 0, so the documentation cannot rot.

Commands are taken from fenced code blocks (also after `&&`, and with `VAR=value` prefixes) and from inline code
spans. Each must be listed in COMMANDS below, keyed by the command exactly as documented (tokens joined by one
space and quoted as a POSIX shell would need, comments dropped), with what the test does with it:
- `Run(extra)`: run it with `extra` appended (later flags win, so a budget flag here shortens a documented
  budget), in document order, all sharing one temporary dataset and training-output folder
  (MINIATURE_MEMORY_DATASET / MINIATURE_MEMORY_OUT) and a working folder that links to the repository's files;
  the example paths in PATHS are mapped into the temporary folders;
- `Serve()`: a server: start it on a free port, wait for its home page to answer, stop it;
- `Skip(reason)`: not run, with the reason shown in the test report.
A documented command missing from COMMANDS fails `test_every_documented_command_is_covered`; an entry whose
command left the docs fails `test_no_stale_entries`.
"""

import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from common.paths import REPO_ROOT

DOCS = ("README.md", "DATA_FORMAT.md")
PYTHONS = ("python", "python3", ".venv/bin/python")
QUICK = ["--config", "profiles/quick.yaml"]
NO_TRAIN = ["--skip-train", "--skip-generate"]  # the first run trained and wrote a story; later runs need not


@dataclass(frozen=True)
class Run:
    extra: list = field(default_factory=list)


@dataclass(frozen=True)
class Serve:
    pass


@dataclass(frozen=True)
class Skip:
    reason: str


COMMANDS = {
    # README: the two commands (the default demo takes 3.5 minutes; the quick profile is the same journey)
    ".venv/bin/python run.py": Run(QUICK),
    ".venv/bin/python -m pytest -q": Skip("the test suite itself (CI runs it; running it here would recurse)"),
    # README: running parts of the pipeline
    "python run.py --config profiles/quick.yaml": Run(NO_TRAIN),
    "python run.py --only validate --only filter": Run(),
    "python run.py --from clean": Run(QUICK + NO_TRAIN),
    "python run.py --skip-import": Run(QUICK + NO_TRAIN),
    "python run.py --dataset-dir /data/stories --config profiles/quick.yaml --skip-train": Run(["--skip-generate"]),
    "python run.py --dry-run": Run(),
    "python scripts/import_text.py my_stories/ --source mybooks": Run(),
    "python scripts/import_text.py my_stories/ --source books --split-chars 12000": Run(),
    "python scripts/stats.py": Run(),
    "python -m demo.site --port 8000": Serve(),
    # README: training, generating, evaluating (budgets cut to a few steps)
    "python training/train.py --preset tiny --max-minutes 3": Run(["--max-iters", "2", "--eval-interval", "2",
                                                                   "--eval-iters", "1", "--batch-size", "4"]),
    "python training/train.py --config training/configs/small.yaml --max-minutes 30":
        Run(["--max-iters", "1", "--eval-interval", "1", "--eval-iters", "1", "--batch-size", "2",
             "--grad-accum", "1"]),
    "python scripts/generate.py --prompt 'Once upon a time' --max-new-tokens 300": Run(["--max-new-tokens", "40"]),
    "python scripts/generate.py --checkpoint training/out/tiny --num-samples 3 --temperature 0.7 --seed 7":
        Run(["--max-new-tokens", "40"]),
    "python scripts/evaluate.py --num-samples 8": Run(["--num-samples", "1", "--max-new-tokens", "30",
                                                       "--max-eval-tokens", "2000"]),
    "python scripts/train_tokenizer.py --vocab-size 8192": Run(["--vocab-size", "300"]),
    # README: the real web
    "BRAVE_API_KEY=... python scripts/search.py --provider brave --query 'short fiction' --max-results 40":
        Skip("needs the network and a Brave Search API key"),
    "python run.py --config my-web-profile.yaml --from fetch": Skip("the reader's own web profile: needs the network"),
    "python bench/train.py": Skip("a ~12-minute benchmark; tests/test_bench_train.py runs its --quick mode"),
    "python bench/generate.py": Skip("a ~6-minute benchmark of the generation speed, memory and dtype costs"),
    "python scripts/chat.py --checkpoint training/out/chat --db my-memory.db":
        Skip("an interactive chat; tests/test_chat_cli.py runs it on a tiny checkpoint"),
    "python scripts/serve.py --checkpoint training/out/chat --port 8000":
        Skip("a server on a fixed port; tests/test_chat_server.py runs it (and the openai client against it)"),
    "python run.py --config profiles/chat.yaml": Skip("trains a chat model for 10 minutes; tests/test_chat_examples.py "
                                                     "runs its data stages with the profile's settings"),
    "python bench/chat.py --checkpoint training/out/chat --dense": Skip("a benchmark of a trained chat model; "
                                                                        "tests/test_chat_bench.py runs it on a tiny "
                                                                        "one"),
    "python bench/chat.py --checkpoint training/out/chat --probes 60": Skip("a benchmark of a trained chat model; "
                                                                "tests/test_chat_bench.py runs it on a tiny one"),
    "python run.py --config profiles/memory-recall.yaml --dataset-dir dataset-memory":
        Skip("trains 4,000 steps (~9 minutes); tests/test_memory_recall_profile.py runs it with "
                                            "fewer stories and steps"),
    "python bench/memory.py --checkpoint recall=training/out/memory-recall --dataset-dir dataset-memory "
    "--max-probes 300": Skip("a benchmark of a trained model; tests/test_memory_generation.py runs it on a tiny one"),
}
# Example paths in the docs -> where the test puts them (relative to the temporary folder).
PATHS = {"/data/stories": "ds", "training/out": "out"}


def commands_in(text: str) -> list[str]:
    """The python commands of a Markdown text, in order: fenced lines (also after `&&`) and inline code spans."""
    found = []
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    for block in fenced:
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                found.append(part)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.S | re.M)
    found += re.findall(r"`([^`\n]+)`", prose)
    out = []
    for part in found:
        try:
            tokens = shlex.split(part, comments=True)
        except ValueError:
            continue
        words = [t for t in tokens if not re.match(r"^[A-Z_][A-Z0-9_]*=", t)]
        if words and words[0] in PYTHONS:
            out.append(shlex.join(tokens))
    return out


def documented() -> list[str]:
    """Every documented python command, README first, duplicates once."""
    seen = []
    for name in DOCS:
        path = REPO_ROOT / name
        if path.is_file():
            seen += [c for c in commands_in(path.read_text(encoding="utf-8")) if c not in seen]
    return seen


def test_extraction_finds_fenced_inline_chained_and_env_prefixed_commands():
    text = ("Run `python a.py --x 1` or:\n\n```bash\nbash setup.sh && .venv/bin/python b.py\n"
            "KEY=v python c.py --q \"two words\"   # comment\npip install x\n```\n")
    assert commands_in(text) == [".venv/bin/python b.py", "KEY=v python c.py --q 'two words'", "python a.py --x 1"]


def test_every_documented_command_is_covered():
    missing = [c for c in documented() if c not in COMMANDS]
    assert not missing, ("documented commands with no entry in COMMANDS of tests/test_docs_commands.py "
                         f"(add Run/Serve/Skip): {missing}")


def test_no_stale_entries():
    stale = [c for c in COMMANDS if c not in documented()]
    assert not stale, f"COMMANDS entries no longer in the docs (remove them): {stale}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A working folder that looks like the checkout (links to its files), a temp dataset and output folder."""
    tmp = tmp_path_factory.mktemp("docs")
    work = tmp / "work"
    work.mkdir()
    for entry in REPO_ROOT.iterdir():
        if not entry.name.startswith(".") and entry.name != "dataset":
            (work / entry.name).symlink_to(entry)
    stories = work / "my_stories"
    stories.mkdir()
    for i, line in enumerate(["The lighthouse keeper counted the ships that passed in the night. ",
                              "Mira found a brass key under the loose stair of the old bakery. "]):
        (stories / f"story{i}.txt").write_text(line * 30 + "\n", encoding="utf-8")
    env = {**os.environ, "MINIATURE_MEMORY_DATASET": str(tmp / "ds"), "MINIATURE_MEMORY_OUT": str(tmp / "out"),
           "MPLBACKEND": "agg"}
    return tmp, work, env


def argv_of(command: str, tmp: Path) -> tuple[list[str], dict]:
    """The argument list to execute (this interpreter, example paths mapped) and the VAR=value prefixes."""
    tokens = shlex.split(command)
    env = {}
    while "=" in tokens[0] and tokens[0] not in PYTHONS:
        key, value = tokens.pop(0).split("=", 1)
        env[key] = value
    argv = [sys.executable]
    for tok in tokens[1:]:
        for example, local in PATHS.items():
            if tok == example or tok.startswith(example + "/"):
                tok = str(tmp / local) + tok[len(example):]
        argv.append(tok)
    return argv, env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_and_stop(argv: list[str], work: Path, env: dict) -> None:
    port = free_port()
    argv = [str(port) if a == "8000" else a for a in argv]
    proc = subprocess.Popen(argv, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"{argv} exited early: {proc.stdout.read()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    assert resp.status == 200
                    return
            except OSError:
                assert time.monotonic() < deadline, f"{argv} did not answer on port {port} within 30 s"
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c in documented() if c in COMMANDS])
def test_documented_command_runs(command, workdir):
    tmp, work, env = workdir
    action = COMMANDS[command]
    if isinstance(action, Skip):
        pytest.skip(action.reason)
    argv, prefix = argv_of(command, tmp)
    env = {**env, **prefix}
    if isinstance(action, Serve):
        serve_and_stop(argv, work, env)
        return
    done = subprocess.run(argv + list(action.extra), cwd=work, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, (f"documented command failed ({done.returncode}): {command}\n"
                                  f"ran: {argv + list(action.extra)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
