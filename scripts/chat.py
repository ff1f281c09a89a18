"""Chat in the terminal with a trained chat model that remembers earlier sessions.

Every message is kept in an SQLite memory database (`--db`, assistant/store.py); each reply is written from the
recent turns plus the stored messages and session summaries that best match your message (assistant/retrieval.py).
Each start of this command is a new session; the previous one is summarized. Replies stream as they are
written. Your message is saved before the reply starts, so stopping at any moment loses nothing you sent.

Commands (a line starting with /):
    /new                 start a new session
    /sessions            list the sessions with their message counts
    /history             this session's messages
    /forget all          forget everything (an audit line records the counts, never the text)
    /forget session ID   forget one session
    /forget WORDS        forget every message containing all these words
    /export FILE         write everything to a JSON-lines file (`/import FILE` reads one back)
    /quit                leave (also Ctrl-D)

**Reads:** the checkpoint; the memory database. Nothing under dataset/.
**Writes:** the memory database (`--db`); files named in /export.
**Usage:**
    python scripts/chat.py --checkpoint training/out/chat --db my-memory.db
    python scripts/chat.py --db my-memory.db --temperature 0.7 --max-new-tokens 80
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, TextIO


from assistant.chat_options import ChatOptions
from assistant.orchestrator import Assistant, close_session, settings_for
from assistant.session_summary import summarize_session
from assistant.store import MemoryStore, StoreError
from assistant.store_export import export_records, import_records
from common.cli import build_parser, setup_logging
from common.config import UserError, config_dict, flag_overrides, opt, resolve_config
from common.fsio import atomic_write_bytes, dumps_json

STAGE = "chat"
PROMPT = "you> "


@dataclass
class ChatConfig(ChatOptions):
    db: str = opt("", "memory database file, created when missing (default: memory.db in the checkpoint's "
                      "run folder)")
    max_new_tokens: int = opt(0, "longest reply, in tokens (0 = the reply budget the checkpoint was trained "
                                 "with, else 48)")


def settings_of(cfg: ChatConfig) -> dict:
    """The ChatSettings this command sets over the checkpoint's own (orchestrator.settings_for)."""
    cfg.check_options()
    if cfg.max_new_tokens < 0:
        raise UserError("max_new_tokens must be >= 0")
    return cfg.sampling_overrides() | ({"max_new_tokens": cfg.max_new_tokens} if cfg.max_new_tokens else {})


def command(store: MemoryStore, session: str, line: str, out: TextIO) -> str | None:
    """Run one /command; return the session to continue in, or None to quit."""
    name, _, arg = line[1:].strip().partition(" ")
    arg = arg.strip()
    if name in ("quit", "exit"):
        return None
    if name == "new":
        close_session(store, session)
        session = store.new_session()
        out.write(f"(new session {session})\n")
    elif name == "sessions":
        for s in store.sessions():
            out.write(f"{s.id}  {s.messages} messages  started {s.created_at[:16]}"
                      f"{'  (current)' if s.id == session else ''}\n")
    elif name == "history":
        for m in store.messages(session):
            out.write(f"{m.role}: {m.content}\n")
    elif name == "forget":
        if arg == "all":
            counts = store.forget_all()
            session = store.new_session()
            out.write(f"(forgot {counts['messages']} messages in {counts['sessions']} sessions; "
                      f"new session {session})\n")
        elif arg.startswith("session "):
            target = arg.split(None, 1)[1]
            report = store.forget_session(target, summarize_session)
            if target == session:
                session = store.new_session()
            out.write(f"(forgot session {target}: {report['messages']} messages)\n")
        elif arg:
            report = store.forget_matching(arg, summarize_session)
            out.write(f"(forgot {report['messages']} messages; {report['summaries_rebuilt']} summaries rebuilt)\n")
        else:
            out.write("usage: /forget all | /forget session ID | /forget WORDS\n")
    elif name == "export" and arg:
        lines = "".join(dumps_json(r) + "\n" for r in export_records(store))
        atomic_write_bytes(Path(arg).expanduser(), lines.encode("utf-8"))
        out.write(f"(exported to {arg})\n")
    elif name == "import" and arg:
        try:
            text = Path(arg).expanduser().read_text(encoding="utf-8")
            records = [json.loads(x) for x in text.splitlines() if x.strip()]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise StoreError(f"cannot read {arg}: {e}") from None
        counts = import_records(store, records)
        out.write(f"(imported {counts['messages']} messages in {counts['sessions']} sessions)\n")
    else:
        out.write("commands: /new /sessions /history /forget /export FILE /import FILE /quit\n")
    return session


def chat_loop(assistant: Assistant, store: MemoryStore, lines: Iterable[str], out: TextIO) -> int:
    """Read messages and /commands from `lines` until they end or /quit; returns the messages answered."""
    previous = store.sessions()
    if previous:
        close_session(store, previous[-1].id)
    session = store.new_session()
    answered = 0
    out.write(PROMPT)
    out.flush()
    for line in lines:
        line = line.strip()
        try:
            if line.startswith("/"):
                after = command(store, session, line, out)
                if after is None:
                    break
                session = after
            elif line:
                out.write("bot> ")
                for piece in assistant.respond(store, session, line):
                    out.write(piece)
                    out.flush()
                out.write("\n")
                answered += 1
        except StoreError as e:
            out.write(f"(error: {e})\n")
        out.write(PROMPT)
        out.flush()
    out.write("\n")
    if store.has_session(session):
        close_session(store, session)
    return answered


def main(argv: list[str] | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    parser = build_parser("chat.py", __doc__, ChatConfig)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    out = stdout or sys.stdout
    try:
        cfg = resolve_config(ChatConfig, STAGE, args.config, flag_overrides(args))
        settings = settings_of(cfg)
        if args.dry_run:
            print(f"chat.py: dry run\n{dumps_json(config_dict(cfg))}", file=out)
            return 0
        path, lm, embedder = cfg.load()
        db = Path(cfg.db).expanduser() if cfg.db else path.parent / "memory.db"
        with MemoryStore(db) as store:
            out.write(f"chat.py: {path} with memory {db} (/quit to leave, / for commands)\n")
            chat_loop(Assistant(lm, settings_for(lm, **settings), embedder), store, stdin or sys.stdin, out)
        return 0
    except (UserError, StoreError) as e:
        print(f"chat.py: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nchat.py: bye (everything you sent is saved)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
