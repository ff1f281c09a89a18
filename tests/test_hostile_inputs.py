"""Hostile and broken inputs to the data stages and the shared CLI: each gets a one-line reason, never a traceback,
and leaves the dataset consistent (no orphan raw file, no index record without its file).

Covers: YAML alias bombs and absurd nesting in a config, non-finite or huge numbers in YAML and as flags, JSON
nested 100,000 deep or holding a 5,000-digit number (imported files and ledger lines), file names that are not
UTF-8, disk full during import, `--dataset-dir` naming a regular file, and the shared/exclusive dataset lock.
"""

import errno
import json
import os
import pathlib
import subprocess
import sys
from pathlib import Path

import pytest

from common.cli import dataset_lock
from common.config import UserError, resolve_config
from common.safe_yaml import parse_yaml
from common.fsio import append_jsonl, read_json, read_jsonl
from common.paths import REPO_ROOT, DatasetPaths
from common.rawstore import list_raw_items, read_raw_index
from scripts import clean_dataset, filter_dataset, import_text, prepare_data, stats, validate_raw
from scripts.filter_dataset import FilterConfig

DEEP_JSON = "[" * 100_000 + "]" * 100_000
BIG_INT = "1" * 5000
STORY = "Once upon a time a small fox walked to the river and listened to the water all afternoon.\n"


def one_line(text: str) -> str:
    """The text, checked to be a single line without a traceback."""
    assert "Traceback" not in text and text.strip().count("\n") == 0, text
    return text.strip()


# ----------------------------------------------------------------------------------------------- YAML bounds
def alias_bomb(levels: int = 9, width: int = 9, use: str = "filter: {{min_chars: {top}}}") -> str:
    """A valid profile whose filter setting is `width ** levels` values (387 million at 9 x 9) in 500 bytes;
    `use` places the top anchor elsewhere."""
    anchors = ["&a0 [" + ", ".join(["lol"] * width) + "]"]
    anchors += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "description: [" + ", ".join(anchors) + "]\n" + use.format(top=f"*a{levels - 1}") + "\n"


def test_yaml_alias_bomb_in_a_profile_fails_at_once_with_one_line(tmp_path):
    prof = tmp_path / "bomb.yaml"
    prof.write_text(alias_bomb())
    # Before the bound this ran for minutes at gigabytes; the timeout only stops a regression from hanging CI.
    res = subprocess.run([sys.executable, str(REPO_ROOT / "run.py"), "--dry-run", "--config", str(prof)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "expands to more than 200,000 values" in one_line(res.stderr)


@pytest.mark.parametrize("text, message", [
    ("a: &a [x, *a]\n", "recursive"),
    ("filter: {min_chars: " + "[" * 60 + "]" * 60 + "}\n", "nested more than 50 levels"),
    ("x: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
    (alias_bomb(6, 9), "expands to more than"),
    ("filter: {min_chars: " + BIG_INT + "}\n", "more than 4,300 digits"),
])
def test_yaml_beyond_the_bounds_is_refused(tmp_path, text, message):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    with pytest.raises(UserError) as err:
        resolve_config(FilterConfig, "filter", str(cfg), {})
    assert message in one_line(str(err.value)) and len(str(err.value)) < 300


def test_ordinary_anchors_and_merge_keys_still_work():
    data = parse_yaml("base: &b {min_chars: 5, languages: [en]}\nfilter: {<<: *b, max_chars: 900}\n")
    assert data["filter"] == {"min_chars": 5, "languages": ["en"], "max_chars": 900}


# ----------------------------------------------------------------------------------------------- numbers
@pytest.mark.parametrize("value", [".inf", "-.inf", "1.0e+400", ".nan", BIG_INT, "1e300"])
def test_int_setting_that_is_not_a_64_bit_number_is_a_one_line_error(tmp_path, value):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"filter: {{min_chars: {value}}}\n")
    with pytest.raises(UserError) as err:
        resolve_config(FilterConfig, "filter", str(cfg), {})
    msg = one_line(str(err.value))
    assert ("min_chars" in msg or "4,300 digits" in msg) and len(msg) < 300


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "1.0e+400"])
def test_float_setting_must_be_finite_in_yaml(tmp_path, value):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"filter: {{dedup_threshold: {value}}}\n")
    with pytest.raises(UserError, match="'dedup_threshold' must be a finite number"):
        resolve_config(FilterConfig, "filter", str(cfg), {})


