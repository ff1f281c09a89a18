"""bench/chat.py end to end on a tiny checkpoint: every part runs and reports its figures (recall with and
without memory, the fact in the prompt, latency, retrieval time and database size)."""

import json

from bench import chat as bench_chat
from tests.test_chat_assistant import save_tiny_checkpoint


def test_bench_chat_reports_every_figure(tmp_path, capsys):
    ckpt = save_tiny_checkpoint(tmp_path / "run" / "last.safetensors")
    out = tmp_path / "chat.json"
    assert bench_chat.main(["--checkpoint", str(ckpt), "--probes", "2", "--distances", "1", "3", "--sizes", "150",
                            "400", "--latency-replies", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    text = capsys.readouterr().out
    assert set(report["recall"]) == {"1", "3"}
    for r in report["recall"].values():
        assert r["probes"] == 2 and 0 <= r["with_memory"] <= 1 and 0 <= r["without_memory"] <= 1
        assert 0 <= r["in_prompt"] <= 1
    assert report["latency"]["replies"] == 2 and report["latency"]["p50_s"] > 0
    sizes = report["retrieval"]
    assert sizes["150"]["messages"] >= 150 and sizes["400"]["messages"] >= 400
    assert sizes["400"]["retrieve_ms"] > 0 and sizes["400"]["db_kb_per_1k_messages"] > 0
    assert "targets (issue 13)" in text


def test_bench_chat_dense_reports_both_rankings(tmp_path, capsys):
    ckpt = save_tiny_checkpoint(tmp_path / "run" / "last.safetensors")
    out = tmp_path / "chat.json"
    assert bench_chat.main(["--checkpoint", str(ckpt), "--dense", "--probes", "2", "--distances", "2", "--sizes",
                            "200", "--skip", "latency", "--json", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(report["recall"]) == set(report["recall_dense"]) == {"2"}
    assert 0 <= report["recall_dense"]["2"]["in_prompt"] <= 1
    dense = report["retrieval_dense"]["200"]
    assert dense["messages"] >= 200 and dense["retrieve_ms"] > 0
    # every stored message got a vector of the model's width (128 floats of 4 bytes): the file is larger
    assert dense["db_kb_per_1k_messages"] > report["retrieval"]["200"]["db_kb_per_1k_messages"]
    assert "BM25 + dense vectors" in capsys.readouterr().out
