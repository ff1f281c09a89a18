"""Rules of the clean stage: site-artifact and scene-break patterns (from a YAML file) and unwrap settings.

`load_rules_file` reads the three pattern lists of a rules file (the built-in `site_artifacts.default.yaml`
when none is given); `compile_rules` checks every pattern (a bad one is a one-line UserError) and combines
each list into one regex, so a line is tested once per list, not once per pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from common.config import UserError, load_yaml

DEFAULT_RULES_FILE = Path(__file__).resolve().with_name("site_artifacts.default.yaml")
RULE_KEYS = ("line_patterns", "inline_patterns", "scene_break_patterns")


@dataclass(frozen=True)
class Rules:
    """Compiled artifact and scene-break patterns plus the unwrap settings; build with `compile_rules`."""

    line_re: re.Pattern | None
    inline_re: re.Pattern | None
    scene_re: re.Pattern | None
    line_finder: re.Pattern | None = None  # prefilters: where in a text a line may fully match (see _finder)
    scene_finder: re.Pattern | None = None
    unwrap: bool = True
    wrap_min_width: int = 55
    wrap_max_width: int = 100
    spec: dict = field(default_factory=dict, compare=False)  # the pattern lists, for the config fingerprint


def _combine(key: str, patterns: list[str], flags: int, allow_empty: bool) -> re.Pattern | None:
    for p in patterns:
        try:
            one = re.compile(p, flags)
        except re.error as e:
            raise UserError(f"{key}: bad regular expression {p!r}: {e}") from None
        if not allow_empty and one.fullmatch(""):
            raise UserError(f"{key}: pattern {p!r} matches empty text")
    if not patterns:
        return None
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns), flags)
    except re.error as e:
        raise UserError(f"{key}: patterns cannot be combined ({e}); avoid backreferences and global "
                        f"inline flags") from None


def _finder(full: re.Pattern | None) -> re.Pattern | None:
    """A multi-line prefilter for `full.fullmatch(line)`: one regex scan of a whole text finds every line start
    where `full` can match up to the end of the line (a superset, checked with fullmatch), which is much faster
    than calling fullmatch on each line."""
    return None if full is None else re.compile(f"^(?=(?:{full.pattern})$)", full.flags | re.M)


def compile_rules(line_patterns: list[str] = (), inline_patterns: list[str] = (),
                  scene_break_patterns: list[str] = (), unwrap: bool = True, wrap_min_width: int = 55,
                  wrap_max_width: int = 100) -> Rules:
    """Rules from pattern lists (artifact patterns case-insensitive, scene patterns case-sensitive)."""
    if not 1 <= wrap_min_width <= wrap_max_width:
        raise UserError(f"wrap widths must satisfy 1 <= wrap_min_width <= wrap_max_width, got "
                        f"{wrap_min_width} and {wrap_max_width}")
    spec = {"line_patterns": list(line_patterns), "inline_patterns": list(inline_patterns),
            "scene_break_patterns": list(scene_break_patterns)}
    line_re = _combine("line_patterns", spec["line_patterns"], re.I, allow_empty=True)
    scene_re = _combine("scene_break_patterns", spec["scene_break_patterns"], 0, allow_empty=False)
    return Rules(line_re=line_re, scene_re=scene_re, line_finder=_finder(line_re), scene_finder=_finder(scene_re),
                 inline_re=_combine("inline_patterns", spec["inline_patterns"], re.I, allow_empty=False),
                 unwrap=unwrap, wrap_min_width=wrap_min_width, wrap_max_width=wrap_max_width, spec=spec)


def load_rules_file(path: str | Path | None = None) -> dict[str, list[str]]:
    """The three pattern lists of a rules YAML (missing keys are empty); the built-in file when path is empty."""
    path = Path(path).expanduser() if path else DEFAULT_RULES_FILE
    data = load_yaml(path)
    unknown = [k for k in data if k not in RULE_KEYS]
    if unknown:
        raise UserError(f"{path}: unknown key '{unknown[0]}'; valid keys: {', '.join(RULE_KEYS)}")
    out = {}
    for key in RULE_KEYS:
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f"{path}: '{key}' must be a list of strings (regular expressions)")
        out[key] = value
    return out


@lru_cache(maxsize=1)
def default_rules() -> Rules:
    """Rules of the built-in rules file with the default unwrap settings."""
    return compile_rules(**load_rules_file(None))
