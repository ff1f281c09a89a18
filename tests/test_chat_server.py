"""The chat server end to end on 127.0.0.1: the official `openai` client (plain and streamed) against a tiny
model, sessions matched to what clients resend, every bad input answered with an OpenAI-style JSON error, the
web page in a real headless Chromium, and a server killed with -9 in the middle of a streamed reply."""

import http.client
import json
import logging
import re
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest
import torch

from assistant.orchestrator import ChatSettings
from assistant.server import ChatServer
from assistant.store import MemoryStore
from common.paths import REPO_ROOT
from common.text_format import EOT_ID, USER_ID
from scraper.fetch.browser import LAUNCH_ARGS, system_chromium
from tests.test_chat_assistant import save_tiny_checkpoint, tiny_assistant

MODEL = "tiny"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db_dir = tmp_path_factory.mktemp("memory")
    with ChatServer(tiny_assistant(ChatSettings(max_new_tokens=12)), db_dir, MODEL) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key="unused", max_retries=0, timeout=30)


def turns(server, user):
    """[[(role, content), ...] per session] of a user's store."""
    with MemoryStore(server.db_dir / f"{user}.db") as st:
        return [[(m.role, m.content) for m in st.messages(s.id)] for s in st.sessions()]


def request(server, method, path, body=None, headers=None):
    """(status, parsed JSON body or text, headers) of one raw HTTP request."""
    conn = http.client.HTTPConnection("127.0.0.1", int(server.base_url.rsplit(":", 1)[1]), timeout=30)
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    is_json = resp.getheader("Content-Type", "").startswith("application/json")
    return resp.status, json.loads(raw) if is_json else raw.decode("utf-8", "replace"), resp


def assert_error(status, body, want_status, param=None, code=None):
    assert status == want_status, body
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["error"]["type"] in ("invalid_request_error", "server_error")
    if param is not None:
        assert body["error"]["param"] == param, body
    if code is not None:
        assert body["error"]["code"] == code, body
    assert "Traceback" not in json.dumps(body)


# ------------------------------------------------------------------------------------------ the OpenAI API
def test_models_endpoint(server, client):
    assert [m.id for m in client.models.list()] == [MODEL]
    status, body, _ = request(server, "GET", "/v1/models")
    assert status == 200 and body["object"] == "list"
    (entry,) = body["data"]
    assert entry["id"] == MODEL and entry["object"] == "model" and entry["owned_by"] == "miniature-memory"
    assert isinstance(entry["created"], int)


def test_the_openai_client_plain_and_streamed(server, client):
    first = client.chat.completions.create(model=MODEL, user="alice",
                                           messages=[{"role": "user", "content": "My cat is called Tom."}])
    assert first.object == "chat.completion" and first.id.startswith("chatcmpl-") and first.model == MODEL
    (choice,) = first.choices
    reply = choice.message.content
    assert choice.message.role == "assistant" and reply and choice.finish_reason in ("stop", "length")
    assert first.usage.prompt_tokens > 0 and 0 <= first.usage.completion_tokens <= 12
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens
    assert turns(server, "alice") == [[("user", "My cat is called Tom."), ("assistant", reply)]]

    # the client continues the conversation, streamed: the same session grows by exactly two messages
    history = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "My cat is called Tom."},
               {"role": "assistant", "content": reply}, {"role": "user", "content": "What is my cat called?"}]
    chunks = list(client.chat.completions.create(model=MODEL, user="alice", messages=history, stream=True,
                                                 stream_options={"include_usage": True}))
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason in ("stop", "length") and chunks[-1].usage.total_tokens > 0
    assert all(c.choices[0].finish_reason is None for c in chunks[:-2])
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks[:-1])
    assert turns(server, "alice") == [[("user", "My cat is called Tom."), ("assistant", reply),
                                       ("user", "What is my cat called?"), ("assistant", streamed.strip())]]