def test_huge_values_are_cut_in_error_messages(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("filter: {min_chars: [" + ", ".join(["123456"] * 50_000) + "]}\n")
    with pytest.raises(UserError) as err:
        resolve_config(FilterConfig, "filter", str(cfg), {})
    assert "min_chars" in str(err.value) and len(str(err.value)) < 200


@pytest.mark.parametrize("flags, key", [
    (["--lr", "nan"], "lr"), (["--lr", "inf"], "lr"), (["--weight-decay", "nan"], "weight_decay"),
    (["--min-lr", "nan"], "min_lr"), (["--max-iters", BIG_INT], "max_iters"), (["--max-iters", "1e400"], "max_iters"),
])
def test_train_flags_with_non_finite_or_huge_numbers_are_refused(tmp_path, capsys, flags, key):
    from training import train
    code = train.main(["--dataset-dir", str(tmp_path), "--out-dir", str(tmp_path / "out"), *flags])
    assert code == 2 and f"'{key}'" in one_line(capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_train_section_with_nan_in_a_profile_is_refused(tmp_path, capsys):
    from training import train
    prof = tmp_path / "p.yaml"
    prof.write_text("train: {lr: .nan, weight_decay: .inf}\n")
    assert train.main(["--dataset-dir", str(tmp_path), "--config", str(prof)]) == 2
    assert "must be a finite number" in one_line(capsys.readouterr().err)


# ----------------------------------------------------------------------------------------------- JSON
def raw_files(paths: DatasetPaths) -> set[str]:
    return {p.relative_to(paths.raw).as_posix() for p in paths.raw.rglob("*") if p.is_file()}


def assert_store_consistent(paths: DatasetPaths) -> None:
    """Every raw file has exactly one index record and every record its file; no temp files are left."""
    records = [r["path"] for r in read_jsonl(paths.raw_index)]
    assert len(records) == len(set(records))
    assert raw_files(paths) == set(records)


def test_json_too_deep_or_with_a_5000_digit_number_is_skipped_with_a_reason(tmp_path, caplog):
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "good.txt").write_text(STORY)
    (inp / "deep.json").write_text(DEEP_JSON)
    (inp / "bigint.json").write_text(f'[{{"text": "a story", "n": {BIG_INT}}}]')
    lines = [json.dumps({"text": STORY + " (line)"}), DEEP_JSON, f'{{"text": "x", "n": {BIG_INT}}}',
             '{"text": "lone \\ud800 surrogate"}', json.dumps({"text": STORY, "id": [[[1]]], "url": {"a": 1}})]
    (inp / "lines.jsonl").write_text("\n".join(lines) + "\n")
    paths = DatasetPaths.at(tmp_path / "ds")
    assert import_text.main(["--dataset-dir", str(paths.root), str(inp)]) == 0
    log = caplog.text
    assert "deep.json: not usable JSON: JSON nested too deeply" in log
    assert "bigint.json: not usable JSON: a number of more than 4,300 digits" in log
    assert "lines.jsonl:2: not valid JSON" in log and "lines.jsonl:3: not valid JSON" in log
    assert "lines.jsonl[4]: text is not valid Unicode" in log
    assert len(list_raw_items(paths)) == 2  # good.txt and line 1 (line 5 repeats good.txt's text)
    assert_store_consistent(paths)


def test_hostile_ledger_and_index_lines_are_ignored_like_corrupt_ones(tmp_path, caplog):
    paths = DatasetPaths.at(tmp_path / "ds")
    inp = tmp_path / "a.txt"
    inp.write_text(STORY)
    assert import_text.main(["--dataset-dir", str(paths.root), str(inp)]) == 0
    hostile = (DEEP_JSON + "\n" + f'{{"path": "x.txt", "n": {BIG_INT}}}' + "\n").encode()
    with open(paths.raw_index, "ab") as f:
        f.write(hostile)
    append_jsonl(paths.raw_index, [])  # a later append still works
    assert validate_raw.main(["--dataset-dir", str(paths.root)]) == 0
    with open(paths.ledger("validate"), "ab") as f:
        f.write(hostile)
    assert filter_dataset.main(["--dataset-dir", str(paths.root), "--min-chars", "10"]) == 0
    assert clean_dataset.main(["--dataset-dir", str(paths.root)]) == 0
    assert len(list(paths.cleaned.rglob("*.txt"))) == 1
    assert "corrupt line ignored (JSON nested too deeply)" in caplog.text
    assert "corrupt line ignored (a number of more than 4,300 digits)" in caplog.text
    assert len(read_raw_index(paths)) == 1


def test_json_metadata_file_nested_too_deeply_is_a_value_error(tmp_path):
    meta = tmp_path / "meta.json"
    meta.write_text(DEEP_JSON)
    with pytest.raises(ValueError, match="nested too deeply"):
        read_json(meta)


# ----------------------------------------------------------------------------------------------- file names
def test_file_name_that_is_not_utf8_is_imported_without_orphans(tmp_path, capsys):
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "ok.txt").write_text(STORY)
    with open(os.path.join(os.fsencode(inp), b"caf\xe9 \xff.txt"), "wb") as f:  # Latin-1 bytes in the name
        f.write(STORY.replace("fox", "hare").encode())
    paths = DatasetPaths.at(tmp_path / "ds")
    argv = ["--dataset-dir", str(paths.root), str(inp)]
    assert import_text.main(argv) == 0
    assert "import: 2 added" in capsys.readouterr().out
    assert import_text.main(argv) == 0
    assert "import: 0 added, 2 unchanged" in capsys.readouterr().out
    assert_store_consistent(paths)
    record = next(r for r in read_jsonl(paths.raw_index) if r["doc_id"] != "ok")
    assert record["input"].endswith("caf\\xe9 \\xff.txt") and record["doc_id"] == "caf-xe9-xff"
    assert validate_raw.main(["--dataset-dir", str(paths.root)]) == 0
    assert "2 checked, 2 kept, 0 rejected, 0 missing" in capsys.readouterr().out


