"""scripts/chat.py: the terminal loop with a real tiny model and a real database (messages, every /command,
sessions across runs), and the command itself from a checkpoint on disk (one-line errors, --dry-run)."""

import io
import json

from assistant.store import MemoryStore
from scripts import chat as chat_cmd
from tests.test_chat_assistant import save_tiny_checkpoint, tiny_assistant


def run_loop(db, lines):
    out = io.StringIO()
    with MemoryStore(db) as st:
        answered = chat_cmd.chat_loop(tiny_assistant(), st, [line + "\n" for line in lines], out)
    return answered, out.getvalue()


def test_the_loop_answers_keeps_everything_and_runs_every_command(tmp_path):
    db = tmp_path / "me.db"
    answered, text = run_loop(db, ["My cat is called Tom.", "", "I live in Ashford.", "/history", "/sessions"])
    assert answered == 2 and text.count("bot> ") == 2
    assert "user: My cat is called Tom." in text and "s1  4 messages" in text and "(current)" in text
    with MemoryStore(db) as st:
        assert [m.content for m in st.messages("s1") if m.role == "user"] == ["My cat is called Tom.",
                                                                            "I live in Ashford."]
        assert "Tom" in st.summaries("s1")[0].summary  # the finished session was summarized
    export = tmp_path / "out.jsonl"
    answered, text = run_loop(db, ["/forget cat Tom", f"/export {export}", "/new", "/nonsense", "/quit",
                                   "never read"])
    assert answered == 0 and "(forgot 1 messages" in text and "(new session s3)" in text and "commands:" in text
    records = [json.loads(x) for x in export.read_text(encoding="utf-8").splitlines()]
    assert [r["type"] for r in records][:1] == ["header"]
    assert not any("Tom" in r.get("content", "") + r.get("summary", "") for r in records)
    with MemoryStore(db) as st:
        assert [s.id for s in st.sessions()] == ["s1", "s2", "s3"]
        assert st.audit_log()[0][1] == "forget_query"
    other = tmp_path / "copy.db"
    _, text = run_loop(other, [f"/import {export}", "/sessions", "/import /no/such/file.jsonl", "/forget session s1-2",
                               "/forget", "/forget all"])
    assert "(imported 3 messages in 2 sessions)" in text and "s1-2" in text
    assert "(error: cannot read /no/such/file.jsonl" in text
    assert "(forgot session s1-2: 3 messages)" in text and "usage: /forget" in text
    assert "(forgot 0 messages in 2 sessions" in text
    with MemoryStore(other) as st:
        assert st.messages() == []


def test_the_command_from_a_checkpoint_on_disk(tmp_path, capsys):
    ckpt = save_tiny_checkpoint(tmp_path / "run" / "last.safetensors")
    out = io.StringIO()
    rc = chat_cmd.main(["--checkpoint", str(ckpt), "--max-new-tokens", "5"], io.StringIO("hello there\n"), out)
    assert rc == 0 and "bot> " in out.getvalue()
    with MemoryStore(tmp_path / "run" / "memory.db") as st:  # the default database beside the checkpoint
        assert [m.content for m in st.messages()][:1] == ["hello there"]
    assert chat_cmd.main(["--checkpoint", str(ckpt), "--db", str(tmp_path)], io.StringIO(""), io.StringIO()) == 2
    assert "is a folder" in capsys.readouterr().err
    assert chat_cmd.main(["--checkpoint", str(ckpt), "--temperature", "-1"], io.StringIO(""), io.StringIO()) == 2
    assert chat_cmd.main(["--checkpoint", str(tmp_path / "none")], io.StringIO(""), io.StringIO()) == 2
    err = capsys.readouterr().err
    assert "temperature must be in [0, 2]" in err and err.count("\n") == 2 and "Traceback" not in err
    assert chat_cmd.main(["--checkpoint", str(ckpt), "--copy-weight", "-1"], io.StringIO(""), io.StringIO()) == 2
    err = capsys.readouterr().err
    assert "copy_weight must be in [0, 100], got -1.0" in err and "Traceback" not in err
    out = io.StringIO()
    assert chat_cmd.main(["--dry-run", "--top-k", "3", "--copy-weight", "0"], io.StringIO(""), out) == 0
    shown = json.loads(out.getvalue().splitlines()[1])
    assert shown["top_k"] == 3 and shown["copy_weight"] == 0


def test_dense_retrieval_embeds_what_is_said(tmp_path):
    ckpt = save_tiny_checkpoint(tmp_path / "run" / "last.safetensors")
    db = tmp_path / "dense.db"
    turns = io.StringIO("my cat is called Tom\nwhat is my cat called\n")
    assert chat_cmd.main(["--checkpoint", str(ckpt), "--db", str(db), "--max-new-tokens", "3",
                          "--dense-retrieval"], turns, io.StringIO()) == 0
    with MemoryStore(db) as st:
        assert st.embedded_count() >= 3  # both questions and the first reply, before the replies that follow
    db2 = tmp_path / "plain.db"
    assert chat_cmd.main(["--checkpoint", str(ckpt), "--db", str(db2), "--max-new-tokens", "3"],
                         io.StringIO("hello\n"), io.StringIO()) == 0
    with MemoryStore(db2) as st:
        assert st.embedded_count() == 0  # off by default