def test_a_restarted_conversation_is_a_new_session(server, client):
    say = lambda messages: client.chat.completions.create(
        model=MODEL, user="bob", messages=messages).choices[0].message.content
    a = say([{"role": "user", "content": "I live in Ashford."}])
    b = say([{"role": "user", "content": "Hello again."}])  # the client started over: a new session
    assert turns(server, "bob") == [[("user", "I live in Ashford."), ("assistant", a)],
                                    [("user", "Hello again."), ("assistant", b)]]
    with MemoryStore(server.db_dir / "bob.db") as st:
        first = st.sessions()[0].id
        assert "I live in Ashford." in st.summaries(first)[0].summary  # the left session was closed (summarized)
    # earlier messages the server never saw (another client, another server) are stored, then the new one
    # answered; a reply the client got with extra spaces still matches the stored one (compared stripped)
    said = [{"role": "user", "content": "We met before."}, {"role": "assistant", "content": "  Yes we did. "}]
    c = say(said + [{"role": "user", "content": "Good."}])
    d = say(said + [{"role": "user", "content": "Good."}, {"role": "assistant", "content": f" {c} \n"},
                    {"role": "user", "content": "Bye."}])
    assert turns(server, "bob")[2:] == [[("user", "We met before."), ("assistant", "  Yes we did. "),
                                         ("user", "Good."), ("assistant", c), ("user", "Bye."), ("assistant", d)]]


def test_users_are_separate_files_and_requests_may_overlap(server, client):
    def ask(user):
        return client.chat.completions.create(model=MODEL, user=user,
                                              messages=[{"role": "user", "content": f"I am {user}."}])
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(ask, ["carol", "dave", "erin", "carol"]))
    assert all(r.choices[0].message.content for r in replies)
    assert sum(len(s) for s in turns(server, "carol")) == 4 and len(turns(server, "dave")) == 1
    assert (server.db_dir / "erin.db").is_file() and not (server.db_dir / "default.db").exists()


# ------------------------------------------------------------------------------------------ bad input
def test_every_bad_input_is_a_json_400_and_stores_nothing(server):
    def chat(**fields):
        return {"model": MODEL, "user": "mallory", "messages": [{"role": "user", "content": "hi"}], **fields}
    user = lambda text: [{"role": "user", "content": text}]
    cases = [  # (body, param, code)
        (b"{not json", None, "invalid_json"),
        (b'{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "temperature": NaN}', None,
         "invalid_json"),
        (b"\xff\xfe\xfd", None, "invalid_json"),
        (b"", None, "invalid_json"),
        (b"[1, 2]", None, None),
        ({"model": MODEL}, "messages", None),
        (chat(messages=[]), "messages", None),
        (chat(messages="hi"), "messages", None),
        (chat(messages=["hi"]), "messages[0]", None),
        (chat(messages=user("   ")), "messages[0].content", None),
        (chat(messages=[{"role": "user"}]), "messages[0].content", None),
        (chat(messages=[{"role": "user", "content": None}]), "messages[0].content", None),
        (chat(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]),
         "messages[0].content[0]", None),
        (chat(messages=user("a" * 1_000_000)), "messages[0].content", "message_too_long"),
        (chat(messages=[{"role": "wizard", "content": "hi"}]), "messages[0].role", None),
        (chat(messages=[{"role": "tool", "content": "hi"}]), "messages[0].role", None),
        (chat(messages=user("hi") + [{"role": "assistant", "content": "hello"}]), "messages", None),
        (chat(messages=user("hi") + [{"role": "system", "content": "be brief"}]), "messages", None),
        (chat(model="gpt-4o"), "model", "model_not_found"),
        (chat(model=7), "model", "model_not_found"),
        (chat(user="../etc/passwd"), "user", "invalid_user"),
        (chat(user=""), "user", "invalid_user"),
        (chat(user="a" * 65), "user", "invalid_user"),
        (chat(user="a/b"), "user", "invalid_user"),
        (chat(user=".hidden"), "user", "invalid_user"),
        (chat(user=5), "user", "invalid_user"),
        (chat(temperature=-1), "temperature", None),
        (chat(temperature=2.5), "temperature", None),
        (chat(temperature="hot"), "temperature", None),
        (chat(top_p=0), "top_p", None),
        (chat(top_p=1.5), "top_p", None),
        (chat(max_tokens=0), "max_tokens", None),
        (chat(max_tokens=-5), "max_tokens", None),
        (chat(max_tokens=2.5), "max_tokens", None),
        (chat(max_tokens="10"), "max_tokens", None),
        (chat(max_tokens=True), "max_tokens", None),
        (chat(max_completion_tokens=0, max_tokens=5), "max_completion_tokens", None),
        (chat(seed="x"), "seed", None),
        (chat(seed=2 ** 64), "seed", None),
        (chat(stream="yes"), "stream", None),
        (chat(stream_options={"include_usage": "yes"}), "stream_options", None),
        (chat(n=2), "n", None),
    ]
    for body, param, code in cases:
        status, got, _ = request(server, "POST", "/v1/chat/completions", body)
        assert_error(status, got, 400, param, code)
    assert not (server.db_dir / "mallory.db").exists()


