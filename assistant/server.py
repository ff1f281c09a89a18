"""The chat server: the OpenAI chat API (as llama.cpp's server and Ollama speak it) over the assistant and its
memory, plus a small web page. Stdlib `http.server` only.

    server = ChatServer(assistant, db_dir="chat-memory", model_name="chat").start()   # background thread
    server.base_url                                     # http://127.0.0.1:<port>; clients use base_url + "/v1"

Endpoints (every error is an OpenAI-style JSON body {"error": {message, type, param, code}}):
    GET  /v1/models             the one model
    POST /v1/chat/completions   a reply, whole or streamed (server-sent events); the request's `user` picks the
                                memory file <db_dir>/<user>.db (assistant/conversation.py decides the session)
    GET  /api/history?user=U[&all=1]   the latest session's messages (or every session's)
    POST /api/forget            {"user": U} forgets everything of U; {"user": U, "session": S} one session
    GET  /, /app.js, /style.css, /favicon.ico   the chat page (assistant/web/)
Errors: 400 bad input, 403 a Host header other than this machine's (DNS rebinding) while bound to loopback,
404 unknown path or session, 405 wrong method, 411 a chunked body, 413 a body over `max_body_bytes` (refused
before it is read), 415 a POST that is not application/json (a web page elsewhere cannot send that without
the browser asking first, so it cannot write into or erase someone's memory), 500 anything unexpected (the
traceback goes to the log, never to the client).

One model serves everyone: generation (and forgetting) happens under one lock; each request opens the user's
store itself (SQLite handles several processes and threads).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from assistant import conversation
from assistant import openai_api as api
from assistant.orchestrator import Assistant
from assistant.conversation import Reply
from assistant.store import MemoryStore, StoreError

HOST = "127.0.0.1"
MAX_BODY_BYTES = 2 * 1024 * 1024  # bigger requests get 413 unread (a message is at most 100,000 characters)
CLIENT_TIMEOUT_S = 60             # a client that sends or reads nothing for this long is dropped
# After refusing a body unread, the rest of it is read and dropped for up to this long before the socket closes,
# so a client still sending gets to read the answer instead of a reset connection (Apache's "lingering close").
LINGER_S = 2.0
WEB_DIR = Path(__file__).resolve().parent / "web"
STATIC = {"/": ("index.html", "text/html; charset=utf-8"), "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/style.css": ("style.css", "text/css; charset=utf-8")}
# The page loads only its own script and style and talks only to this server.
PAGE_HEADERS = (("Content-Security-Policy", ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src "
                 "'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")),
                ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"))
ICON = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 2 2"><circle cx="1" cy="1" r="1" fill="#4a7"/></svg>'
LOCAL_NAMES = ("127.0.0.1", "localhost", "::1")
log = logging.getLogger("miniature_memory.chat_server")


class ChatServer:
    """The server on `host`:`port` (0 = any free port); `start()` serves in a daemon thread, `serve_forever()`
    in the caller's. `max_tokens`: the longest reply (default: the assistant's max_new_tokens); a request may ask
    for fewer."""

    def __init__(self, assistant: Assistant, db_dir: str | Path, model_name: str, host: str = HOST, port: int = 0,
                 max_tokens: int | None = None, max_body_bytes: int = MAX_BODY_BYTES):
        self.assistant, self.db_dir, self.model_name = assistant, Path(db_dir), model_name
        self.max_tokens = max_tokens or assistant.settings.max_new_tokens
        self.max_body_bytes = max_body_bytes
        self.lock = threading.Lock()
        path = Path(assistant.lm.path)
        self.created = int(path.stat().st_mtime) if path.is_file() else int(time.time())
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def bind(self) -> ChatServer:
        """Open the listening socket (OSError when the address is taken or not ours)."""
        if self._server is None:
            server = _Server(self._address, _Handler)
            server.app = self
            self._server = server
        return self

    def start(self) -> ChatServer:
        self.bind()
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                            name="chat-server", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.bind()._server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        if self._server is None:
            return
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()
        self._server = self._thread = None

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def loopback(self) -> bool:
        return ipaddress.ip_address(self._server.server_address[0]).is_loopback


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # a restart can rebind a port whose old connections linger in TIME_WAIT
    app: ChatServer

    def handle_error(self, request, client_address) -> None:
        """A connection that failed outside a request (a client resetting an idle keep-alive connection): logged,
        instead of socketserver's traceback on stderr."""
        if isinstance(sys.exc_info()[1], OSError):
            log.debug("chat server: connection from %s ended badly", client_address[0], exc_info=True)
        else:
            log.exception("chat server: connection from %s failed", client_address[0])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; streams use chunked transfer encoding
    server_version = "miniature-memory"
    timeout = CLIENT_TIMEOUT_S
    server: _Server
    _started = _unread = _streaming = False  # per request (set in _dispatch); these defaults serve send_error

    # ------------------------------------------------------------------------------------------ plumbing
    def do_GET(self) -> None:
        self._dispatch(self.command)

    do_POST = do_GET

    def log_message(self, fmt: str, *args) -> None:
        log.debug("%s " + fmt, self.address_string(), *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (bad request line, unsupported method...) in the JSON shape too."""
        self.close_connection = True
        self._send_json(code, api.error_body(message or "bad request", code=str(code)))

    def _dispatch(self, method: str) -> None:
        self._started = self._streaming = False  # a response has begun: an error can no longer change the status
        self._unread = bool(self.headers.get("Transfer-Encoding")) or self.headers.get("Content-Length", "0") != "0"
        path = urlsplit(self.path).path
        try:
            if self.server.app.loopback and not self._local_host():
                raise api.ApiError(403, "this server answers only to 127.0.0.1 and localhost", code="host_not_allowed")
            routes = ROUTES.get(path)
            if routes is None:
                raise api.ApiError(404, f"no endpoint {path[:100]!r}", code="not_found")
            if method not in routes:
                raise api.ApiError(405, f"{path} takes {' or '.join(routes)}", code="method_not_allowed")
            routes[method](self)
        except api.ApiError as e:
            self._fail(e.status, e.body())
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True  # the client went away; a reply cut short is stored as far as it got
        except Exception:
            log.exception("chat server: %s %s failed", method, path[:200])
            self._fail(500, api.error_body("internal server error (the server's log has the details)", "server_error"))

    def finish(self) -> None:
        super().finish()
        if self._unread and self.close_connection:
            try:
                self.connection.shutdown(socket.SHUT_WR)  # the answer is complete: the client sees its end
                deadline = time.monotonic() + LINGER_S
                while time.monotonic() < deadline:
                    self.connection.settimeout(max(0.01, deadline - time.monotonic()))
                    if not self.connection.recv(1 << 16):
                        break
            except OSError:
                pass

    def _local_host(self) -> bool:
        host = self.headers.get("Host")
        if not host:
            return True  # not a browser (a browser always sends Host)
        name = host[1:host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
        return name.lower() in LOCAL_NAMES

    def _fail(self, status: int, body: dict) -> None:
        if not self._started:
            self._send_json(status, body)
            return
        self.close_connection = True
        if self._streaming:  # mid-stream: an error event (OpenAI clients raise it), then the end
            try:
                self._chunk(api.sse(body))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass

    def _send(self, status: int, ctype: str, body: bytes, headers: tuple = ()) -> None:
        if self._unread:
            self.close_connection = True  # the body was refused unread: its bytes must not be taken for a request
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self._started = True
        self.wfile.write(body)

    def _send_json(self, status: int, obj: dict) -> None:
        self._send(status, "application/json", json.dumps(obj, ensure_ascii=False).encode("utf-8"),
                   (("Cache-Control", "no-store"),))

    def _read_json(self):
        """The request body, parsed; refused unread when too big, chunked or not JSON."""
        if self.headers.get("Transfer-Encoding"):
            raise api.ApiError(411, "send the body with a Content-Length", code="length_required")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            raise api.bad("bad Content-Length")
        cap = self.server.app.max_body_bytes
        if length > cap:
            raise api.ApiError(413, f"the request body is {length:,} bytes; at most {cap:,}", code="body_too_large")
        if self.headers.get_content_type() != "application/json":
            raise api.ApiError(415, "send the body as Content-Type: application/json", code="unsupported_media_type")
        body = self.rfile.read(length)
        if len(body) < length:
            raise ConnectionResetError("the client sent less than its Content-Length")
        self._unread = False
        return api.loads_json(body)

    def _query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    # ------------------------------------------------------------------------------------------ endpoints
    def static(self) -> None:
        name, ctype = STATIC[urlsplit(self.path).path]
        self._send(200, ctype, (WEB_DIR / name).read_bytes(), PAGE_HEADERS + (("Cache-Control", "no-cache"),))

    def icon(self) -> None:
        self._send(200, "image/svg+xml", ICON)  # browsers ask for one; a 404 would be an error in their console

    def models(self) -> None:
        app = self.server.app
        self._send_json(200, api.models_list(app.model_name, app.created))

    def history(self) -> None:
        q = self._query()
        user = api.check_user(q.get("user"))
        every = q.get("all", "") in ("1", "true")
        self._send_json(200, conversation.history(self.server.app.db_dir, user, every))

    def forget(self) -> None:
        data = self._read_json()
        if not isinstance(data, dict):
            raise api.bad("the request body must be a JSON object like {\"user\": \"...\"}")
        user, session = api.check_user(data.get("user")), data.get("session")
        if session is not None and not isinstance(session, str):
            raise api.bad("session must be a session id (a string)", "session")
        app = self.server.app
        try:
            with app.lock:  # not in the middle of a reply that is about to be stored in the session
                counts = conversation.forget(app.db_dir, user, session)
        except StoreError as e:
            raise api.ApiError(404, str(e), "session", "session_not_found") from None
        self._send_json(200, {"user": user, "forgotten": counts})

    def chat(self) -> None:
        app = self.server.app
        req = api.parse_chat_request(self._read_json(), app.model_name)
        app.db_dir.mkdir(parents=True, exist_ok=True)
        with app.lock, MemoryStore(conversation.db_path(app.db_dir, req.user)) as store:
            reply = Reply(app.assistant, store, req, app.max_tokens)
            try:
                if req.stream:
                    self._stream(reply, req.include_usage)
                else:
                    "".join(reply)  # the generator finishes: the reply is stored
                    self._send_json(200, api.completion(api.completion_id(), app.model_name, reply.content,
                                                        reply.finish_reason, reply.prompt_tokens, reply.tokens))
            finally:
                reply.pieces.close()  # a client that left mid-stream: what was generated is stored

    def _stream(self, reply: Reply, include_usage: bool) -> None:
        model, cid, created = self.server.app.model_name, api.completion_id(), int(time.time())
        pieces = iter(reply)
        first = next(pieces, "")  # stores the user's message: the first chunk below acknowledges it
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._started = self._streaming = True
        self._chunk(api.sse(api.chunk(cid, model, {"role": "assistant", "content": ""}, created=created)))
        if first:
            self._chunk(api.sse(api.chunk(cid, model, {"content": first}, created=created)))
        for piece in pieces:
            if piece:
                self._chunk(api.sse(api.chunk(cid, model, {"content": piece}, created=created)))
        self._chunk(api.sse(api.chunk(cid, model, {}, reply.finish_reason, created=created)))
        if include_usage:
            self._chunk(api.sse(api.usage_chunk(cid, model, reply.prompt_tokens, reply.tokens)))
        self._chunk(api.sse("[DONE]"))
        self.wfile.write(b"0\r\n\r\n")
        self._streaming = False


ROUTES = {**{path: {"GET": _Handler.static} for path in STATIC}, "/favicon.ico": {"GET": _Handler.icon},
          "/v1/models": {"GET": _Handler.models}, "/v1/chat/completions": {"POST": _Handler.chat},
          "/api/history": {"GET": _Handler.history}, "/api/forget": {"POST": _Handler.forget}}
