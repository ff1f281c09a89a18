"""Shared helpers: crash-safe files, config precedence and errors, raw-store naming and orphan adoption, ledgers."""

import dataclasses
import json
import sys
from datetime import datetime, timezone

import pytest

from common.config import (UserError, build_config, fingerprint, opt, resolve_config, stage_section)
import common.fsio
from common.fsio import (append_jsonl, atomic_write_bytes, atomic_write_text, read_jsonl, repair_torn_tail,
                         sha256_file, sync_filesystem)
from common.ledger import FLUSH_EVERY, Ledger, read_kept, write_rejections
from common.paths import DatasetPaths
from common.rawstore import (RawStore, list_raw_items, parse_raw_name, raw_name, read_raw_index, safe_doc_id,
                             safe_source)


@dataclasses.dataclass
class DemoConfig:
    min_chars: int = opt(200, "shortest kept text")
    ratio: float = opt(0.5, "a share")
    enabled: bool = opt(True, "switch")
    langs: list[str] = opt(["en"], "languages")
    name: str | None = opt(None, "optional name")


# ---------------------------------------------------------------- fsio

def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "f.txt"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second ünïcode")
    assert target.read_text(encoding="utf-8") == "second ünïcode"
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]


def test_unsynced_atomic_write_then_one_filesystem_flush(tmp_path, monkeypatch):
    target = tmp_path / "sub" / "g.txt"
    atomic_write_bytes(target, b"old")
    monkeypatch.setattr(common.fsio.os, "fsync", lambda fd: pytest.fail("fsync=False must not fsync"))
    atomic_write_bytes(target, b"new bytes", fsync=False)
    assert target.read_bytes() == b"new bytes" and [p.name for p in target.parent.iterdir()] == ["g.txt"]
    monkeypatch.undo()
    assert (common.fsio._syncfs() is not None) == sys.platform.startswith("linux")
    sync_filesystem(target.parent)  # Linux: syncfs on the real filesystem
    flushed = []
    monkeypatch.setattr(common.fsio, "_syncfs", lambda: None)  # no syncfs: every filesystem instead
    monkeypatch.setattr(common.fsio.os, "sync", lambda: flushed.append(True))
    sync_filesystem(target.parent)
    assert flushed == [True]


def test_read_jsonl_ignores_torn_last_line_and_append_repairs_it(tmp_path):
    log = tmp_path / "log.jsonl"
    append_jsonl(log, [{"a": 1}, {"a": 2}])
    with open(log, "ab") as f:
        f.write(b'{"a": 3, "tor')  # a kill mid-append
    assert [r["a"] for r in read_jsonl(log)] == [1, 2]
    append_jsonl(log, [{"a": 4}])
    assert [r["a"] for r in read_jsonl(log)] == [1, 2, 4]
    assert log.read_bytes().count(b"\n") == 3