def test_the_openai_client_raises_bad_request(server, client):
    hi = [{"role": "user", "content": "hi"}]
    bad = [{"model": "gpt-4o", "messages": hi}, {"model": MODEL, "messages": []},
           {"model": MODEL, "messages": [{"role": "user", "content": "a" * 1_000_000}]},
           {"model": MODEL, "messages": hi, "user": "no/slash"}, {"model": MODEL, "messages": hi, "temperature": 9}]
    for kwargs in bad:
        for stream in (False, True):
            with pytest.raises(openai.BadRequestError) as err:
                client.chat.completions.create(**kwargs, stream=stream)
            assert err.value.status_code == 400 and err.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(**bad[0])
    assert err.value.code == "model_not_found"


def test_oversized_bodies_wrong_paths_methods_types_and_hosts(server):
    port = int(server.base_url.rsplit(":", 1)[1])
    # 413 before the body is read: only the headers and a few bytes of a 3 MiB body are ever sent
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 3145728\r\n\r\n{\"model\": ")
        raw = sock.makefile("rb").read()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and b"Connection: close" in head
    assert_error(413, json.loads(body), 413, code="body_too_large")
    # ... and a client that sends the whole body anyway still reads the 413
    assert_error(*request(server, "POST", "/v1/chat/completions", b"x" * (3 << 20))[:2], 413)
    assert_error(*request(server, "GET", "/nope")[:2], 404, code="not_found")
    assert_error(*request(server, "GET", "/v1/chat/completions")[:2], 405)
    assert_error(*request(server, "DELETE", "/v1/models")[:2], 501)
    # a page on another site can POST text/plain without asking the browser first: refused
    assert_error(*request(server, "POST", "/v1/chat/completions", b'{"messages": []}',
                          {"Content-Type": "text/plain"})[:2], 415)
    assert_error(*request(server, "POST", "/api/forget", b'{"user": "alice"}',
                          {"Content-Type": "application/x-www-form-urlencoded"})[:2], 415)
    # DNS rebinding: another name pointing at 127.0.0.1 is refused while the server is bound to loopback
    assert_error(*request(server, "GET", "/api/history?user=alice", headers={"Host": "evil.example:80"})[:2], 403)
    assert request(server, "GET", "/v1/models", headers={"Host": f"localhost:{port}"})[0] == 200


def test_an_unexpected_error_is_a_generic_500(tmp_path, caplog):
    bot = tiny_assistant(ChatSettings(max_new_tokens=4))

    def broken(store, session_id, text, **overrides):
        store.add_message(session_id, "user", text)
        if text == "late":
            yield "a"
        raise RuntimeError("secret internal detail")
    bot.respond = broken
    with ChatServer(bot, tmp_path, MODEL) as srv, caplog.at_level(logging.ERROR):
        status, body, _ = request(srv, "POST", "/v1/chat/completions",
                                  {"messages": [{"role": "user", "content": "early"}]})
        assert_error(status, body, 500)
        assert body["error"]["type"] == "server_error" and "secret" not in json.dumps(body)
        # mid-stream the status is sent already: an error event ends the stream, and OpenAI clients raise it
        client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.APIError):
            list(client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "late"}],
                                                stream=True))
    assert "secret internal detail" in caplog.text and "Traceback" in caplog.text


