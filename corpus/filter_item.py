"""The filter stage's work on one item that depends on no other item; scripts/filter_dataset.py runs it in worker
processes (common/parallel.py) and applies the results in arrival order.

`check_item` reads an item's raw file (with the tamper check), runs the length and content checks and the language
check, and computes the item's exact-duplicate key and MinHash signature. Duplicate lookups need the items kept so
far, which only the stage's own process knows: it applies an `ItemChecks` in the stage's order (length, exact
duplicate, content, near duplicate, language), so the first failing reason wins exactly as when it ran alone.
Work whose result can never matter is skipped: nothing after a length rejection, no signature or language after
a content rejection (the item is then an exact duplicate or a content rejection, whatever was kept before it).

A changed or unreadable raw file is a tagged result, not an exception: the exception classes of the stage do not
survive pickling between processes (Tampered's constructor takes three arguments).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

from common.paths import DatasetPaths
from common.rawstore import Tampered, read_raw_verified
from corpus.content_policy import Policy, check_policy
from corpus.near_dup import Signer, exact_key, normalise
from corpus.text_heuristics import (LanguageGuesser, Verdict, check_boilerplate, check_language, check_length,
                                     check_narrative)


class ItemChecks(NamedTuple):
    """What the stage needs to decide one item. `status`: "ok", or "tampered" / "unreadable" with `message`."""

    status: str
    message: str = ""
    verdict: Verdict | None = None  # a rejection that precedes every duplicate lookup (too_short, too_long)
    key: str | None = None  # exact-duplicate key of the normalised text
    chars: int = 0  # stripped length in characters (for repeated-short-text boilerplate)
    content: Verdict | None = None  # content_checks
    signature: np.ndarray | None = None  # MinHash, uint32[num_perm]; None when content failed
    language: Verdict | None = None  # check_language; None when content failed


# This process's state, built once by init_worker: reading the policy YAML, loading the language model and
# making the MinHash permutations per item would cost more than checking the item.
_state: dict = {}


def init_worker(paths: DatasetPaths, config: dict, policy: Policy) -> None:
    """Set up this process: `config` is the FilterConfig as a dict (the checks read its fields as attributes),
    `policy` the loaded content policy (its regexes are recompiled on unpickling; the rules are the very ones whose
    sha256 is in the stage's fingerprint, even if the file is edited mid-run)."""
    _state.update(paths=paths, cfg=SimpleNamespace(**config), policy=policy, guesser=LanguageGuesser(),
                  signer=Signer(config["num_perm"]))


def content_checks(text: str, cfg, policy: Policy) -> Verdict:
    """The pure, cheap checks between the exact and the near-duplicate lookups, in order; the first failure wins."""
    verdict = check_boilerplate(text, cfg)
    if verdict.keep:
        verdict = check_narrative(text, cfg)
    if verdict.keep:
        verdict = check_policy(text, policy)
    return verdict


def check_item(job: tuple[str, dict | None]) -> ItemChecks:
    """Checks of one (item, raw index record) job, in a process set up by init_worker."""
    item, record = job
    try:
        return _checks(item, record, _state["paths"], _state["cfg"])
    except Tampered as e:
        return ItemChecks("tampered", str(e))
    except OSError as e:
        return ItemChecks("unreadable", str(e.strerror or e))


def _checks(item: str, record: dict | None, paths: DatasetPaths, cfg) -> ItemChecks:
    size = paths.raw_file(item).stat().st_size
    recorded = (record or {}).get("bytes")
    if isinstance(recorded, int) and size != recorded:  # changed, seen without reading it
        raise Tampered(item, record.get("sha256"), f"unknown ({size:,} bytes, recorded {recorded:,})")
    if size > 4 * cfg.max_chars:  # UTF-8 needs at most 4 bytes a character: too long without reading it
        return ItemChecks("ok", verdict=Verdict(False, "too_long", {"bytes": size, "max_chars": cfg.max_chars}))
    # Decoded as Path.read_text did before the tamper check (replacement characters, universal newlines), so
    # decisions stay the same.
    text = read_raw_verified(paths, item, record).decode("utf-8", errors="replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    verdict = check_length(text, cfg)
    if not verdict.keep:
        return ItemChecks("ok", verdict=verdict)
    norm = normalise(text)
    key, chars = exact_key(norm), len(text.strip())
    content = content_checks(text, cfg, _state["policy"])
    if not content.keep:
        return ItemChecks("ok", key=key, chars=chars, content=content)
    return ItemChecks("ok", key=key, chars=chars, content=content, signature=_state["signer"].sign(norm),
                      language=check_language(text, cfg, _state["guesser"]))
