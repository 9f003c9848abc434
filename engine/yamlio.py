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
from .files import read_limited

__all__ = ["MAX_ALIASES", "MAX_BYTES", "LineDict", "LineList", "line_of", "load_yaml", "loads_yaml"]

MAX_BYTES = 4 * 1024 * 1024
MAX_ALIASES = 64
MAX_NODES = 200_000

# The C parser composes the node graph (aliases stay shared nodes, so memory is
# bounded by the file size); the expansion limits are checked on that graph
# before anything is constructed or validated.
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
    """Refuse alias bombs: too many aliases, or too many nodes once aliases expand."""
    sizes: dict[int, int] = {}
    seen_anchor: set[int] = set()
    aliases = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            # Reached again: an alias to an already-composed node.
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _Refused(f"more than {MAX_ALIASES} YAML aliases", node.start_mark.line + 1)
            continue
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = 1
            continue
        children = ([c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode)
                    else list(node.value))
        if not done:
            if id(node) in seen_anchor:
                raise _Refused("a YAML node contains itself", node.start_mark.line + 1)
            seen_anchor.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            # children already sized are aliases seen now: count them
            for c in children:
                if id(c) in sizes:
                    aliases += 1
            if aliases > MAX_ALIASES:
                raise _Refused(f"more than {MAX_ALIASES} YAML aliases", node.start_mark.line + 1)
            continue
        size = 1 + sum(sizes.get(id(c), 1) for c in children)
        sizes[id(node)] = size
        if size > MAX_NODES:
            raise _Refused(f"the document expands to more than {MAX_NODES} YAML nodes "
                           "(alias bomb?)", node.start_mark.line + 1)


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
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def loads_yaml(text: str | bytes, source: str, *, allow_empty: bool = False) -> Any:
    """Parse one YAML document from ``text``; ``source`` names it in errors."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise BadInput(f"file is larger than {MAX_BYTES} bytes", Location(source))
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = text[: exc.start].count(b"\n") + 1
            raise BadInput(
                f"not UTF-8 text (byte 0x{text[exc.start]:02x})", Location(source, line)
            ) from None
    if len(text) > MAX_BYTES:
        raise BadInput(f"file is larger than {MAX_BYTES} bytes", Location(source))
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