def test_history_and_forget_endpoints(server, client):
    for text in ("I like tea.", "I like coffee."):  # two sessions
        client.chat.completions.create(model=MODEL, user="frank", messages=[{"role": "user", "content": text}])
    status, latest, _ = request(server, "GET", "/api/history?user=frank")
    assert status == 200 and latest["messages"][0]["content"] == "I like coffee."
    status, every, _ = request(server, "GET", "/api/history?user=frank&all=1")
    assert [s["messages"][0]["content"] for s in every["sessions"]] == ["I like tea.", "I like coffee."]
    assert request(server, "GET", "/api/history?user=nobody")[1] == {"user": "nobody", "session": None,
                                                                     "messages": []}
    assert not (server.db_dir / "nobody.db").exists()
    assert_error(*request(server, "GET", "/api/history?user=../x")[:2], 400, "user")
    assert_error(*request(server, "POST", "/api/forget", {"user": "frank", "session": "s99"})[:2], 404, "session")
    assert_error(*request(server, "POST", "/api/forget", {"user": "a b"})[:2], 400, "user")
    assert_error(*request(server, "POST", "/api/forget", ["frank"])[:2], 400)

    status, body, _ = request(server, "POST", "/api/forget", {"user": "frank", "session": every["sessions"][0]["id"]})
    assert status == 200 and body["forgotten"] == {"sessions": 1, "messages": 2}
    assert [s[0][1] for s in turns(server, "frank")] == ["I like coffee."]
    status, body, _ = request(server, "POST", "/api/forget", {"user": "frank"})
    assert body["forgotten"] == {"sessions": 1, "messages": 2} and turns(server, "frank") == []
    with MemoryStore(server.db_dir / "frank.db") as st:
        assert [a for _, a, _ in st.audit_log()] == ["forget_session", "forget_session"]


