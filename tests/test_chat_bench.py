"""bench/chat.py end to end on a tiny checkpoint: every part runs and reports its figures (recall with and
without memory, the fact in the prompt, latency, retrieval time and database size)."""

import json

from bench import chat as bench_chat
from tests.test_chat_assistant import save_tiny_checkpoint


def test_bench_chat_reports_every_figure(tmp_path, capsys):
    ckpt = save_tiny_checkpoint(tmp_path / "run" / "last.safetensors")
    out = tmp_path / "chat.json"
    assert bench_chat.main(["--checkpoint", str(ckpt), "--probes", "2", "--distances", "1", "3", "--sizes", "150",
                            "400", "--users", "2", "--latency-replies", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    text = capsys.readouterr().out
    assert set(report["recall"]) == {"1", "3"}
    for r in report["recall"].values():
        assert r["probes"] == 2 and 0 <= r["with_memory"] <= 1 and 0 <= r["without_memory"] <= 1
        assert 0 <= r["in_prompt"] <= 1
    q = report["questions"]
    assert q["users"] == 2 and q["asked"] > 0 and 0 <= q["right"] <= q["asked"] and 0 <= q["recall"] <= 1
    assert report["latency"]["replies"] == 2 and report["latency"]["p50_s"] > 0
    sizes = report["retrieval"]
    assert sizes["150"]["messages"] >= 150 and sizes["400"]["messages"] >= 400
    assert sizes["400"]["retrieve_ms"] > 0 and sizes["400"]["db_kb_per_1k_messages"] > 0
    assert "targets (issue 13)" in text


def test_bench_chat_dense_reports_both_rankings(tmp_path, capsys):
    ckpt = save_tiny_checkpoint(tmp_path / "run" / "last.safetensors")
    out = tmp_path / "chat.json"
    assert bench_chat.main(["--checkpoint", str(ckpt), "--dense", "--probes", "2", "--distances", "2", "--sizes",
                            "200", "--skip", "latency", "questions", "--json", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(report["recall"]) == set(report["recall_dense"]) == {"2"}
    assert 0 <= report["recall_dense"]["2"]["in_prompt"] <= 1
    dense = report["retrieval_dense"]["200"]
    assert dense["messages"] >= 200 and dense["retrieve_ms"] > 0
    # every stored message got a vector of the model's width (128 floats of 4 bytes): the file is larger
    assert dense["db_kb_per_1k_messages"] > report["retrieval"]["200"]["db_kb_per_1k_messages"]
    assert "BM25 + dense vectors" in capsys.readouterr().out


class _Echo:
    """Stands in for the assistant: replies with a fixed text and stores the turn as the real one does."""

    def __init__(self, text: str):
        self.text = text

    def respond(self, store, session_id, text):
        store.add_message(session_id, "user", text)
        store.add_message(session_id, "assistant", self.text)
        yield self.text


def test_own_questions_counts_by_kind():
    # "I don't know" answers every question about a fact never told and no other
    r = bench_chat.own_questions(_Echo("Sorry, I don't know that."), 4, 1234)
    assert r["asked"] > 0 and r["after_correction"] > 0 and r["never_told"] > 0
    assert r["right"] == r["corrected_right"] == r["corrected_old"] == 0
    assert r["never_told_right"] == r["never_told"] and r["never_told_recall"] == 1.0
    assert r["recall"] == r["corrected_recall"] == 0.0


def test_own_questions_scores_a_reply_naming_the_value():
    # a reply that names every value any user could have counts as right everywhere, never as the old value
    from demo.dialogues import KEYS, value_pool
    everything = " ".join(v for key in KEYS for rel in ("sister", "brother") for v in value_pool(key, rel))
    r = bench_chat.own_questions(_Echo(everything), 3, 1234)
    assert r["right"] == r["asked"] > 0 and r["corrected_right"] == r["after_correction"] > 0
    assert r["corrected_old"] == 0 and r["recall"] == 1.0