def test_repair_torn_tail_of_a_file_without_any_newline(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_bytes(b'{"half')
    repair_torn_tail(log)
    assert log.read_bytes() == b""
    assert list(read_jsonl(tmp_path / "missing.jsonl")) == []


def test_sha256_file_matches_hashlib(tmp_path):
    import hashlib
    data = b"x" * 3_000_000
    (tmp_path / "big").write_bytes(data)
    assert sha256_file(tmp_path / "big") == hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- config

def test_config_precedence_defaults_then_file_then_flags(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("min_chars: 50\nratio: 0.25\n")
    cfg = resolve_config(DemoConfig, "filter", str(cfg_file), {"ratio": 0.75})
    assert (cfg.min_chars, cfg.ratio, cfg.enabled, cfg.langs) == (50, 0.75, True, ["en"])


def test_profile_sections_pick_the_stage(tmp_path):
    prof = tmp_path / "p.yaml"
    prof.write_text("stages: [filter]\nfilter:\n  min_chars: 10\nclean: {}\n")
    assert resolve_config(DemoConfig, "filter", str(prof), {}).min_chars == 10
    assert resolve_config(DemoConfig, "validate", str(prof), {}).min_chars == 200


@pytest.mark.parametrize("yaml_text, message", [
    ("min_chrs: 5\n", "unknown key 'min_chrs'"),
    ("min_chars: lots\n", "must be int"),
    ("min_chars: 2.5\n", "whole number"),
    ("enabled: maybe\n", "true or false"),
    ("langs: {a: 1}\n", "must be a list"),
    ("filter: {}\nfiltre: {}\n", "unknown section 'filtre'"),
    ("min_chars: [\n", "not valid YAML"),
    ("- a\n- b\n", "must hold a mapping"),
])
def test_config_mistakes_are_one_line_user_errors(tmp_path, yaml_text, message):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(yaml_text)
    with pytest.raises(UserError) as err:
        resolve_config(DemoConfig, "filter", str(cfg_file), {})
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_key_error_lists_valid_keys():
    with pytest.raises(UserError, match="valid keys: enabled, langs, min_chars, name, ratio"):
        build_config(DemoConfig, {"nope": 1})


def test_missing_config_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="config file not found"):
        resolve_config(DemoConfig, "filter", str(tmp_path / "absent.yaml"), {})


def test_coercion_and_fingerprint():
    cfg = build_config(DemoConfig, {"min_chars": "7", "enabled": "no", "langs": "fr", "name": None})
    assert (cfg.min_chars, cfg.enabled, cfg.langs, cfg.name) == (7, False, ["fr"], None)
    assert fingerprint(cfg) == fingerprint(build_config(DemoConfig, {"min_chars": 7, "enabled": False,
                                                                     "langs": ["fr"]}))
    assert fingerprint(cfg) != fingerprint(DemoConfig())
    assert stage_section({"min_chars": 3}, "filter") == {"min_chars": 3}


# ---------------------------------------------------------------- raw store

def test_safe_names_keep_double_underscore_as_separator():
    assert safe_source("My Books__2") == "my-books_2"
    assert "__" not in safe_doc_id("a__b c/d")
    assert safe_doc_id("../../etc/passwd") == "etc-passwd"
    assert safe_doc_id("") == "doc"
    name = raw_name(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "web", "my_doc.v2", "ab" * 32)
    assert name == "20260102_030405__web__my_doc.v2__abababababab.txt"
    assert parse_raw_name(name) == {"time": "20260102_030405", "source": "web", "doc_id": "my_doc.v2",
                                    "hash": "abababababab"}
    assert parse_raw_name("notes.txt") is None


def test_raw_store_adds_once_per_source_and_records_provenance(tmp_path):
    paths = DatasetPaths.at(tmp_path / "ds")
    with RawStore(paths) as store:
        item, added = store.add("Once upon a time.", "web", "p1", url="http://x/1", title="T")
        assert added
        assert store.add("Once upon a time.", "web", "p2") == (item, False)
        _, added_other_source = store.add("Once upon a time.", "books", "p1")
        assert added_other_source
    index = read_raw_index(paths)
    rec = index[item]
    assert rec["url"] == "http://x/1" and rec["title"] == "T" and rec["chars"] == 17
    assert rec["sha256"] == sha256_file(paths.raw_file(item))
    assert len(list_raw_items(paths)) == 2
    assert RawStore(paths).contains("web", "Once upon a time.")


def test_raw_store_adopts_orphan_left_by_a_kill_between_file_and_index(tmp_path):
    paths = DatasetPaths.at(tmp_path / "ds")
    early = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with RawStore(paths) as store:
        item, _ = store.add("Story text.", "s", "d1", when=early)
    paths.raw_index.unlink()  # as if the index append never happened
    with RawStore(paths) as store:
        again, added = store.add("Story text.", "s", "d1")  # now: a later clock
    assert added and again == item  # same file, original time kept
    assert len(list((paths.raw / "s").iterdir())) == 1
    assert read_raw_index(paths)[item]["time"] == "2026-01-01T00:00:00Z"


# ---------------------------------------------------------------- ledger

def test_ledger_resumes_and_restarts_on_config_change(tmp_path):
    paths = DatasetPaths.at(tmp_path / "ds")
    with Ledger(paths.ledger("filter"), "filter", "fp1") as led:
        led.decide("s/20260101_000000__s__a__000000000000", True)
        led.decide("s/20260101_000001__s__b__000000000000", False, "too_short", {"chars": 3})
    resumed = Ledger(paths.ledger("filter"), "filter", "fp1")
    assert len(resumed.decisions) == 2
    assert read_kept(paths, "filter") == ["s/20260101_000000__s__a__000000000000"]
    assert Ledger(paths.ledger("filter"), "filter", "fp2").decisions == {}
    assert read_kept(paths, "filter") == []


def test_ledger_before_flush_sees_each_batch_before_it_is_appended(tmp_path):
    paths = DatasetPaths.at(tmp_path / "ds")
    path = paths.ledger("clean")
    seen = []

    def before(records):  # what the hook sees is not yet on disk
        on_disk = [r.get("item") for r in read_jsonl(path)]
        seen.append(([r["item"] for r in records], on_disk))

    with Ledger(path, "clean", "fp", before_flush=before) as led:
        for i in range(FLUSH_EVERY + 1):
            led.decide(f"s/{i:04d}", True)
    first, second = seen
    assert first == ([f"s/{i:04d}" for i in range(FLUSH_EVERY)], [None])
    assert second == ([f"s/{FLUSH_EVERY:04d}"], [None] + first[0])
    assert len(Ledger(path, "clean", "fp").decisions) == FLUSH_EVERY + 1


def test_ledger_appends_nothing_when_before_flush_fails(tmp_path):
    paths = DatasetPaths.at(tmp_path / "ds")

    def fail(records):
        raise OSError("disk gone")

    led = Ledger(paths.ledger("clean"), "clean", "fp", before_flush=fail)
    led.decide("s/a", True)
    with pytest.raises(OSError):
        led.flush()
    assert Ledger(paths.ledger("clean"), "clean", "fp").decisions == {}


def test_rejections_are_rewritten_and_stale_reasons_removed(tmp_path):
    paths = DatasetPaths.at(tmp_path / "ds")
    decisions = [{"item": "s/b", "keep": False, "reason": "too_short", "evidence": {"chars": 3}},
                 {"item": "s/a", "keep": False, "reason": "too_short"},
                 {"item": "s/c", "keep": True, "reason": None}]
    assert write_rejections(paths, "filter", decisions) == {"too_short": 2}
    lines = (paths.rejected / "too_short" / "filter.jsonl").read_text().splitlines()
    assert [json.loads(x)["item"] for x in lines] == ["s/a", "s/b"]
    assert json.loads(lines[1])["evidence"] == {"chars": 3}
    write_rejections(paths, "filter", decisions[2:])
    assert not (paths.rejected / "too_short").exists()


def test_environment_overrides_default_folders(tmp_path, monkeypatch):
    from common import paths
    monkeypatch.delenv(paths.DATASET_ENV, raising=False)
    monkeypatch.delenv(paths.OUT_ENV, raising=False)
    assert paths.DatasetPaths.at(None).root == paths.DEFAULT_DATASET_DIR
    assert paths.training_out_dir() == paths.TRAINING_OUT_DIR
    monkeypatch.setenv(paths.DATASET_ENV, str(tmp_path / "ds"))
    monkeypatch.setenv(paths.OUT_ENV, str(tmp_path / "out"))
    assert paths.DatasetPaths.at(None).root == tmp_path / "ds"
    assert paths.DatasetPaths.at(tmp_path / "other").root == tmp_path / "other"  # an explicit folder wins
    assert paths.training_out_dir() == tmp_path / "out"


def test_snake_case_flags_are_accepted_like_nanogpt(tmp_path):
    import argparse
    from dataclasses import dataclass
    from common.config import add_config_flags, flag_overrides, opt

    @dataclass
    class Cfg:
        max_new_tokens: int = opt(5, "how many")
        stop_at_eot: bool = opt(True, "stop")

    p = argparse.ArgumentParser()
    add_config_flags(p, Cfg)
    assert flag_overrides(p.parse_args(["--max_new_tokens", "7", "--no-stop-at-eot"])) == \
        {"max_new_tokens": "7", "stop_at_eot": False}
    assert flag_overrides(p.parse_args(["--max-new-tokens", "9"])) == {"max_new_tokens": "9"}
