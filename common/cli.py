"""The one command-line wrapper every stage script shares: flags, config resolution, errors, summary.

A stage module provides `STAGE` (its name), a config dataclass and `run(cfg, paths, force=False) -> dict`
of counts. `stage_main` turns that into a CLI with --dataset-dir, --config, --dry-run, --force and one flag per
config field, prints a one-line summary, and maps errors to exit codes: 0 ok, 1 stage failed, 2 user error,
130 interrupted. run.py calls `run()` directly, so a stage behaves the same from the shell, run.py or a notebook.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs are simply not guarded against each other
    fcntl = None

from common.config import (StageFailed, UserError, add_config_flags, config_dict, flag_overrides,
                           resolve_config)
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
    try:
        overrides = flag_overrides(args)
        if positional and args.positional:
            overrides[positional] = list(overrides.get(positional, [])) + list(args.positional)
        cfg = resolve_config(cfg_cls, stage, args.config, overrides)
        if finalize:
            cfg = finalize(cfg)
        paths = DatasetPaths.at(args.dataset_dir)
        if args.dry_run:
            print(f"{prog}: dry run; dataset: {paths.root}")
            print(dumps_json(config_dict(cfg)))
            return 0
        start = time.monotonic()
        if not primary:
            run(cfg, paths, force=args.force)
            return 0
        with dataset_lock(paths):
            counts: dict[str, Any] = run(cfg, paths, force=args.force)
        print(f"{stage}: {format_counts(counts)} ({time.monotonic() - start:.1f} s)")
        return 0
    except UserError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except StageFailed as e:
        print(f"{prog}: failed: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; re-run to continue where it stopped", file=sys.stderr)
        return 130


def require_dataset(paths: DatasetPaths) -> None:
    """Fail with one line when the dataset folder does not exist (typo in --dataset-dir, nothing imported yet)."""
    if not paths.root.is_dir():
        raise UserError(f"dataset folder not found: {paths.root} (check --dataset-dir, or run the import stage)")


@contextmanager
def dataset_lock(paths: DatasetPaths) -> Iterator[None]:
    """Hold an exclusive lock on the dataset so two runs never interleave writes (released even on kill -9)."""
    if fcntl is None or not paths.root.is_dir():
        yield  # nothing to guard yet: the stage creates the folder or reports it missing
        return
    paths.metadata.mkdir(parents=True, exist_ok=True)
    with open(paths.metadata / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"another run is using {paths.root}; wait for it to finish") from None
        yield
