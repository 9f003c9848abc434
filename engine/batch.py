"""Batch queries: JSON Lines in, one JSON verdict per line out, in order.

A policy line is ``{"host": SPEC, "vm": SPEC}``, a migrate line
``{"src": SPEC, "dst": SPEC, "vm": SPEC, "snapshot": false}``; a SPEC is a spec
string (``kernel=7.0.3,qemu=11.0.0``) or a mapping of the same keys. Lines go
through one :class:`engine.api.Engine`, so a batch costs its classes, not its
lines. A bad line answers ``{"error": {"message", "location", "line"}}`` on its
own line and the run goes on. The exit code is the worst of the lines: 0/1/2 by
severity, 3 if any line was bad, 4 if the simulator disagreed with any verdict.

The decision service answers through the same :func:`answer`, with
``allow_files=False``: a network client never makes the service read a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .api import Engine
from .errors import BadInput, SeoibError

__all__ = ["FIELDS", "MAX_LINE", "answer", "error_object", "line_exit", "run_batch"]

FIELDS: dict[str, dict[str, tuple[bool, type | tuple[type, ...]]]] = {
    # kind -> key -> (required, accepted JSON types)
    "policy": {"host": (True, (str, dict)), "vm": (True, (str, dict))},
    "migrate": {"src": (True, (str, dict)), "dst": (True, (str, dict)), "vm": (True, (str, dict)),
                "snapshot": (False, bool)},
}
MAX_LINE = 1 << 20
_EXIT_BY_SEVERITY = {"ok": 0, "warn": 1, "block": 2}


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
    return _EXIT_BY_SEVERITY[verdict["severity"]]


def run_batch(engine: Engine, kind: str, lines: Iterable[str | bytes], source: str,
              write: Callable[[str], Any]) -> int:
    """Answer every line of ``lines``; return the batch's exit code."""
    worst = 0
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    # One verdict object is often shared by many lines: encode it once.
    encoded: dict[int, tuple[dict[str, Any], str]] = {}
    for n, raw in enumerate(lines, 1):
        try:
            if not raw.strip():
                raise BadInput("empty line (expected a JSON object)")
            if len(raw) > MAX_LINE:
                raise BadInput(f"line longer than {MAX_LINE} bytes")
            verdict = answer(engine, kind, json.loads(raw))
        except (SeoibError, ValueError, RecursionError) as err:
            if isinstance(err, RecursionError):
                err = BadInput("JSON nested too deeply")
            verdict = error_object(err, f"{source}:{n}", n)  # type: ignore[arg-type]
        hit = encoded.get(id(verdict))
        if hit is None or hit[0] is not verdict:
            text = dumps(verdict)
            if "error" not in verdict:
                encoded[id(verdict)] = (verdict, text)
        else:
            text = hit[1]
        write(text + "\n")
        code = line_exit(verdict)
        if code == 4:
            engine_disagrees(verdict)
        worst = max(worst, code)  # 4 > 3 > 2 > 1 > 0: the codes are ranked as numbers
    return worst


def engine_disagrees(verdict: Mapping[str, Any]) -> None:
    """Disagreements are loud on stderr too, as for a single query."""
    import sys

    diffs = "; ".join(verdict.get("witness", {}).get("differences", [])) or "no details"
    sys.stderr.write(f"seoib: error: the solver and the simulator disagree: {diffs}\n")
