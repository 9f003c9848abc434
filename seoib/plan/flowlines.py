"""Plans written one entry per line, read without a general YAML parser.

An inventory exported host by host is a few top-level keys, each a list of flow
mappings, one per line (``  - {name: h1, kernel: 6.18.16, qemu: 11.0.0}``). PyYAML
reads such a file at about a megabyte a second; a 100,000-host plan would spend most
of its check there. :func:`read_flow_lines` reads exactly that shape, and nothing
else: plain scalars of a conservative alphabet (typed by PyYAML's own resolver and
constructor, so ``10.10`` is still the float YAML makes of it), quoted strings
without escapes, flow sequences and mappings, comments and blank lines. Anything
outside it (block mappings inside entries, anchors, tags, escapes, a duplicate key,
an integer longer than the digit limit, more nodes than the node limit) returns
None, and the caller reads the file with the full loader (seoib.yamlio), which
parses it or refuses it with its usual message. The result is what that loader
makes of the same text: the same values, LineDict and LineList with the same lines.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..files import MAX_DIGITS
from ..yamlio import MAX_NODES, LineDict, LineList

__all__ = ["read_flow_lines"]

_TOP = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):[ \t]*(\[\])?[ \t]*(?:#.*)?$")
_ITEM = re.compile(r"( *)- +(\{.*)$")
_PLAIN = re.compile(r"[A-Za-z0-9_.+~/][A-Za-z0-9_.+~/-]*|-[A-Za-z0-9_.+~/][A-Za-z0-9_.+~/-]*")
_QUOTED = re.compile(r'"([^"\\]*)"|\'([^\']*)\'')
_SPACE = re.compile(r" *")
# One key: value pair of plain or quoted scalars, and what follows it.
_PAIR = re.compile(r' *([A-Za-z0-9_.+~/][A-Za-z0-9_.+~/-]*): +(?:"([^"\\]*)"|\'([^\']*)\'|'
                   r'([A-Za-z0-9_.+~/][A-Za-z0-9_.+~/-]*|-[A-Za-z0-9_.+~/][A-Za-z0-9_.+~/-]*)) *([,}])')
_P = r"(?:[A-Za-z0-9_.+~/][A-Za-z0-9_.+~/-]*|-[A-Za-z0-9_.+~/][A-Za-z0-9_.+~/-]*)"
_V = rf"(?:\"[^\"\\]*\"|'[^']*'|{_P})"
# A whole entry line of scalars only, checked at once, then read pair by pair.
_FLAT = re.compile(rf"( *)- +\{{( *{_P}: +{_V} *(?:, *{_P}: +{_V} *)*)\}}(?: +#.*| *)$")
_PAIRS = re.compile(rf" *({_P}): +(\"[^\"\\]*\"|'[^']*'|{_P}) *(?:,|$)")
# A flow sequence of plain scalars (a wave's hosts), checked at once.
_SEQ = re.compile(rf"\[( *{_P} *(?:, *{_P} *)*)\]")
_ITEMS = re.compile(_P)
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"


class _Shape(Exception):
    """The text is not of the shape read here: the full loader takes it."""


class _Scalars:
    """Plain scalars typed as PyYAML types them, each distinct text once."""

    def __init__(self) -> None:
        self._resolver = yaml.resolver.Resolver()
        self._constructor = yaml.constructor.SafeConstructor()
        self.memo: dict[str, Any] = {}  # text -> value
        self._digits = MAX_DIGITS.value()

    def plain(self, text: str) -> Any:
        hit = self.memo.get(text, _MISSING)
        if hit is not _MISSING:
            return hit
        if text[0] not in _TYPED_FIRST:
            return text  # no implicit type starts with this character: a string
        tag = self._resolver.resolve(yaml.ScalarNode, text, (True, False))
        if tag == _STR:
            value: Any = text
        else:
            if tag == _INT and sum(c.isdigit() for c in text) > self._digits:
                raise _Shape  # the full loader refuses it with the limit's message
            try:
                value = self._constructor.construct_object(yaml.ScalarNode(tag, text))
            except Exception:  # a date like 2024-13-45: the full loader is the one to judge it
                raise _Shape from None
            if isinstance(value, list | dict):
                raise _Shape
        # Versions, machine types and counts repeat on every line; names do not, but keeping
        # them costs no more than the document that holds them anyway.
        self.memo[text] = value
        return value


_MISSING = object()
# First characters of plain scalars PyYAML may type as something other than a string.
_TYPED_FIRST = frozenset(k for k in yaml.resolver.Resolver.yaml_implicit_resolvers if k)


class _Line:
    """One line's flow collection, read left to right."""

    def __init__(self, text: str, line: int, scalars: _Scalars) -> None:
        self.text, self.pos, self.line, self.scalars = text, 0, line, scalars
        self.nodes = 0

    def skip(self) -> None:
        self.pos = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def value(self) -> Any:
        self.skip()
        c = self.peek()
        if c == "{":
            return self.mapping()
        if c == "[":
            return self.sequence()
        return self.scalar()

    def scalar(self) -> Any:
        self.nodes += 1
        m = _QUOTED.match(self.text, self.pos)
        if m is not None:
            self.pos = m.end()
            return m[1] if m[1] is not None else m[2]
        m = _PLAIN.match(self.text, self.pos)
        if m is None:
            raise _Shape
        self.pos = m.end()
        return self.scalars.plain(m[0])

    def flat(self) -> LineDict | None:
        """A mapping of scalars, read pair by pair; None (and nothing read) if it is not."""
        start, out = self.pos, LineDict()
        out.line, out.key_lines = self.line, {}
        plain, text, pos, line = self.scalars.plain, self.text, self.pos + 1, self.line
        count = 1
        while True:
            m = _PAIR.match(text, pos)
            if m is None:
                self.pos = start
                return None
            key = plain(m[1])
            if not isinstance(key, str | int | float | bool) or key in out:
                raise _Shape
            out[key] = m[2] if m[2] is not None else m[3] if m[3] is not None else plain(m[4])
            out.key_lines[key] = line
            count += 2
            pos = m.end()
            if m[5] == "}":
                self.pos, self.nodes = pos, self.nodes + count
                return out

    def mapping(self) -> LineDict:
        if self.peek() == "{" and self.text[self.pos + 1:self.pos + 2] != "}":
            found = self.flat()
            if found is not None:
                return found
        self.nodes += 1
        out = LineDict()
        out.line, out.key_lines = self.line, {}
        self.pos += 1
        self.skip()
        if self.peek() == "}":
            self.pos += 1
            return out
        while True:
            self.skip()
            key = self.scalar()
            if not isinstance(key, str | int | float | bool) or key in out:
                raise _Shape  # a duplicate key: the full loader names both lines
            if self.text[self.pos:self.pos + 2] != ": ":
                raise _Shape
            self.pos += 2
            out[key] = self.value()
            out.key_lines[key] = self.line
            if self.closes("}"):
                return out

    def sequence(self) -> LineList:
        self.nodes += 1
        out = LineList()
        out.line, out.item_lines = self.line, []
        whole = _SEQ.match(self.text, self.pos)
        if whole is not None:
            memo, plain = self.scalars.memo, self.scalars.plain
            out.extend(memo[t] if t in memo else plain(t) for t in _ITEMS.findall(whole[1]))
            out.item_lines = [self.line] * len(out)
            self.nodes += len(out)
            self.pos = whole.end()
            return out
        self.pos += 1
        self.skip()
        if self.peek() == "]":
            self.pos += 1
            return out
        while True:
            out.append(self.value())
            out.item_lines.append(self.line)
            if self.closes("]"):
                return out

    def closes(self, bracket: str) -> bool:
        """After an item: True past the closing ``bracket``, False past a comma."""
        self.skip()
        c = self.peek()
        self.pos += 1
        if c == bracket:
            return True
        if c != ",":
            raise _Shape
        return False


