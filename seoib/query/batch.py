"""Batch queries: JSON Lines in, one JSON verdict per line out, in order.

A policy line is ``{"host": SPEC, "vm": SPEC}``, a migrate line
``{"src": SPEC, "dst": SPEC, "vm": SPEC, "snapshot": false}``; a SPEC is a spec
string (``kernel=7.0.3,qemu=11.0.0``) or a mapping of the same keys. Lines go
through one :class:`seoib.query.api.Engine`, so a batch costs its classes, not its
lines. A bad line answers ``{"error": {"message", "location", "line"}}`` on its
own line and the run goes on. The exit code is the worst of the lines: 0/1/2 by
severity, 3 if any line was bad, 4 if the simulator disagreed with any verdict.

Input is read in bounded pieces (:func:`read_lines`): a line longer than
``MAX_LINE`` is answered with an error and skipped, and an input that is not
JSON Lines at all - a line without an end for ``MAX_SKIP`` bytes (``/dev/zero``
through a pipe), or ``MAX_GARBAGE`` lines in a row that are not JSON (random
bytes) - stops the batch with one refusal (exit 3) after the answers so far.
``view="compact"`` writes :mod:`seoib.query.compact` lines instead of whole
verdicts (``explain`` adds the reasons).

The decision service answers through the same :func:`answer`, with
``allow_files=False``: a network client never makes the service read a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ..errors import BadInput, Location, SeoibError
from ..files import loads_json
from ..vocabulary import EXIT_BY_SEVERITY
from .api import Engine

__all__ = ["FIELDS", "MAX_GARBAGE", "MAX_LINE", "MAX_SKIP", "CompactEncoder", "Garbage", "VerdictEncoder",
           "answer", "answer_lines", "error_object", "line_exit", "parse_line", "read_lines", "run_batch"]

FIELDS: dict[str, dict[str, tuple[bool, type | tuple[type, ...]]]] = {
    # kind -> key -> (required, accepted JSON types)
    "policy": {"host": (True, (str, dict)), "vm": (True, (str, dict))},
    "migrate": {"src": (True, (str, dict)), "dst": (True, (str, dict)), "vm": (True, (str, dict)),
                "snapshot": (False, bool)},
}
MAX_LINE = 1 << 20  # bytes of one line
MAX_SKIP = 16 << 20  # bytes skipped looking for the end of an overlong line before giving up
MAX_GARBAGE = 1000  # lines in a row that are not JSON before the input is refused as a whole


class _Overlong:
    """Stands for a line longer than MAX_LINE (its text is never held)."""


OVERLONG = _Overlong()


def read_lines(stream: Any, source: str) -> Iterator[bytes | _Overlong]:
    """The lines of a binary stream, each read with a bound: at most MAX_LINE bytes are held.

    A longer line yields OVERLONG and is skipped to its end; an end that does not
    come within MAX_SKIP bytes is BadInput (exit 3): the input is not JSON Lines.
    """
    readline = stream.readline
    n = 0
    while True:
        raw = readline(MAX_LINE + 1)
        if not raw:
            return
        n += 1
        if len(raw) <= MAX_LINE or raw.endswith(b"\n"):
            yield raw
            continue
        skipped = len(raw)
        while not raw.endswith(b"\n"):
            raw = readline(1 << 20)
            if not raw:
                break
            skipped += len(raw)
            if skipped > MAX_SKIP:
                raise BadInput(f"line {n} runs past {MAX_SKIP} bytes without a line end: the input "
                               "is not JSON Lines", Location(source))
        yield OVERLONG


def parse_line(raw: str | bytes) -> Any:
    """One JSON Lines line as a request object; BadInput (its message only) when it is not."""
    if not raw.strip():
        raise BadInput("empty line (expected a JSON object)")
    try:
        return loads_json(raw, Location("line"))
    except BadInput as err:  # the batch names the line itself
        raise BadInput(err.message) from None


def _check(kind: str, obj: Any, allow_files: bool) -> None:
    if not isinstance(obj, dict):
        raise BadInput(f"expected a JSON object with keys {', '.join(FIELDS[kind])}")
    fields = FIELDS[kind]
    for key in obj:
        if key not in fields:
            raise BadInput(f"unknown key {key!r} (known: {', '.join(fields)})")
    for key, (required, types) in fields.items():
        if key not in obj:
            if required:
                raise BadInput(f"missing key {key!r}")
            continue
        value = obj[key]
        if not isinstance(value, types) or (types is bool) != isinstance(value, bool):
            raise BadInput(f"{key} must be {_type_words(types)}")
        if not allow_files and isinstance(value, str) and value.lstrip().startswith("@"):
            raise BadInput(f"{key}: @file specs are not accepted here; send the spec itself")


def _type_words(types: type | tuple[type, ...]) -> str:
    if types is bool:
        return "true or false"
    return "a spec string or an object"


def answer(engine: Engine, kind: str, obj: Any, *, allow_files: bool = True) -> dict[str, Any]:
    """The verdict for one request object; SeoibError when it is unusable."""
    _check(kind, obj, allow_files)
    if kind == "policy":
        return engine.policy(obj["host"], obj["vm"])
    return engine.migrate(obj["src"], obj["dst"], obj["vm"], snapshot=obj.get("snapshot", False))


def error_object(err: SeoibError | ValueError, location: str, line: int | None = None) -> dict[str, Any]:
    """``{"error": {...}}`` for a bad request; the spec's own field leads the message."""
    message = str(err) if isinstance(err, SeoibError) else f"invalid JSON: {err}"
    out: dict[str, Any] = {"message": message, "location": location}
    if line is not None:
        out["line"] = line
    return {"error": out}


