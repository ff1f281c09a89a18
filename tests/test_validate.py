"""validate_raw: every reason code, tamper detection, raw never modified, huge files, odd names, idempotent ledger."""

import hashlib
import os
import tracemalloc
from datetime import datetime, timezone

import pytest

from common.fsio import append_jsonl, read_json, read_jsonl, sha256_bytes
from common.ledger import read_kept
from common.paths import DatasetPaths
from common.rawstore import RawStore, raw_name, read_raw_index
from scripts import validate_raw
from scripts.validate_raw import ValidateConfig, run, scan_file

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
GOOD = "The fox ran over the hill and found a quiet pond where the moon slept.\n"


def add_bytes(paths: DatasetPaths, source: str, doc_id: str, data: bytes, when: datetime = WHEN,
              record: bool = True) -> str:
    """Write raw bytes under a valid name, with an index record like RawStore writes (unless record=False)."""
    digest = sha256_bytes(data)
    name = raw_name(when, source, doc_id, digest)
    path = paths.raw / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if record:
        append_jsonl(paths.raw_index, [{"v": 1, "path": f"{source}/{name}", "source": source, "doc_id": doc_id,
                                        "time": "2026-01-02T03:04:05Z", "sha256": digest, "bytes": len(data)}])
    return f"{source}/{name[:-4]}"


def ledger_records(paths):
    return [r for r in read_jsonl(paths.ledger("validate")) if "item" in r]


def decisions(paths):
    return {r["item"]: r for r in ledger_records(paths)}


def raw_snapshot(paths):
    """Relative path -> (sha256, mtime_ns) of everything under raw/."""
    out = {}
    for p in sorted(paths.raw.rglob("*")):
        if p.is_file():
            out[p.relative_to(paths.raw).as_posix()] = (hashlib.sha256(p.read_bytes()).hexdigest(),
                                                        p.stat().st_mtime_ns)
    return out


@pytest.fixture
def paths(tmp_path):
    p = DatasetPaths.at(tmp_path / "ds")
    p.make_dirs()
    return p


def test_each_reason_code_on_a_crafted_raw_dir(paths):
    with RawStore(paths) as store:
        good, _ = store.add(GOOD, "t", "good", when=WHEN)
        big, _ = store.add(GOOD * 3, "t", "big", when=WHEN)
    binary = add_bytes(paths, "t", "nul", b"text\x00with a NUL byte")
    controls = add_bytes(paths, "t", "ctl", b"\x01\x02\x03\x1b" * 10 + b"some words")
    latin1 = add_bytes(paths, "t", "latin", "caf\u00e9 au lait".encode("latin-1"))
    empty = add_bytes(paths, "t", "empty", b"  \n\t\n")
    zero = add_bytes(paths, "t", "zero", b"")
    orphan = add_bytes(paths, "t", "orphan", GOOD.encode(), record=False)
    (paths.raw / "t" / "notes.txt").write_text(GOOD)
    cfg = ValidateConfig(max_bytes=len((GOOD * 2).encode()))
    counts = run(cfg, paths)
    got = decisions(paths)
    expected = {good: None, big: "too_large", binary: "binary", controls: "binary", latin1: "not_utf8",
                empty: "empty", zero: "empty", orphan: "no_index_record", "t/notes": "bad_name"}
    assert {i: r["reason"] for i, r in got.items()} == expected
    assert got[good]["keep"] and not any(r["keep"] for i, r in got.items() if i != good)
    assert got[latin1]["evidence"]["byte_offset"] == 3
    assert got[controls]["evidence"]["control_share"] > cfg.max_control_share
    assert counts == {"checked": 9, "kept": 1, "rejected": 8, "missing": 0}
    manifest = read_json(paths.manifest("validate"))
    assert manifest["counts"]["by_reason"] == {"bad_name": 1, "binary": 2, "empty": 2, "no_index_record": 1,
                                               "not_utf8": 1, "too_large": 1}
    logged = [r["item"] for r in read_jsonl(paths.rejected / "binary" / "validate.jsonl")]
    assert sorted(logged) == sorted([binary, controls])
    assert read_kept(paths, "validate") == [good]


