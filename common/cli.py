"""The one command-line wrapper every stage script shares: flags, config resolution, errors, summary.

A stage module provides `STAGE` (its name), a config dataclass and `run(cfg, paths, force=False) -> dict`
of counts. `stage_main` turns that into a CLI with --dataset-dir, --config, --dry-run, --force and one flag per
config field, prints a one-line summary, and maps errors to exit codes: 0 ok, 1 stage failed, 2 user error,
130 interrupted. run.py calls `run()` directly, so a stage behaves the same from the shell, run.py or a notebook.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs are simply not guarded against each other
    fcntl = None

from common.config import (READ_ONLY_STAGES, StageFailed, UserError, add_config_flags, config_dict,
                           flag_overrides, resolve_config)
from common.fsio import dumps_json
from common.paths import DatasetPaths

log = logging.getLogger("miniature_memory")


def format_counts(counts: dict) -> str:
    """`12,345 kept, 3 rejected` from an ordered counts dict (non-numbers shown as they are)."""
    parts = []
    for key, value in counts.items():
        if isinstance(value, bool):
            if value:
                parts.append(key)  # a flag such as "unchanged": named when true, left out when false
        elif not isinstance(value, (int, float)):
            parts.append(f"{key}={value}")
        elif isinstance(value, float):
            parts.append(f"{value:,.2f} {key}")
        else:
            parts.append(f"{value:,} {key}")
    return ", ".join(parts) if parts else "nothing to do"


def setup_logging(verbose: bool = False) -> None:
    """Plain messages on stderr; idempotent (notebooks call stages many times)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    log.setLevel(logging.DEBUG if verbose else logging.INFO)


def build_parser(prog: str, doc: str | None, cfg_cls: type,
                 positional: str | None = None) -> argparse.ArgumentParser:
    """The shared parser; `positional` names a list field that bare arguments extend (e.g. import paths)."""
    parser = argparse.ArgumentParser(prog=prog, description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    if positional:
        parser.add_argument("positional", nargs="*", metavar=positional.upper(),
                            help=f"values for '{positional}' (same as the --{positional.replace('_', '-')} flag)")
    parser.add_argument("--dataset-dir", metavar="DIR", default=None,
                        help="dataset folder (default: dataset/ in the repository)")
    parser.add_argument("--config", metavar="FILE.yaml", default=None,
                        help="YAML config: this stage's flat keys or a pipeline profile with a section per stage")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and exit; write nothing")
    parser.add_argument("--force", action="store_true", help="redo all work instead of only what is new")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    add_config_flags(parser, cfg_cls)
    return parser


def stage_main(stage: str, cfg_cls: type, run: Callable[..., dict], argv: list[str] | None,
               doc: str | None, prog: str, positional: str | None = None,
               finalize: Callable[[Any], Any] | None = None, primary: bool = True) -> int:
    """Parse argv, resolve the config, call `run`, print a summary; return the exit code.

    `finalize` post-processes the resolved config (train.py applies its preset). `primary=False` (the other
    ranks of a torchrun launch) runs without taking the dataset lock and without printing the summary."""
    parser = build_parser(prog, doc, cfg_cls, positional)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)

    def work() -> int:
        overrides = flag_overrides(args)
        if positional and args.positional:
            overrides[positional] = list(overrides.get(positional, [])) + list(args.positional)
        cfg = resolve_config(cfg_cls, stage, args.config, overrides)
        if finalize:
            cfg = finalize(cfg)
        paths = dataset_paths(args.dataset_dir)
        if args.dry_run:
            print(f"{prog}: dry run; dataset: {paths.root}")
            print(dumps_json(config_dict(cfg)))
            return 0
        start = time.monotonic()
        if not primary:
            run(cfg, paths, force=args.force)
            return 0
        with dataset_lock(paths, write=stage not in READ_ONLY_STAGES):
            counts: dict[str, Any] = run(cfg, paths, force=args.force)
        print(f"{stage}: {format_counts(counts)} ({time.monotonic() - start:.1f} s)")
        return 0

    try:
        return exit_code(prog, work)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; re-run to continue where it stopped", file=sys.stderr)
        return 130


