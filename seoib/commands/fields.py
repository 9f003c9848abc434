"""``--field NAME`` / ``--fields A,B``: print only the named fields of a command's JSON answer.

``seoib policy ... --field outcome`` prints ``storm-risk`` and nothing else;
``--fields policy,severity`` prints ``quirked<TAB>warn`` on one line, or
``{"policy": "quirked", "severity": "warn"}`` with ``--format json``. A name is a
dotted path into the object ``--format json`` prints (its schema in ``schemas/``):
``witness.agrees``, ``dst_state.policy``, ``reasons.0.rule`` (a list index), or
``reasons.rule`` (a list step without an index collects that field of every item). Text
shows a value as ``jq -r`` does: a string as itself, ``null``/``true``/``false`` and
numbers as JSON, a list or object as compact JSON. The first step of every name is
checked against the schema before any work, so a typo is exit 3 at once; a field the
schema allows but this answer lacks (``inferred`` on a verdict that needed no
inference) is ``null``.

>>> verdict = {"outcome": "storm-risk", "severity": "warn",
...            "reasons": [{"rule": "a"}, {"rule": "b"}], "witness": {"agrees": True}}
>>> render_fields(verdict, ["outcome"], "text")
'storm-risk\\n'
>>> render_fields(verdict, ["severity", "witness.agrees", "reasons.rule"], "text")
'warn\\ttrue\\t["a","b"]\\n'
>>> render_fields(verdict, ["outcome", "reasons.0.rule"], "json")
'{"outcome": "storm-risk", "reasons.0.rule": "a"}\\n'
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import BadInput, Location

__all__ = ["add_fields", "check_fields", "render_fields", "select"]

_WHERE = Location("--fields")


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"empty field name in {text!r} (e.g. --fields "
                                         "policy,severity)")
    return names


def add_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fields", "--field", metavar="NAME[,NAME...]", type=_names,
                        action="extend", dest="fields",
                        help="print only these fields of the JSON answer (dotted paths such as "
                             "outcome, witness.agrees, dst_state.policy), tab-separated on one "
                             "line; with --format json, an object of just these fields")


def check_fields(names: list[str] | None, schema: str) -> None:
    """BadInput (exit 3) naming the first field the output schema does not have."""
    if not names:
        return
    from ..paths import schemas_dir

    with (schemas_dir() / f"{schema}-output.schema.json").open(encoding="utf-8") as fh:
        known = sorted(json.load(fh).get("properties", {}))
    for name in names:
        head = name.split(".", 1)[0]
        if head not in known:
            raise BadInput(f"no field {head!r} in the answer (fields: {', '.join(known)})",
                           _WHERE)


def select(obj: Any, path: str, _above: str = "") -> Any:
    """The value at the dotted ``path`` of ``obj``; BadInput when a step does not exist."""
    value = obj
    steps = path.split(".")
    for i, step in enumerate(steps):
        here = ".".join([*([_above] if _above else []), *steps[:i]])
        if value is None:
            return None
        if isinstance(value, dict):
            if step not in value:
                if not here:
                    return None  # allowed by the schema, absent from this answer
                raise BadInput(f"no field {step!r} in {here} (it has: {', '.join(value)})", _WHERE)
            value = value[step]
        elif isinstance(value, list):
            if step.isdigit():
                if int(step) >= len(value):
                    raise BadInput(f"{here} has {len(value)} items, no item {step}", _WHERE)
                value = value[int(step)]
            else:
                rest = ".".join(steps[i:])
                return [select(item, rest, here) for item in value]
        else:
            raise BadInput(f"{here} is a value, it has no field {step!r}", _WHERE)
    return value


def _text(value: Any) -> str:
    if isinstance(value, str):  # one line per answer, whatever a value holds
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return json.dumps(value, separators=(",", ":"))


def render_fields(obj: Any, names: list[str], fmt: str) -> str:
    """The named fields of ``obj``: one tab-separated line (text) or one JSON object."""
    values = {name: select(obj, name) for name in names}
    if fmt == "json":
        return json.dumps(values) + "\n"
    return "\t".join(_text(v) for v in values.values()) + "\n"
