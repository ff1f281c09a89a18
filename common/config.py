"""Stage configuration: one dataclass per stage, overridden by a YAML file, then by command-line flags.

Precedence: code defaults < `--config FILE.yaml` < flags. A YAML file is either a stage's flat config
(`min_chars: 200`) or a pipeline profile with one section per stage (`filter: {min_chars: 200}`). Unknown keys
and wrong types fail with a one-line `UserError` that lists the valid keys.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from common.safe_yaml import YAML_MAX_DEPTH, TooLarge, parse_yaml

# Stage names in pipeline order; run.py flags and profiles use exactly these.
STAGES = ("import", "search", "fetch", "extract", "validate", "filter", "clean", "prepare", "memory",
          "train", "generate", "evaluate")
# Top-level profile keys that are not pipeline stages: prose, the stage list, tool sections (stats report, BPE
# tokenizer training), and the demo website run.py starts for the profile (its address fills "{demo_site}").
PROFILE_KEYS = ("description", "stages", "stats", "demo_site", "tokenizer")
# Sections of tools that are not pipeline stages but read their settings from a profile too.
TOOL_SECTIONS = ("stats", "tokenizer")
# Stages that only read the dataset's data (train, generate and evaluate write under the training output folder;
# stats rewrites only its own report, when it can): they take a shared lock, or none where the folder is
# read-only, so they run on a read-only or shared mount.
READ_ONLY_STAGES = ("train", "generate", "evaluate", "stats")
INT_LIMIT = 2 ** 63  # ints must fit in a signed 64-bit integer (numpy, torch and file offsets expect it)


class UserError(Exception):
    """A mistake in what the user asked for (bad flag, config typo, missing folder): one line, exit code 2."""


class StageFailed(Exception):
    """A stage ran but found something the user must look at (e.g. a tampered raw file): exit code 1."""


def opt(default: Any, help: str) -> Any:
    """A config field with its default and the help text shown by --help (doubles as the field's comment)."""
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def shown(value: Any, limit: int = 60) -> str:
    """repr() of a value for an error message, cut to about `limit` characters (values can be huge)."""
    if isinstance(value, (list, dict)) and len(value) > limit:
        return f"a {type(value).__name__} of {len(value):,} items"
    try:
        text = repr(value)
    except ValueError:  # an int too long to print (Python refuses more than 4,300 digits)
        return "a number too long to print"
    return text if len(text) <= limit else text[:limit] + "..."


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(inner type, optional?) for `X | None` / Optional[X]; (tp, False) otherwise."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _type_name(tp: Any) -> str:
    inner, optional = _base_type(tp)
    name = getattr(inner, "__name__", str(inner)) if typing.get_origin(inner) is None else str(inner)
    return f"{name} or null" if optional else name


def coerce(key: str, value: Any, tp: Any) -> Any:
    """Check and convert one config value to its field type; raise UserError naming the key."""
    inner, optional = _base_type(tp)
    if value is None:
        if optional:
            return None
        raise UserError(f"config key '{key}' must be {_type_name(tp)}, got null")
    origin = typing.get_origin(inner)
    if origin is list:
        (item_tp,) = typing.get_args(inner) or (str,)
        if isinstance(value, (str, int, float)):
            value = [value]
        if not isinstance(value, list):
            raise UserError(f"config key '{key}' must be a list, got {type(value).__name__}")
        return [coerce(key, v, item_tp) for v in value]
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"config key '{key}' must be a mapping, got {type(value).__name__}")
        return dict(value)
    if inner is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return value.lower() in ("true", "yes", "1", "on")
        raise UserError(f"config key '{key}' must be true or false, got {shown(value)}")
    if inner in (int, float):
        return _number(key, value, inner)
    if inner is str:
        if isinstance(value, (dict, list)):
            raise UserError(f"config key '{key}' must be a string, got {type(value).__name__}")
        return str(value)
    return value


def _number(key: str, value: Any, tp: type) -> int | float:
    """A finite float, or an int that fits in 64 bits; nan, inf, overflow and 5,000-digit numbers are one-line
    UserErrors (a flag arrives as a string, YAML gives ints and floats)."""
    bad = f"config key '{key}' must be {tp.__name__}, got {shown(value)}"
    if isinstance(value, (bool, list, dict)) or (isinstance(value, str) and len(value.strip()) > 100):
        raise UserError(bad)  # no setting needs 100 digits, and int() of thousands of digits is slow
    out: int | float
    if isinstance(value, (int, float)):
        out = value
    else:
        try:
            out = int(value) if tp is int else float(value)  # int("12") stays exact beyond 2**53
        except (TypeError, ValueError):
            try:
                out = float(value)  # "1e3", "nan", "2.5"
            except (TypeError, ValueError):
                raise UserError(bad) from None
    if isinstance(out, float) and not math.isfinite(out):
        raise UserError(f"config key '{key}' must be a finite number, got {shown(value)}")
    if tp is float:
        try:
            return float(out)
        except OverflowError:  # an int beyond 1e308
            raise UserError(f"config key '{key}' is too large: {shown(value)}") from None
    if isinstance(out, float):
        if not out.is_integer():
            raise UserError(f"config key '{key}' must be a whole number, got {shown(value)}")
        out = int(out)
    if not -INT_LIMIT <= out < INT_LIMIT:
        raise UserError(f"config key '{key}' is too large: {shown(value)} (limit: {INT_LIMIT:,})")
    return out


