"""YAML for config files, with bounds: `parse_yaml` is yaml.safe_load that refuses what no config needs.

A YAML alias repeats its anchor's whole value, so a few hundred bytes (9 levels of 9 aliases) describe 387 million
values: anything that walks the result (an error message, placeholder filling, a fingerprint) then runs for
minutes at gigabytes. The node graph is measured before any Python value is built, with every alias counted as a
full copy but each node measured once, so the check costs the size of the text.
"""

from __future__ import annotations

from typing import Any

import yaml

# A config file is a few dozen settings, a profile a few hundred: far below these bounds.
YAML_MAX_VALUES = 200_000  # scalars + lists + mappings, counting every alias as a full copy
YAML_MAX_DEPTH = 50  # nesting levels, aliases expanded


class TooLarge(ValueError):
    """A YAML document whose expanded value would be too big or too deep to be a config."""


def _expanded_size(node: yaml.Node, memo: dict[int, tuple[int, int]], active: set[int],
                   level: int = 1) -> tuple[int, int]:
    """(values, depth) of a node with every alias expanded; memoised by node, so a bomb costs its text size."""
    if level > YAML_MAX_DEPTH:  # checked on the way down too: a chain of anchors must not exhaust the stack
        raise TooLarge(f"it is nested more than {YAML_MAX_DEPTH} levels deep")
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise TooLarge("an alias refers to the value that contains it (a recursive structure)")
    active.add(key)
    values, depth = 1, 1
    if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)):
        children = node.value if isinstance(node, yaml.SequenceNode) else [n for kv in node.value for n in kv]
        for child in children:
            n, d = _expanded_size(child, memo, active, level + 1)
            values, depth = values + n, max(depth, d + 1)
            if values > YAML_MAX_VALUES:
                raise TooLarge(f"it expands to more than {YAML_MAX_VALUES:,} values (aliases repeat their "
                               f"anchor's whole value)")
            if depth > YAML_MAX_DEPTH:
                raise TooLarge(f"it is nested more than {YAML_MAX_DEPTH} levels deep")
    active.discard(key)
    memo[key] = (values, depth)
    return values, depth


def parse_yaml(text: str) -> Any:
    """yaml.safe_load, refusing (TooLarge) documents whose expanded value exceeds the config bounds."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, set())
        return loader.construct_document(node)
    finally:
        loader.dispose()