# ----------------------------------------------------------------------------------------------- disk full
def write_inputs(folder: Path, n: int) -> None:
    folder.mkdir()
    for i in range(n):
        (folder / f"story{i}.txt").write_text(f"{STORY} Story number {i}.\n")


def test_disk_full_while_writing_a_raw_file(tmp_path, monkeypatch, capsys):
    inp, paths = tmp_path / "in", DatasetPaths.at(tmp_path / "ds")
    write_inputs(inp, 5)
    real_write_bytes = pathlib.Path.write_bytes
    written = []

    def write_bytes(self, data):  # the disk fills up half-way through the third raw file
        if "/raw/" in str(self) and self.name.endswith(".tmp"):
            written.append(self)
            if len(written) >= 3:
                real_write_bytes(self, data[: len(data) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write_bytes(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", write_bytes)
    assert import_text.main(["--dataset-dir", str(paths.root), str(inp)]) == 1
    assert "No space left on device" in one_line(capsys.readouterr().err)
    assert_store_consistent(paths)  # the two finished files are indexed; the half-written one is gone
    assert len(raw_files(paths)) == 2
    monkeypatch.undo()
    assert import_text.main(["--dataset-dir", str(paths.root), str(inp)]) == 0
    assert "import: 3 added, 2 unchanged" in capsys.readouterr().out
    assert_store_consistent(paths)
    assert len(raw_files(paths)) == 5


def test_disk_full_while_appending_to_the_raw_index(tmp_path, monkeypatch, capsys):
    inp, paths = tmp_path / "in", DatasetPaths.at(tmp_path / "ds")
    write_inputs(inp, 5)
    real_fsync = os.fsync

    def fsync(fd):  # the index lines reach the file, but flushing them to disk fails
        if os.readlink(f"/proc/self/fd/{fd}").endswith("raw_index.jsonl"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    assert import_text.main(["--dataset-dir", str(paths.root), str(inp)]) == 1
    assert "No space left on device" in one_line(capsys.readouterr().err)
    assert raw_files(paths) == set() and not paths.raw_index.read_bytes()  # the whole batch is rolled back
    monkeypatch.undo()
    assert import_text.main(["--dataset-dir", str(paths.root), str(inp)]) == 0
    assert "import: 5 added" in capsys.readouterr().out
    assert_store_consistent(paths)


# ----------------------------------------------------------------------------------------------- --dataset-dir
def stage_mains():
    from scripts import evaluate, generate
    from training import train
    import run
    return {"import": lambda a: import_text.main(a + [str(REPO_ROOT / "README.md")]),
            "validate": validate_raw.main, "filter": filter_dataset.main, "clean": clean_dataset.main,
            "prepare": prepare_data.main, "stats": stats.main, "train": train.main, "evaluate": evaluate.main,
            "generate": generate.main, "run.py": lambda a: run.run_pipeline(a + ["--only", "validate"])}


@pytest.mark.parametrize("stage", ["import", "validate", "filter", "clean", "prepare", "stats", "train",
                                   "evaluate", "generate", "run.py"])
@pytest.mark.parametrize("below", [False, True])
def test_dataset_dir_naming_a_regular_file_is_a_one_line_error(tmp_path, capsys, stage, below):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    target = a_file / "ds" if below else a_file
    assert stage_mains()[stage](["--dataset-dir", str(target)]) == 2
    err = one_line(capsys.readouterr().err)
    assert "is a file" in err or "which is a file" in err
    assert a_file.read_text() == "not a folder"


# ----------------------------------------------------------------------------------------------- the lock
def test_readers_share_the_lock_and_writers_exclude_everyone(tmp_path):
    paths = DatasetPaths.at(tmp_path / "ds")
    paths.make_dirs()
    with dataset_lock(paths, write=False), dataset_lock(paths, write=False):  # train + evaluate together
        with pytest.raises(UserError, match="another run is using"):
            with dataset_lock(paths, write=True):
                pass
    with dataset_lock(paths, write=True):
        with pytest.raises(UserError, match="another run is using"):
            with dataset_lock(paths, write=False):
                pass


def test_alias_bomb_in_a_policy_file_is_refused(tmp_path):
    from corpus.content_policy import load_policy
    policy = tmp_path / "policy.yaml"
    policy.write_text(alias_bomb(use="rules: [{{name: x, groups: {top}}}]"))
    with pytest.raises(UserError, match="expands to more than"):
        load_policy(policy)
