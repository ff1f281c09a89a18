"""Content-policy rules of the filter stage: YAML lists of terms and regexes that must co-occur to reject a text.

Rule file format (see content_policy.default.yaml, the default set):

    version: 1
    rules:
      - name: some_rule              # snake_case; reported in the evidence
        description: free text
        window: 30                   # words: every group must match within this span; null = anywhere in the text
        groups:                      # the rule fires when EVERY group matches (one group = any match fires)
          - name: first_group
            terms: [word, two words, prefix*]   # whole words, case-insensitive; '*' at the end = any ending;
                                                # "under-age" = the words under, age (any separator between)
            regex: ['\\bpattern\\b']           # Python regexes, case-insensitive
          - name: second_group
            terms: [...]

A rule with two groups and a window rejects texts where a term of one group occurs within `window` words of a
term of the other. Mistakes in the file (unknown keys, bad regex, empty groups) are one-line UserErrors.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from common.config import UserError, read_user_file
from common.safe_yaml import parse_yaml
from corpus.text_heuristics import KEEP, Verdict

DEFAULT_POLICY = Path(__file__).resolve().parent / "content_policy.default.yaml"
RULE_KEYS = {"name", "description", "window", "groups"}
GROUP_KEYS = {"name", "terms", "regex"}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
WORD_RE = re.compile(r"\w+")  # words are runs of letters/digits: "under-age" is the two words under, age


@dataclass(frozen=True)
class Group:
    name: str
    words: frozenset[str]  # one-word terms
    prefixes: tuple[str, ...]  # one-word terms ending in '*'
    phrases: tuple[tuple[str, ...], ...]  # multi-word terms (last word may end in '*')
    regex: re.Pattern | None

    def may_match(self, vocab: set[str], text: str) -> bool:
        """Cheap test on the text's set of case-folded words (then the regex): can the group match at all?"""
        return bool(self.words & vocab or (self.prefixes and any(w.startswith(self.prefixes) for w in vocab))
                    or any(p[0] in vocab or p[0].endswith("*") for p in self.phrases)
                    or (self.regex is not None and self.regex.search(text)))


@dataclass(frozen=True)
class Rule:
    name: str
    groups: tuple[Group, ...]
    window: int | None  # words; None = anywhere


@dataclass(frozen=True)
class Policy:
    path: str
    sha256: str  # of the rule file's bytes: part of the filter's config fingerprint
    rules: tuple[Rule, ...]


def term_words(term: str) -> tuple[str, ...]:
    """A term as case-folded words; the last keeps a trailing '*' (any ending). Empty -> ValueError."""
    words = tuple(w.casefold() for w in WORD_RE.findall(term))
    if not words:
        raise ValueError("empty term")
    return words[:-1] + (words[-1] + "*",) if term.rstrip().endswith("*") else words


def _word_matches(word: str, pattern: str) -> bool:
    return word.startswith(pattern[:-1]) if pattern.endswith("*") else word == pattern


def _group(where: str, raw) -> Group:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: a group must be a mapping with 'terms' and/or 'regex'")
    unknown = set(raw) - GROUP_KEYS
    if unknown:
        raise UserError(f"{where}: unknown key '{sorted(unknown)[0]}'; valid keys: {', '.join(sorted(GROUP_KEYS))}")
    terms, regexes = raw.get("terms") or [], raw.get("regex") or []
    if not isinstance(terms, list) or not isinstance(regexes, list):
        raise UserError(f"{where}: 'terms' and 'regex' must be lists")
    parsed = []
    for t in terms:
        try:
            parsed.append(term_words(str(t)))
        except ValueError:
            raise UserError(f"{where}: term {t!r} has no letters or digits") from None
    for rx in regexes:
        try:
            re.compile(str(rx))
        except re.error as e:
            raise UserError(f"{where}: bad regex {str(rx)!r}: {e}") from None
    if not parsed and not regexes:
        raise UserError(f"{where}: group has no terms and no regex")
    name = str(raw.get("name") or where.rsplit(" ", 1)[-1])
    return Group(name, words=frozenset(t[0] for t in parsed if len(t) == 1 and not t[0].endswith("*")),
                 prefixes=tuple(sorted(t[0][:-1] for t in parsed if len(t) == 1 and t[0].endswith("*"))),
                 phrases=tuple(sorted(t for t in parsed if len(t) > 1)),
                 regex=re.compile("|".join(f"(?:{rx})" for rx in regexes), re.IGNORECASE) if regexes else None)


