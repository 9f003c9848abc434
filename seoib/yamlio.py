"""Safe YAML loading that remembers where every value came from.

Rule files, plans and scenarios are all user input: this loader refuses what a
hostile or broken file could do to us (huge files, alias bombs, duplicate keys,
non-UTF-8 bytes, tags) and keeps 1-based line numbers so every later error can
say ``file:line``.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from .errors import BadInput, Location
from .files import MAX_DEPTH, MAX_DIGITS, MAX_INPUT_BYTES, Limit, read_limited

__all__ = ["MAX_ALIASES", "MAX_BYTES", "LineDict", "LineList", "line_of", "load_yaml", "loads_yaml"]

MAX_BYTES = 4 * 1024 * 1024  # the default size bound; SEOIB_MAX_INPUT_BYTES raises it
MAX_ALIASES = Limit("YAML alias", "SEOIB_MAX_YAML_ALIASES", 64, "aliases")
# Nodes a document holds as written (a 10,000-host plan written host by host is
# about 100,000) and nodes its aliases add once expanded (an alias bomb).
MAX_NODES = Limit("YAML node", "SEOIB_MAX_YAML_NODES", 1_000_000, "nodes")
MAX_EXPANSION = Limit("YAML alias expansion", "SEOIB_MAX_YAML_EXPANSION", 200_000, "nodes")
_INT_TAG = "tag:yaml.org,2002:int"

# The C parser composes the node graph (aliases stay shared nodes, so memory is
# bounded by the file size; libyaml itself stops nesting at depth 1000); the
# limits are checked on that graph before anything is constructed or validated.
_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict):
    """A mapping that knows its own line and the line of each key."""

    line: int
    key_lines: dict[Hashable, int]

    def line_of(self, key: Hashable) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A sequence that knows its own line and the line of each item."""

    line: int
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


def line_of(value: Any, key: Hashable | int | None = None, default: int | None = None) -> int | None:
    """Line of ``value`` (or of ``value[key]``) when the loader recorded one."""
    if key is not None and isinstance(value, LineDict):
        return value.line_of(key)
    if key is not None and isinstance(value, LineList) and isinstance(key, int):
        return value.line_of(key)
    return getattr(value, "line", default)



class _Loader(_Base):  # type: ignore[misc, valid-type]
    pass


def _check_expansion(root: yaml.Node) -> None:
    """Refuse what would hurt once constructed: alias bombs, too many nodes or aliases,
    deep nesting, integers too long for int()."""
    max_aliases, max_nodes = MAX_ALIASES.value(), MAX_NODES.value()
    max_growth, max_depth, max_digits = MAX_EXPANSION.value(), MAX_DEPTH.value(), MAX_DIGITS.value()
    sizes: dict[int, int] = {}
    entered: set[int] = set()
    aliases = 0
    stack: list[tuple[yaml.Node, bool, int]] = [(root, False, 1)]
    while stack:
        node, done, depth = stack.pop()
        line = node.start_mark.line + 1
        if not done and id(node) in sizes:
            # Reached again: an alias to an already-composed node.
            aliases += 1
            if aliases > max_aliases:
                raise _Refused(MAX_ALIASES.refusal("the number of aliases"), line)
            continue
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _INT_TAG and sum(c.isdigit() for c in node.value) > max_digits:
                raise _Refused(MAX_DIGITS.refusal(f"an integer of {len(node.value)} characters"),
                               line)
            sizes[id(node)] = 1
        elif not done:
            if id(node) in entered:
                raise _Refused("a YAML node contains itself", line)
            if depth > max_depth:
                raise _Refused(MAX_DEPTH.refusal("YAML nesting"), line)
            entered.add(id(node))
            stack.append((node, True, depth))
            children = ([c for pair in node.value for c in pair]
                        if isinstance(node, yaml.MappingNode) else list(node.value))
            stack.extend((c, False, depth + 1) for c in reversed(children))
            continue
        else:
            children = ([c for pair in node.value for c in pair]
                        if isinstance(node, yaml.MappingNode) else list(node.value))
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
        if len(sizes) > max_nodes:
            raise _Refused(MAX_NODES.refusal("the document"), line)
        # Growth beyond the nodes written so far can only come from aliases.
        if sizes[id(node)] - len(sizes) > max_growth:
            raise _Refused(MAX_EXPANSION.refusal(
                "expanding its aliases (an alias bomb?)"), line)


class _Refused(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise _Refused("a mapping key must be a plain value", key_node.start_mark.line + 1)
        if key in result:
            raise _Refused(
                f"duplicate key {key!r} (first at line {result.key_lines[key]})",
                key_node.start_mark.line + 1,
            )
        result[key] = _construct(loader, value_node)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct(loader: _Loader, node: yaml.Node) -> Any:
    """A child value; a scalar YAML types but cannot build (2024-13-45) is refused at its line."""
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:
        raise _Refused(f"{node.value!r} cannot be read as a value ({exc})",
                       node.start_mark.line + 1) from None


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(_construct(loader, child) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def loads_yaml(text: str | bytes, source: str, *, allow_empty: bool = False) -> Any:
    """Parse one YAML document from ``text``; ``source`` names it in errors."""
    max_bytes = MAX_INPUT_BYTES.value(MAX_BYTES)
    if len(text) > max_bytes:
        raise BadInput(MAX_INPUT_BYTES.refusal("the document", max_bytes), Location(source))
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = text[: exc.start].count(b"\n") + 1
            raise BadInput(
                f"not UTF-8 text (byte 0x{text[exc.start]:02x})", Location(source, line)
            ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node)
        data = loader.construct_document(node) if node is not None else None
    except _Refused as exc:
        raise BadInput(str(exc), Location(source, exc.line)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = exc.problem or exc.context or "invalid YAML"
        raise BadInput(f"invalid YAML: {what}", Location(source, line)) from None
    except yaml.YAMLError as exc:
        raise BadInput(f"invalid YAML: {exc}", Location(source)) from None
    finally:
        loader.dispose()
    if data is None and not allow_empty:
        raise BadInput("file is empty (expected a YAML document)", Location(source, 1))
    return data


def load_yaml(path: str | Path, *, allow_empty: bool = False) -> Any:
    """Read and parse a YAML file, turning every OS or YAML failure into BadInput."""
    raw = read_limited(path, MAX_BYTES)
    return loads_yaml(raw, str(path), allow_empty=allow_empty)
