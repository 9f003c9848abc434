"""The named switches of rules/assumptions.yaml, and the rule data that reads them.

Contract: :func:`load_assumptions` turns the (overlay-merged) file into
:class:`~seoib.rules.language.Assumption` records, checking after the merge that
every switch has a description, a default and a source and that its value is one
of its values (a machine type version X.Y where it lists none), each problem with
``file:line``. :func:`switched` resolves a rule-data value written
``{assume: <id>}`` (in guests.yaml and designs.yaml) to the switch's value in
force, and checks that every value the switch may take is allowed there, so
flipping a switch can never make the rules invalid.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import Location, RuleError
from .language import Assumption
from .overlay import item_location

if TYPE_CHECKING:
    from ..yamlio import LineDict

__all__ = ["load_assumptions", "switched"]

Problem = tuple[Location, str]
_RELEASE = re.compile(r"^[0-9]{1,9}\.[0-9]{1,9}$")


def _one(entry: Mapping[str, Any], loc: Location) -> tuple[Assumption | None, list[Problem]]:
    missing = [k for k in ("description", "default", "source") if k not in entry]
    if missing:
        return None, [(loc, f"assumption {entry['id']}: {', '.join(missing)} missing (a new switch "
                            "needs them; an overlay may set only the value of a known one)")]
    values = tuple(entry["values"]) if "values" in entry else None
    value = entry.get("value", entry["default"])
    problems = []
    for what, v in (("default", entry["default"]), ("value", value)):
        ok = v in values if values is not None else bool(_RELEASE.match(v))
        if not ok:
            allowed = ", ".join(values) if values is not None else "a machine type version X.Y"
            problems.append((loc, f"assumption {entry['id']}: {what} {v!r} is not {allowed}"))
    set_by = loc if "value" in entry else None
    return Assumption(entry["id"], entry["description"], entry["default"], value, values,
                      entry["source"], loc, set_by), problems


def load_assumptions(doc: LineDict | None, source: str) -> dict[str, Assumption]:
    """The switches of ``doc`` (None: a rule set without the file has none)."""
    if doc is None:
        return {}
    out: dict[str, Assumption] = {}
    problems: list[Problem] = []
    entries = doc["assumptions"]
    for i, entry in enumerate(entries):
        switch, found = _one(entry, item_location(entries, i, source))
        problems += found
        if switch is not None:
            out[switch.id] = switch
    if problems:
        raise RuleError.from_problems(problems)
    return out


def switched(value: Any, switches: Mapping[str, Assumption], allowed: Iterable[Any] | None,
             owner: str, loc: Location, problems: list[Problem]) -> tuple[Any, str | None]:
    """``(value in force, switch id)`` for ``{assume: id}``; ``(value, None)`` otherwise.

    ``allowed`` is the domain the value must come from (None: any); a switch that could
    take a value outside it is a problem, whatever its value today.
    """
    if not isinstance(value, Mapping):
        return value, None
    name = value["assume"]
    switch = switches.get(name)
    if switch is None:
        problems.append((loc, f"{owner}: no assumption {name!r} in assumptions.yaml "
                              f"(known: {', '.join(switches) or 'none'})"))
        return None, None
    if allowed is not None:
        domain = list(allowed)
        outside = [v for v in switch.values or (switch.value,) if v not in domain]
        if outside:
            problems.append((loc, f"{owner}: assumption {name} may be {', '.join(map(repr, outside))}, "
                                  f"which is not allowed here ({', '.join(map(str, domain))})"))
    return switch.value, name
