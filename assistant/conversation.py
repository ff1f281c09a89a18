"""What the chat server does with a user's store: match a client's conversation to a stored session, run the
turn (`Reply`), show the history, forget.

OpenAI-style clients send the whole conversation with every request and never say which session it is. The
server keeps only what is new: when the latest stored session holds exactly the request's earlier messages, the
new message continues it; otherwise the client started over (or talked elsewhere), so the latest session is
closed (summarized) and a new one holds the earlier messages, which were said even if this server never saw them.
"""

from __future__ import annotations

from pathlib import Path

from assistant.orchestrator import EMPTY_REPLY, Assistant, close_session
from assistant.openai_api import ChatRequest
from assistant.session_summary import summarize_session
from assistant.store import MemoryStore, StoreError

TURN_ROLES = ("user", "assistant")


def db_path(db_dir: Path, user: str) -> Path:
    """The memory file of a checked user name (assistant.openai_api.check_user)."""
    return Path(db_dir) / f"{user}.db"


def session_turns(store: MemoryStore, session_id: str) -> list[tuple[str, str]]:
    """(role, stripped text) of a session's user and assistant messages."""
    return [(m.role, m.content.strip()) for m in store.messages(session_id) if m.role in TURN_ROLES]


def sync_session(store: MemoryStore, earlier: list[tuple[str, str]]) -> str:
    """The session the next message belongs to: the latest one when it holds exactly `earlier` (roles, and texts
    compared stripped: a streamed reply may differ from the stored one by surrounding spaces), else a new session
    holding `earlier`, after the latest one is closed."""
    sessions = store.sessions()
    if sessions:
        latest = sessions[-1].id
        if session_turns(store, latest) == [(role, text.strip()) for role, text in earlier]:
            return latest
        close_session(store, latest)
    session_id = store.new_session()
    for role, text in earlier:
        store.add_message(session_id, role, text)
    return session_id


def history(db_dir: Path, user: str, every_session: bool = False) -> dict:
    """The latest session's messages (or every session's), for the web page. A user with no file gets an empty
    history, and no file is created."""
    path = db_path(db_dir, user)
    out: dict = {"user": user, "session": None, "messages": []}
    if every_session:
        out = {"user": user, "sessions": []}
    if not path.is_file():
        return out
    with MemoryStore(path) as store:
        def shown(sid: str) -> list[dict]:
            return [{"id": m.id, "role": m.role, "content": m.content, "created_at": m.created_at}
                    for m in store.messages(sid) if m.role in TURN_ROLES]
        sessions = store.sessions()
        if every_session:
            out["sessions"] = [{"id": s.id, "created_at": s.created_at, "messages": shown(s.id)} for s in sessions]
        elif sessions:
            out.update(session=sessions[-1].id, messages=shown(sessions[-1].id))
    return out


def forget(db_dir: Path, user: str, session_id: str | None = None) -> dict:
    """Forget one session of the user, or all of them (summaries of what is left rebuilt, one audit line each).
    Returns counts; StoreError for an unknown session."""
    path = db_path(db_dir, user)
    counts = {"sessions": 0, "messages": 0}
    if not path.is_file():  # nothing stored: do not create a file just to find that out
        if session_id is not None:
            raise StoreError(f"no session {session_id!r}")
        return counts
    with MemoryStore(path) as store:
        if session_id is None:
            return store.forget_all(summarize_session)
        report = store.forget_session(session_id, summarizer=summarize_session)
    return {"sessions": 1, "messages": report["messages"]}


class Reply:
    """One turn of a request: the session chosen (sync_session), the reply's pieces as they come (iterate; the
    reply is stored when they end or `pieces` is closed), and the figures of the response's `usage`."""

    def __init__(self, bot: Assistant, store: MemoryStore, req: ChatRequest, max_tokens: int):
        text = req.turns[-1][1]
        session = sync_session(store, req.turns[:-1])
        # The prompt as built just before the message is stored (what respond() builds), for the usage figures.
        self.prompt_tokens = bot.count(bot.prompt_for(store, session, text))
        self.limit = min(req.max_tokens or max_tokens, max_tokens)
        overrides = {"max_new_tokens": self.limit}
        overrides.update({k: v for k, v in (("temperature", req.temperature), ("top_p", req.top_p),
                                             ("seed", req.seed)) if v is not None})
        self.pieces = bot.respond(store, session, text, **overrides)
        self.count, self.text = 0, ""

    def __iter__(self):
        # respond() yields a piece per token (a token ending inside a character waits for the next, so a
        # byte-level tokenizer may count a little low), plus EMPTY_REPLY after a reply of nothing but spaces
        for piece in self.pieces:
            self.count += 1
            self.text += piece
            yield piece

    @property
    def tokens(self) -> int:
        empty = self.text.endswith(EMPTY_REPLY) and not self.text[:-len(EMPTY_REPLY)].strip()
        return self.count - 1 if empty else self.count

    @property
    def finish_reason(self) -> str:
        return "length" if self.tokens >= self.limit else "stop"

    @property
    def content(self) -> str:
        """The reply as stored."""
        return self.text.strip() or EMPTY_REPLY