def test_tampered_file_fails_via_main_after_writing_outputs(paths, capsys):
    with RawStore(paths) as store:
        first, _ = store.add(GOOD, "t", "a", when=WHEN)
        second, _ = store.add(GOOD + "more", "t", "b", when=WHEN)
    assert validate_raw.main(["--dataset-dir", str(paths.root)]) == 0
    with open(paths.raw_file(second), "ab") as f:
        f.write(b" edited by hand")
    capsys.readouterr()
    assert validate_raw.main(["--dataset-dir", str(paths.root)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1 raw file" in err[-1] and f"raw/{second}.txt" in err[-1]
    got = decisions(paths)
    assert got[second]["reason"] == "sha256_mismatch" and got[first]["keep"]
    assert [r["item"] for r in read_jsonl(paths.rejected / "sha256_mismatch" / "validate.jsonl")] == [second]
    assert read_json(paths.manifest("validate"))["counts"]["by_reason"] == {"sha256_mismatch": 1}
    assert read_kept(paths, "validate") == [first]


def test_raw_bytes_and_mtimes_unchanged_by_a_run(paths):
    with RawStore(paths) as store:
        store.add(GOOD, "t", "a", when=WHEN)
    add_bytes(paths, "t", "nul", b"\x00\x00")
    (paths.raw / "stray file.md").write_text("hello")
    with open(next((paths.raw / "t").glob("*__a__*.txt")), "ab") as f:
        f.write(b"tampered")
    before = raw_snapshot(paths)
    with pytest.raises(validate_raw.StageFailed):
        run(ValidateConfig(), paths)
    assert raw_snapshot(paths) == before


@pytest.mark.slow
def test_fifty_megabyte_single_line_file_is_too_large_with_flat_memory(paths):
    block = b"word " * 200_000  # 1 MB, no newline anywhere
    path = paths.raw / "t" / raw_name(WHEN, "t", "huge", "0" * 64)  # hash in name is not checked
    path.parent.mkdir(parents=True)
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(50):
            f.write(block)
            h.update(block)
    append_jsonl(paths.raw_index, [{"path": f"t/{path.name}", "source": "t", "sha256": h.hexdigest()}])
    tracemalloc.start()
    try:
        counts = run(ValidateConfig(), paths)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rec = decisions(paths)[f"t/{path.name[:-4]}"]
    assert rec["reason"] == "too_large" and rec["evidence"]["bytes"] == 50 * len(block)
    assert counts["rejected"] == 1
    assert peak < 8 * 2**20, f"peak traced memory {peak / 2**20:.1f} MiB for a 50 MB file"


def test_odd_names_do_not_crash_and_are_bad_names(paths):
    with RawStore(paths) as store:
        good, _ = store.add(GOOD, "t", "good", when=WHEN)
    t = paths.raw / "t"
    name = raw_name(WHEN, "t", "x", "a" * 64)
    (t / "with space.txt").write_text(GOOD)
    (t / "ünïcødé story.txt").write_text(GOOD)
    (t / "README").write_text(GOOD)
    (paths.raw / "loose.txt").write_text(GOOD)
    (t / "sub").mkdir()
    (t / "sub" / name).write_text(GOOD)
    (t / name.replace("__t__", "__other__")).write_text(GOOD)  # source field is not the folder
    (t / name.replace("__x__", "__my story__")).write_text(GOOD)  # doc id RawStore would never write
    (t / ".hidden.txt").write_text(GOOD)  # e.g. the temp file of an interrupted write: ignored
    (t / f".{name}.abc123.tmp").write_text(GOOD)
    (paths.raw / ".git").mkdir()
    (paths.raw / ".git" / "x.txt").write_text(GOOD)
    os.mkfifo(t / "pipe.txt")  # must not block
    undecodable = os.fsdecode(b"bad\xff.txt")
    (t / undecodable).write_text(GOOD)
    counts = run(ValidateConfig(), paths)
    got = decisions(paths)
    assert got[good]["keep"]
    bad = {i for i, r in got.items() if r["reason"] == "bad_name"}
    assert bad == set(got) - {good}
    assert counts == {"checked": 10, "kept": 1, "rejected": 9, "missing": 0}
    assert {"t/with space", "t/ünïcødé story", "t/README", "loose", "t/sub/" + name[:-4], "t/pipe",
            "t/bad\\xff"} <= bad
    assert not any("hidden" in i or ".tmp" in i or ".git" in i for i in got)
    assert read_kept(paths, "validate") == [good]


def test_missing_dataset_dir_is_one_line_exit_2(tmp_path, capsys):
    assert validate_raw.main(["--dataset-dir", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dataset folder not found" in err[0]


def test_deleted_raw_file_is_counted_missing_not_rejected(paths):
    with RawStore(paths) as store:
        a, _ = store.add(GOOD, "t", "a", when=WHEN)
        b, _ = store.add(GOOD + "!", "t", "b", when=WHEN)
    paths.raw_file(a).unlink()
    counts = run(ValidateConfig(), paths)
    assert counts == {"checked": 1, "kept": 1, "rejected": 0, "missing": 1}
    assert a not in decisions(paths)
    assert read_json(paths.manifest("validate"))["missing_items"] == [a]


def test_second_run_leaves_ledger_untouched_and_config_change_rewrites_it(paths):
    with RawStore(paths) as store:
        items = [store.add(GOOD * (i + 1), "t", f"s{i}", when=WHEN)[0] for i in range(4)]
    add_bytes(paths, "t", "empty", b"")
    run(ValidateConfig(), paths)
    ledger = paths.ledger("validate")
    st1, data1 = ledger.stat(), ledger.read_bytes()
    header = next(read_jsonl(ledger))
    assert header["header"] is True and header["stage"] == "validate" and header["v"] == 1
    run(ValidateConfig(), paths)
    st2 = ledger.stat()
    assert (st2.st_ino, st2.st_mtime_ns) == (st1.st_ino, st1.st_mtime_ns) and ledger.read_bytes() == data1
    assert read_kept(paths, "validate") == items  # arrival order
    run(ValidateConfig(max_bytes=len(GOOD.encode()) * 2), paths)
    assert next(read_jsonl(ledger))["config"] != header["config"]
    assert read_kept(paths, "validate") == items[:2]


def test_scan_file_streams_utf8_across_chunk_boundaries(tmp_path):
    f = tmp_path / "x.txt"
    f.write_bytes("héllo wörld ✓".encode())
    scan = scan_file(f, chunk=1)  # every multi-byte character is split across reads
    assert scan["bad_utf8_at"] is None and scan["chars"] == len("héllo wörld ✓") and scan["has_text"]
    assert scan["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    f.write_bytes(b"ok \xe2\x9c")  # ends inside a 3-byte character
    assert scan_file(f, chunk=2)["bad_utf8_at"] == 3
    f.write_bytes(b"abcd\xffef")
    assert scan_file(f, chunk=3)["bad_utf8_at"] == 4


def test_config_mistakes_are_user_errors(paths, capsys):
    assert validate_raw.main(["--dataset-dir", str(paths.root), "--max-control-share", "2"]) == 2
    assert "max_control_share" in capsys.readouterr().err


def test_index_records_survive_in_raw_index(paths):
    """The stage reads the index but never appends to it."""
    with RawStore(paths) as store:
        store.add(GOOD, "t", "a", when=WHEN)
    before = paths.raw_index.read_bytes()
    run(ValidateConfig(), paths)
    assert paths.raw_index.read_bytes() == before and len(read_raw_index(paths)) == 1