def exit_code(prog: str, work: Callable[[], int | None]) -> int:
    """Run a command's work and return its exit code: a UserError is a one-line "error" (2); a StageFailed or an
    OSError (disk full, a folder made read-only mid-run...: what and where) a one-line "failed" (1)."""
    try:
        return work() or 0
    except UserError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except StageFailed as e:
        print(f"{prog}: failed: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{prog}: failed: {os_error_line(e)}", file=sys.stderr)
        return 1


def os_error_line(e: OSError) -> str:
    """One line for an OSError that stopped a stage: the reason and the file, plus a hint for common causes."""
    where = f": {os.fsdecode(e.filename)!r}" if e.filename is not None else ""
    hint = {errno.ENOSPC: "; free some space and run again (finished work is kept)",
            errno.EDQUOT: "; free some space and run again (finished work is kept)",
            errno.EROFS: "; use a writable --dataset-dir"}.get(e.errno or 0, "")
    return f"{e.strerror or e}{where}{hint}"


def dataset_paths(dataset_dir: str | None) -> DatasetPaths:
    """The dataset folder of --dataset-dir (or the default); a path that is or runs through a file is a UserError."""
    paths = DatasetPaths.at(dataset_dir)
    for folder in (paths.root, *paths.root.parents):
        if folder.exists():
            if not folder.is_dir():
                what = "is a file" if folder == paths.root else f"is inside {folder}, which is a file"
                raise UserError(f"dataset folder {paths.root} {what}, not a folder (check --dataset-dir)")
            break
    return paths


def require_dataset(paths: DatasetPaths) -> None:
    """Fail with one line when the dataset folder does not exist (typo in --dataset-dir, nothing imported yet)."""
    if not paths.root.is_dir():
        raise UserError(f"dataset folder not found: {paths.root} (check --dataset-dir, or run the import stage)")


# Errors that mean "this folder cannot be written" (read-only mount, no permission).
READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)


@contextmanager
def dataset_lock(paths: DatasetPaths, write: bool = True) -> Iterator[None]:
    """Guard a run against others on the same dataset (released even on kill -9).

    Writers hold an exclusive lock on metadata/.lock, readers (READ_ONLY_STAGES) a shared one, so any number of
    readers run together but never beside a writer. A reader needs no write access: it opens an existing lock
    file read-only, and runs unguarded only where there is no lock file and none can be made (a read-only mount:
    no writer can run there either). A writer on a read-only folder gets a one-line UserError before it starts."""
    if fcntl is None or not paths.root.is_dir():
        yield  # nothing to guard yet: the stage creates the folder or reports it missing
        return
    lock = paths.metadata / ".lock"
    try:
        handle = open_lock_file(lock, write)
    except OSError as e:
        if e.errno not in READ_ONLY_ERRNOS:
            raise
        if write:
            raise UserError(f"dataset folder {paths.root} is read-only ({e.strerror}), and this stage writes there: "
                            f"use a writable --dataset-dir (train, generate and evaluate only read it)") from None
        handle = None  # a reader on a read-only folder: no writer can run there, so no lock is needed
    if handle is None:
        yield
        return
    with handle:
        try:
            fcntl.flock(handle, (fcntl.LOCK_EX if write else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"another run is using {paths.root}; wait for it to finish") from None
        yield


def open_lock_file(lock: Path, write: bool):
    """The lock file opened for flock: created by writers (and readers where they can), read-only otherwise.
    Writers open it for writing, so a read-only mount fails here, before any work."""
    if not write:
        try:
            return open(lock, "rb")
        except FileNotFoundError:
            pass  # never locked before: create it like a writer would
    lock.parent.mkdir(parents=True, exist_ok=True)
    return open(lock, "ab")