def line_exit(verdict: Mapping[str, Any]) -> int:
    if "error" in verdict:
        return 3
    if verdict.get("witness", {}).get("agrees") is False:
        return 4
    return EXIT_BY_SEVERITY[verdict["severity"]]


def _compact_dumps() -> Callable[[Any], str]:
    """``json.JSONEncoder(separators=(",", ":")).encode``, without building the C encoder
    anew for every call (a third of the cost of encoding a short list).

    The one difference: no circular-reference check, and verdicts are trees.
    """
    base = json.JSONEncoder(separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the plain encoder
        return base.encode
    c_encode = make(None, base.default, json.encoder.encode_basestring_ascii, None, ":", ",",
                    False, False, True)
    as_string = json.encoder.encode_basestring_ascii
    join = "".join

    def dumps(o: Any) -> str:
        if type(o) is str:
            return str(as_string(o))
        return join(c_encode(o, 0))

    return dumps


class VerdictEncoder:
    """Compact JSON of verdicts; a part met again (the same object) is encoded once.

    Verdicts of one class share most parts, and the Engine hands out one
    ``host``/``vm`` part per distinct spec, so a line mostly pays for its reasons.
    """

    PER_LINE = frozenset({"reasons", "notes", "unconfirmed", "assumptions"})  # built anew per line
    MAX_PARTS = 100_000

    def __init__(self) -> None:
        self._dumps = _compact_dumps()
        # (key, id of the value) -> (value kept alive, '"key":' + its JSON)
        self._parts: dict[tuple[str, int], tuple[Any, str]] = {}
        self._keys: dict[str, str] = {}
        # id of a list item -> (the item kept alive, its JSON)
        self._items: dict[int, tuple[Any, str]] = {}

    def _key(self, k: str) -> str:
        kt = self._keys.get(k)
        if kt is None:
            kt = self._keys[k] = self._dumps(k) + ":"
        return kt

    def _list(self, items: list[Any]) -> str:
        """``dumps(items)``, each item written once per object (what the encoder would write:
        the items' JSON joined by commas, in brackets)."""
        if not items:
            return "[]"
        memo, dumps, out = self._items, self._dumps, []
        for x in items:
            hit = memo.get(id(x))
            if hit is None or hit[0] is not x:
                if len(memo) > self.MAX_PARTS:
                    memo.clear()
                hit = memo[id(x)] = (x, dumps(x))
            out.append(hit[1])
        return "[" + ",".join(out) + "]"

    def encode(self, verdict: Mapping[str, Any]) -> str:
        if "error" in verdict:
            return self._dumps(verdict)
        dumps, parts, per_line = self._dumps, self._parts, self.PER_LINE
        out = []
        for k, v in verdict.items():
            if k in per_line:
                # A new list per line, of parts (reasons) shared between lines.
                out.append(self._key(k) + (self._list(v) if type(v) is list else dumps(v)))
                continue
            fk = (k, id(v))
            hit = parts.get(fk)
            if hit is None or hit[0] is not v:
                if len(parts) > self.MAX_PARTS:
                    parts.clear()
                hit = parts[fk] = (v, self._key(k) + dumps(v))
            out.append(hit[1])
        return "{" + ",".join(out) + "}"


class CompactEncoder:
    """Compact lines (:mod:`seoib.query.compact`); a verdict object met again is encoded once."""

    MAX_ITEMS = 50_000

    def __init__(self, rules: frozenset[str], explain: bool = False) -> None:
        from .compact import compact_json

        self._compact = compact_json
        self._rules = rules
        self._explain = explain
        self._done: dict[int, tuple[Any, str]] = {}

    def encode(self, verdict: Mapping[str, Any]) -> str:
        hit = self._done.get(id(verdict))
        if hit is None or hit[0] is not verdict:
            if len(self._done) > self.MAX_ITEMS:
                self._done.clear()
            hit = self._done[id(verdict)] = (verdict, self._compact(verdict, self._rules,
                                                                    explain=self._explain))
        return hit[1]


class Garbage:
    """Lines in a row that were not JSON, carried from chunk to chunk; ``stop`` is set
    (the input refused as a whole) when they reach MAX_GARBAGE."""

    def __init__(self) -> None:
        self.run = 0
        self.stop: BadInput | None = None


def answer_lines(engine: Engine, kind: str, lines: Iterable[tuple[int, bytes | str | _Overlong]],
                 source: str, encoder: VerdictEncoder | CompactEncoder,
                 garbage: Garbage | None = None) -> tuple[list[str], int, list[str]]:
    """(JSON lines, worst exit code, disagreement messages) for numbered input lines.

    With ``garbage``, lines that are not JSON are counted; at MAX_GARBAGE in a row the
    answers stop there and ``garbage.stop`` says why.
    """
    worst = 0
    out: list[str] = []
    disagreements: list[str] = []
    for n, raw in lines:
        try:
            if isinstance(raw, _Overlong):
                raise BadInput(f"line longer than {MAX_LINE} bytes")
            try:
                obj = parse_line(raw)
            except BadInput:
                if garbage is not None:
                    garbage.run += 1
                    if garbage.run >= MAX_GARBAGE:
                        garbage.stop = BadInput(f"{MAX_GARBAGE} lines in a row are not JSON (the last "
                                                f"is line {n}): the input is not JSON Lines",
                                                Location(source))
                        break
                raise
            if garbage is not None:
                garbage.run = 0
            verdict = answer(engine, kind, obj)
        except SeoibError as err:
            verdict = error_object(err, f"{source}:{n}", n)
        out.append(encoder.encode(verdict))
        code = line_exit(verdict)
        if code == 4:
            disagreements.append("; ".join(verdict["witness"].get("differences", []))
                                 or "no details")
        worst = max(worst, code)  # 4 > 3 > 2 > 1 > 0: the codes are ranked as numbers
    return out, worst, disagreements


CHUNK = 2048  # lines per unit of work: big enough to amortise, small enough to stream


def _chunks(lines: Iterable[Any], size: int) -> Iterator[list[tuple[int, Any]]]:
    chunk: list[tuple[int, Any]] = []
    try:
        for item in enumerate(lines, 1):
            chunk.append(item)
            if len(chunk) == size:
                yield chunk
                chunk = []
    except BadInput:  # the input as a whole: the lines before it are answered first
        if chunk:
            yield chunk
        raise
    if chunk:
        yield chunk


def run_batch(engine: Engine, kind: str, lines: Iterable[str | bytes | _Overlong], source: str,
              write: Callable[[str], Any], *, flush: Callable[[], Any] | None = None,
              settle: Callable[[], Any] | None = None, view: str = "full",
              explain: bool = False) -> int:
    """Answer every line of ``lines`` in order; return the batch's exit code.

    With ``flush`` (a stream such as a scheduler's pipe), each answer is written
    and flushed as soon as its line is read; otherwise output goes in chunks.
    ``settle`` runs after each chunk (the CLI hands the memos to the cycle collector's
    permanent generation there). ``view="compact"`` writes compact lines (``explain``:
    with their reasons). BadInput when the input as a whole is not JSON Lines, after
    every answer before it was written.

    One process on purpose: a class's witness comes from its first line, so one
    engine over the whole batch keeps the output independent of any chunking.
    """
    import sys

    worst = 0
    encoder: VerdictEncoder | CompactEncoder
    if view == "compact":
        from .compact import rule_ids

        encoder = CompactEncoder(rule_ids(engine.rs), explain)
    else:
        encoder = VerdictEncoder()
    garbage = Garbage()
    for chunk in _chunks(lines, 1 if flush else CHUNK):
        out, code, disagreements = answer_lines(engine, kind, chunk, source, encoder, garbage)
        if out:
            write("\n".join(out) + "\n")
        for diffs in disagreements:
            sys.stderr.write(f"seoib: the solver and the simulator disagree: {diffs}\n")
        worst = max(worst, code)
        if flush:
            flush()
        if garbage.stop is not None:
            raise garbage.stop
        if settle:
            settle()
    return worst
