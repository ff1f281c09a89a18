"""Serve a chat checkpoint with its persistent memory: the OpenAI chat API (as llama.cpp's server and Ollama
speak it) and a small chat page, until Ctrl-C.

Any OpenAI client works against it: `OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="none")`, plain or
`stream=True`. The request's `user` field picks whose memory it is (`<db-dir>/<user>.db`, default "default");
clients send the whole conversation each time and the server stores only what is new (a conversation the client
starts over becomes a new session). The page at http://127.0.0.1:8000/ shows the remembered session and has a
"Forget everything" button. Endpoints and error codes: assistant/server.py.

Listens on 127.0.0.1 only unless `--host` says otherwise: whoever reaches the port can read and erase every
user's memory.

**Reads:** the checkpoint; the memory files in `--db-dir`.
**Writes:** `--db-dir/<user>.db` (created on a user's first message); the address on stdout.
**Usage:**
    python scripts/serve.py --checkpoint training/out/chat --db-dir chat-memory/
    python scripts/serve.py --checkpoint training/out/chat --port 8080 --max-tokens 96 --temperature 0.7
    python scripts/serve.py --dry-run
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path


from assistant.chat_options import ChatOptions
from assistant.orchestrator import Assistant, settings_for
from assistant.server import HOST, MAX_BODY_BYTES, ChatServer
from common.cli import exit_code, os_error_line, setup_logging
from common.config import UserError, add_config_flags, config_dict, flag_overrides, opt, resolve_config
from common.fsio import dumps_json

PROG = "serve.py"
MEMORY_FOLDER = "chat-memory"  # the default --db-dir, next to the checkpoint's run folder


@dataclass
class ServeConfig(ChatOptions):
    db_dir: str = opt("", f"folder of the memory files, one <user>.db per user (default: {MEMORY_FOLDER}/ next to "
                          f"the checkpoint's run folder: training/out/{MEMORY_FOLDER}/ for training/out/chat/)")
    host: str = opt(HOST, "address to listen on; any other than 127.0.0.1 lets other machines read and erase "
                          "every user's memory")
    port: int = opt(8000, "port to listen on (0 = any free port)")
    model_name: str = opt("", "the model id clients send (default: the checkpoint's run folder name)")
    max_tokens: int = opt(0, "tokens per reply at most; a request's max_tokens may ask for fewer (0 = the reply "
                             "budget the checkpoint was trained with, else 48)")
    max_body_bytes: int = opt(MAX_BODY_BYTES, "a request body over this many bytes gets 413, unread")


def check(cfg: ServeConfig) -> None:
    """One-line UserErrors for settings that cannot work, before the model loads."""
    cfg.check_options()
    if not 0 <= cfg.port <= 65535:
        raise UserError(f"port must be 0 to 65535 (got {cfg.port})")
    if cfg.max_tokens < 0 or cfg.max_body_bytes < 1024:
        raise UserError("max_tokens must be >= 0 and max_body_bytes >= 1024")
    if cfg.model_name and not cfg.model_name.isprintable():
        raise UserError("model_name must be printable text")


def run(cfg: ServeConfig) -> int:
    """Load the checkpoint and serve until interrupted."""
    check(cfg)
    ckpt, lm, embedder = cfg.load()
    db_dir = Path(cfg.db_dir).expanduser() if cfg.db_dir else ckpt.parent.parent / MEMORY_FOLDER
    try:
        db_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create the memory folder: {os_error_line(e)}") from None
    settings = settings_for(lm, **cfg.sampling_overrides(),
                            **({"max_new_tokens": cfg.max_tokens} if cfg.max_tokens else {}))
    server = ChatServer(Assistant(lm, settings, embedder), db_dir, cfg.model_name or ckpt.parent.name, cfg.host,
                        cfg.port, max_body_bytes=cfg.max_body_bytes)
    try:
        server.bind()
    except OSError as e:
        raise UserError(f"cannot listen on {cfg.host}:{cfg.port}: {e.strerror or e}") from None
    try:
        print(f"serving {server.model_name} on {server.base_url}/ (OpenAI API: {server.base_url}/v1; memory in "
              f"{db_dir}); Ctrl-C to stop", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", metavar="FILE.yaml", default=None, help="YAML file with these settings' keys")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    add_config_flags(parser, ServeConfig)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)

    def work() -> int:
        cfg = resolve_config(ServeConfig, "serve", args.config, flag_overrides(args))
        if args.dry_run:
            check(cfg)
            print(dumps_json(config_dict(cfg)))
            return 0
        return run(cfg)

    return exit_code(PROG, work)

if __name__ == "__main__":
    sys.exit(main())