def _rest_is_blank(line: _Line) -> bool:
    line.skip()
    rest = line.text[line.pos:]
    return rest == "" or (rest.startswith("#") and line.pos > 0 and line.text[line.pos - 1] == " ")


def _flat(body: str, n: int, scalars: _Scalars) -> LineDict:
    out = LineDict()
    memo, plain = scalars.memo, scalars.plain
    for k, v in _PAIRS.findall(body):
        key = memo[k] if k in memo else plain(k)
        if key.__class__ not in _KEYS or key in out:
            raise _Shape
        out[key] = v[1:-1] if v[0] in "\"'" else memo[v] if v in memo else plain(v)
    out.line, out.key_lines = n, dict.fromkeys(out, n)
    return out


_KEYS = (str, int, float, bool)


def read_flow_lines(text: str) -> LineDict | None:
    """``text`` read as the full loader would, if it is a plan written one entry per line."""
    try:
        return _read(text)
    except (_Shape, IndexError):
        return None


def _read(text: str) -> LineDict | None:
    if "\t" in text or "\r" in text or "&" in text or "*" in text or "!" in text:
        return None  # tabs, CR line ends, anchors, aliases, tags: the full loader's
    scalars = _Scalars()
    doc: LineDict | None = None
    section: LineList | None = None
    indent: int | None = None
    nodes, limit = 0, MAX_NODES.value()
    empty: set[str] = set()  # keys written "key: []"
    for n, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        top = _TOP.match(raw)
        if top is not None:
            key = scalars.plain(top[1])
            if not isinstance(key, str):
                return None  # yes:, on:, null: ... are not the keys they look like
            if doc is None:
                doc = LineDict()
                doc.line, doc.key_lines = n, {}
                nodes += 1
            if key in doc:
                return None
            section = LineList()
            section.line, section.item_lines = n, []
            doc[key], doc.key_lines[key] = section, n
            nodes += 2
            indent = None
            if top[2]:  # key: []
                section = None
                empty.add(key)
            continue
        flat = _FLAT.match(raw)
        item = flat or _ITEM.match(raw)
        if item is None or section is None:
            return None
        if indent is None:
            indent = len(item[1])
            section.line = n  # a block sequence starts at its first item
        elif len(item[1]) != indent:
            return None
        if flat is not None:
            entry = _flat(flat[2], n, scalars)
            section.append(entry)
            section.item_lines.append(n)
            nodes += 1 + 2 * len(entry)
            if nodes > limit:
                return None
            continue
        line = _Line(raw, n, scalars)
        line.pos = len(item[1]) + raw[len(item[1]):].index("{")
        entry = line.mapping()
        if not _rest_is_blank(line):
            return None
        section.append(entry)
        section.item_lines.append(n)
        nodes += line.nodes
        if nodes > limit:
            return None  # the full loader says which limit, and how to raise it
    if doc is None:
        return None
    for key, value in list(doc.items()):
        if isinstance(value, LineList) and not value and value.line == doc.key_lines[key] and (
                key not in empty):
            doc[key] = None  # "key:" with nothing under it
    return doc