def parse_policy(data, source: str) -> tuple[Rule, ...]:
    """Rules from the parsed YAML mapping; UserError naming the rule and key on any mistake."""
    if data is None:
        data = {}
    if not isinstance(data, dict) or set(data) - {"version", "rules"}:
        raise UserError(f"{source}: a policy file is a mapping with 'version' and 'rules'")
    if data.get("version", 1) != 1:
        raise UserError(f"{source}: unsupported policy version {data.get('version')!r} (expected 1)")
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, list):
        raise UserError(f"{source}: 'rules' must be a list")
    rules, names = [], set()
    for i, raw in enumerate(raw_rules):
        if not isinstance(raw, dict):
            raise UserError(f"{source}: rule {i + 1} must be a mapping")
        name = raw.get("name")
        where = f"{source}: rule '{name}'" if name else f"{source}: rule {i + 1}"
        unknown = set(raw) - RULE_KEYS
        if unknown:
            raise UserError(f"{where}: unknown key '{sorted(unknown)[0]}'; valid keys: {', '.join(sorted(RULE_KEYS))}")
        if not isinstance(name, str) or not NAME_RE.match(name) or name in names:
            raise UserError(f"{where}: needs a unique snake_case 'name'")
        names.add(name)
        window = raw.get("window")
        if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
            raise UserError(f"{where}: 'window' must be a positive number of words or null")
        groups = raw.get("groups")
        if not isinstance(groups, list) or not groups:
            raise UserError(f"{where}: 'groups' must be a non-empty list")
        rules.append(Rule(name, tuple(_group(f"{where} group {j + 1}", g) for j, g in enumerate(groups)), window))
    return tuple(rules)


def load_policy(path: str | Path | None = None) -> Policy:
    """Read and check a rule file (the default set when `path` is empty)."""
    p = Path(path).expanduser().resolve() if path else DEFAULT_POLICY
    blob = read_user_file(p, "policy file")
    try:
        data = parse_yaml(blob.decode("utf-8"))  # bounded: an alias bomb is refused, not expanded
    except (yaml.YAMLError, ValueError, RecursionError) as e:  # ValueError: not UTF-8, or beyond the bounds
        raise UserError(f"policy file {p} is not valid UTF-8 YAML: {str(e).splitlines()[0]}") from None
    return Policy(str(p), hashlib.sha256(blob).hexdigest(), parse_policy(data, str(p)))


def group_hits(group: Group, words: list[str], starts: list[int], text: str) -> list[tuple[int, int, str]]:
    """(word index, char offset, matched text) of every match of a group, in text order."""
    hits = []
    for i, w in enumerate(words):
        if w in group.words or (group.prefixes and w.startswith(group.prefixes)):
            hits.append((i, starts[i], w))
        for phrase in group.phrases:
            if all(i + k < len(words) and _word_matches(words[i + k], p) for k, p in enumerate(phrase)):
                hits.append((i, starts[i], " ".join(words[i:i + len(phrase)])))
    if group.regex is not None:
        for m in group.regex.finditer(text):
            i = max(0, bisect.bisect_right(starts, m.start()) - 1)
            hits.append((i, m.start(), m.group(0)))
    return sorted(hits)


def match_rule(text: str, rule: Rule, vocab: set[str] | None = None) -> dict | None:
    """Evidence of the first place (in text order) where the rule fires, or None.

    `vocab` (the text's case-folded word set) can be passed in when several rules check the same text.
    """
    vocab = vocab if vocab is not None else {w.casefold() for w in set(WORD_RE.findall(text))}
    if not all(g.may_match(vocab, text) for g in rule.groups):
        return None  # the common case: some group has no term in this text
    matches = [(m.start(), m.group(0).casefold()) for m in WORD_RE.finditer(text)]
    starts, words = [s for s, _ in matches], [w for _, w in matches]
    found = [group_hits(g, words, starts, text) for g in rule.groups]
    if not all(found):
        return None
    if rule.window is None or len(rule.groups) == 1:
        return {"rule": rule.name, "matched": {g.name: hits[0][2] for g, hits in zip(rule.groups, found)}}
    # Events in text order; the tightest window ending at an event holds the latest match of every group.
    events = sorted((hit, gi) for gi, hits in enumerate(found) for hit in hits)
    last: dict[int, tuple] = {}
    for hit, gi in events:
        last[gi] = hit
        if len(last) == len(rule.groups):
            first = min(last.values())
            span = hit[0] - first[0]
            if span <= rule.window:
                return {"rule": rule.name, "span_words": span, "offset": first[1],
                        "matched": {rule.groups[g].name: h[2] for g, h in sorted(last.items())}}
    return None


def check_policy(text: str, policy: Policy) -> Verdict:
    """content_policy verdict (keep, reason, evidence) for the first rule that fires."""
    vocab = {w.casefold() for w in set(WORD_RE.findall(text))}
    for rule in policy.rules:
        hit = match_rule(text, rule, vocab)
        if hit:
            return Verdict(False, "content_policy", hit)
    return KEEP