# ------------------------------------------------------------------------------------------ the web page
@pytest.mark.skipif(system_chromium() is None, reason="no Chromium on this machine (setup.sh installs one)")
def test_the_chat_page_in_chromium(server):
    from playwright.sync_api import sync_playwright

    base = server.base_url
    with sync_playwright() as pw:
        browser = pw.chromium.launch(headless=True, executable_path=system_chromium(), args=LAUNCH_ARGS)
        try:
            page = browser.new_page()
            requested, errors = [], []
            page.on("request", lambda r: requested.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(base + "/")
            assert page.input_value("#user") == "default"
            page.fill("#user", "webuser")
            page.dispatch_event("#user", "change")
            page.fill("#message", "Hello there, my name is Ann.")
            page.press("#message", "Enter")
            page.wait_for_function("() => document.querySelectorAll('.msg.assistant').length === 1 && "
                                   "!document.querySelector('#send').disabled", timeout=20_000)
            shown = page.inner_text(".msg.assistant")
            ((_, stored),) = [t for t in turns(server, "webuser")[0] if t[0] == "assistant"]
            assert shown == stored and turns(server, "webuser")[0][0] == ("user", "Hello there, my name is Ann.")

            page.reload()  # the history comes back from the server (and the user name from the browser)
            page.wait_for_function("() => document.querySelectorAll('.msg').length === 2", timeout=10_000)
            assert page.input_value("#user") == "webuser"
            assert page.inner_text(".msg.user") == "Hello there, my name is Ann." and \
                page.inner_text(".msg.assistant") == stored

            page.once("dialog", lambda d: d.accept())
            page.click("#forget")
            page.wait_for_function("() => document.querySelector('#status').textContent.startsWith('Forgot')",
                                   timeout=10_000)
            assert page.locator(".msg").count() == 0
            with MemoryStore(server.db_dir / "webuser.db") as st:
                assert st.messages() == [] and st.sessions() == []
            page.reload()
            page.wait_for_function("() => document.querySelector('#user').value === 'webuser'")
            page.wait_for_timeout(300)
            assert page.locator(".msg").count() == 0
        finally:
            browser.close()
    assert errors == []
    assert requested and all(url.startswith(base + "/") for url in requested)  # nothing from anywhere else


# ------------------------------------------------------------------------------------------ kill -9
def endless_checkpoint(path: Path) -> Path:
    """A tiny checkpoint whose greedy replies never end by themselves: the stop ids' embedding rows (tied with
    the output head) are zero and the others large, so a stop logit (0) never beats the best other one."""
    lm = tiny_assistant().lm
    with torch.no_grad():
        lm.model.wte.weight.mul_(200)
        lm.model.wte.weight[[USER_ID, EOT_ID]] = 0
    save_tiny_checkpoint(path, lm)
    return path


def stop(proc: subprocess.Popen) -> None:
    """SIGKILL (no finally, no atexit) and reap the server, closing its pipes."""
    proc.kill()
    proc.wait(10)
    proc.stdout.close()
    proc.stderr.close()


def start_serve(ckpt: Path, db_dir: Path) -> tuple[subprocess.Popen, str]:
    # `-m scripts.serve`: the same command as `python scripts/serve.py`, run the way that does not put scripts/
    # first on sys.path (where scripts/chat.py would hide the chat package)
    proc = subprocess.Popen([sys.executable, "-m", "scripts.serve", "--checkpoint", str(ckpt), "--db-dir",
                             str(db_dir), "--port", "0", "--max-tokens", "100000", "--model-name", MODEL],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:\d+", line)
    assert found, line + proc.stderr.read() if proc.poll() is not None else line
    return proc, found.group(0)


def test_kill_9_mid_stream_keeps_the_acknowledged_message(tmp_path):
    ckpt, db_dir = endless_checkpoint(tmp_path / "last.safetensors"), tmp_path / "memory"
    proc, base = start_serve(ckpt, db_dir)
    try:
        host, port = base[len("http://"):].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("POST", "/v1/chat/completions", json.dumps(
            {"model": MODEL, "user": "zoe", "stream": True, "messages": [{"role": "user", "content": "Remember me."}]}),
            {"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200
        events = []
        while len(events) < 4:  # the role chunk (the message is stored by then), then some content
            line = resp.fp.readline()
            if line.startswith(b"data: "):
                events.append(json.loads(line[6:]))
        assert events[0]["choices"][0]["delta"]["role"] == "assistant" and events[3]["choices"][0]["delta"]["content"]
        proc.kill()  # SIGKILL: no finally, no atexit, mid-reply
        proc.wait(10)
        conn.close()
    finally:
        stop(proc)
    with MemoryStore(db_dir / "zoe.db") as st:
        assert [(m.role, m.content) for m in st.messages()] == [("user", "Remember me.")]

    proc, base = start_serve(ckpt, db_dir)  # the same memory folder: the server answers again
    try:
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=30)
        again = client.chat.completions.create(model=MODEL, user="zoe", max_tokens=5,
                                               messages=[{"role": "user", "content": "Remember me."}])
        assert again.choices[0].finish_reason == "length" and again.usage.completion_tokens == 5
        assert again.choices[0].message.content
    finally:
        stop(proc)
    with MemoryStore(db_dir / "zoe.db") as st:
        sessions = [[(m.role, m.content) for m in st.messages(s.id)] for s in st.sessions()]
    assert sessions == [[("user", "Remember me.")],
                        [("user", "Remember me."), ("assistant", again.choices[0].message.content)]]


def test_a_client_that_leaves_mid_stream(tmp_path):
    """The reply is stored as far as it was generated, the model lock is released, the next request is served."""
    from assistant.orchestrator import Assistant
    from generation.inference import load_model

    lm = load_model(endless_checkpoint(tmp_path / "last.safetensors"))
    with ChatServer(Assistant(lm, ChatSettings(max_new_tokens=100_000)), tmp_path / "memory", MODEL) as srv:
        with socket.create_connection(("127.0.0.1", int(srv.base_url.rsplit(":", 1)[1])), timeout=10) as sock:
            body = json.dumps({"user": "yuki", "stream": True, "messages": [{"role": "user", "content": "Go on."}]})
            sock.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                         f"\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode())
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="unused", max_retries=0, timeout=30)
        later = client.chat.completions.create(model=MODEL, user="yuki", max_tokens=3,
                                               messages=[{"role": "user", "content": "Hello?"}])
        assert later.choices[0].finish_reason == "length"
    left, now = turns(srv, "yuki")
    assert len(left) == 2 and left[0] == ("user", "Go on.") and left[1][0] == "assistant" and left[1][1]
    assert now == [("user", "Hello?"), ("assistant", later.choices[0].message.content)]