def read_user_file(path: str | Path, what: str) -> bytes:
    """Bytes of a file the user named (config, policy, URL list...); missing or unreadable: one-line UserError."""
    p = Path(path).expanduser()
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{what} not found: {p}") from None
    except OSError as e:
        raise UserError(f"cannot read {what} {p}: {e.strerror or e}") from None


def load_yaml(path: str | Path) -> dict:
    """Read a YAML mapping; missing file, bad syntax or a non-mapping top level is a one-line UserError."""
    p = Path(path).expanduser()
    try:
        text = read_user_file(p, "config file").decode("utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"cannot read config file {p}: not UTF-8 ({e.reason} at byte {e.start})") from None
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise UserError(f"config file {p} is not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    except RecursionError:
        raise UserError(f"config file {p} is nested too deeply (more than {YAML_MAX_DEPTH} levels)") from None
    except (TooLarge, ValueError, OverflowError) as e:
        why = str(e)
        if "integer string conversion" in why:  # Python refuses to parse ints of more than 4,300 digits
            why = "it holds a number of more than 4,300 digits"
        raise UserError(f"config file {p} is refused: {why[:200]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"config file {p} must hold a mapping of keys, not {type(data).__name__}")
    return data


def is_profile(data: dict) -> bool:
    """A pipeline profile has stage sections as top-level keys (values that are mappings or null)."""
    return any((k in STAGES or k in TOOL_SECTIONS) and (v is None or isinstance(v, dict)) for k, v in data.items())


def stage_section(data: dict, stage: str, source: str = "config") -> dict:
    """The flat settings for `stage` out of a flat config or a profile."""
    if not is_profile(data):
        return data
    unknown = [k for k in data if k not in STAGES and k not in PROFILE_KEYS]
    if unknown:
        raise UserError(f"{source}: unknown section {shown(unknown[0])}; valid sections: {', '.join(STAGES)}")
    return data.get(stage) or {}


def build_config(cls: type, values: dict | None = None, source: str = "config") -> Any:
    """Instantiate config `cls` from defaults updated by `values`; unknown keys and bad types are UserErrors."""
    ftypes = _field_types(cls)
    values = values or {}
    for key in values:
        if key not in ftypes:
            valid = ", ".join(sorted(ftypes))
            raise UserError(f"{source}: unknown key {shown(key)} for {cls.__name__}; valid keys: {valid}")
    return cls(**{k: coerce(k, v, ftypes[k]) for k, v in values.items()})


def resolve_config(cls: type, stage: str, config_file: str | None, overrides: dict) -> Any:
    """Defaults < YAML file (flat or the stage's profile section) < flags."""
    values: dict = {}
    if config_file:
        values.update(stage_section(load_yaml(config_file), stage, source=str(config_file)))
    merged = build_config(cls, values, source=str(config_file or "config"))  # checks file keys alone first
    values.update(overrides)
    merged = build_config(cls, values, source="command line")
    return merged


def config_dict(cfg: Any) -> dict:
    """Plain dict of a config dataclass (for manifests and --dry-run)."""
    return dataclasses.asdict(cfg)


def fingerprint(obj: Any) -> str:
    """Short stable hash of a config or any JSON-able value: decides whether derived outputs must be redone."""
    data = config_dict(obj) if dataclasses.is_dataclass(obj) else obj
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def add_config_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add `--field-name` for every config field (kebab-case); unset flags do not override anything."""
    group = parser.add_argument_group(f"{cls.__name__} settings (YAML keys use snake_case)")
    for f in dataclasses.fields(cls):
        tp, _ = _base_type(_field_types(cls)[f.name])
        flag = "--" + f.name.replace("_", "-")
        # nanoGPT spells its flags in snake_case (--max_iters): accept that spelling too, listed after the
        # kebab-case one.
        flags = [flag] + (["--" + f.name] if "_" in f.name else [])
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        # argparse %-formats help strings: a literal '%' in a help text or default must be doubled.
        help_text = f"{f.metadata.get('help', '')} (default: {default!r})".strip().replace("%", "%%")
        kwargs: dict[str, Any] = {"dest": f"cfg__{f.name}", "default": argparse.SUPPRESS, "help": help_text}
        if tp is bool:
            group.add_argument(*flags, action=argparse.BooleanOptionalAction, **kwargs)
        elif typing.get_origin(tp) is list:
            group.add_argument(*flags, action="append", metavar="VALUE", **kwargs)
        elif typing.get_origin(tp) is dict:
            continue  # mappings are set in YAML only
        else:
            group.add_argument(*flags, metavar=tp.__name__.upper() if hasattr(tp, "__name__") else "VALUE",
                               **kwargs)


def flag_overrides(args: argparse.Namespace) -> dict:
    """The config values given as flags (only those actually typed)."""
    return {k[len("cfg__"):]: v for k, v in vars(args).items() if k.startswith("cfg__")}
