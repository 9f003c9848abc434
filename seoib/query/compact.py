"""The compact verdict: the decision in at most 300 bytes of JSON.

A scheduler asking thousands of questions reads the outcome and whether it
blocks; the full verdict (2-5 kB: resolved specs, alternatives, reasons with
their sources, the simulator's run) is for a person. The compact form keeps

- ``command``, ``outcome``, ``severity``;
- ``policy`` (for a migration the source's, with ``dst_policy`` the
  destination's, null where the guest never runs there);
- ``agrees``: whether the simulator reproduced the verdict (null when it was
  not asked) - a disagreement stays visible, and the batch still exits 4;
- ``rules``: the ids of the rules that decided it, in the verdict's reason
  order, without the data citations (kernel, QEMU, design entries); when they
  would not fit, as many as fit and ``more``: how many were left out;
- ``inferred: true`` when a release newer than the rules was judged by inference.

A bad line is ``{"error": {"message", "location", "line"}}`` with the message
shortened to fit. ``explain`` adds the verdict's ``reasons`` (rule, text,
source): the explanation on request, and then the line may be longer.
``schemas/compact-output.schema.json`` is the shape.

>>> v = {"command": "policy", "outcome": "storm", "severity": "block", "policy": "quirked",
...      "witness": {"agrees": True}, "reasons": [{"rule": "effect.storm"}, {"rule": "spec"}]}
>>> compact_json(v, frozenset({"effect.storm"}))
'{"command":"policy","outcome":"storm","severity":"block","policy":"quirked","agrees":true,"rules":["effect.storm"]}'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..rules.ruleset import RuleSet

__all__ = ["MAX_BYTES", "compact", "compact_json", "rule_ids"]

MAX_BYTES = 300
_DUMPS = json.JSONEncoder(separators=(",", ":")).encode
_RULE_IDS: dict[int, tuple[RuleSet, frozenset[str]]] = {}


def rule_ids(rs: RuleSet) -> frozenset[str]:
    """The ids of the rule set's rules (what a reason cites that is a rule, not rule data)."""
    hit = _RULE_IDS.get(id(rs))
    if hit is None or hit[0] is not rs:
        if len(_RULE_IDS) > 16:
            _RULE_IDS.clear()
        hit = _RULE_IDS[id(rs)] = (rs, frozenset(r.id for q in rs.queries.values() for r in q.rules))
    return hit[1]


def _error(err: Mapping[str, Any]) -> dict[str, Any]:
    out = {"error": {k: err[k] for k in ("message", "location", "line") if k in err}}
    message = str(out["error"].get("message", ""))
    while len(_DUMPS(out)) > MAX_BYTES:
        if len(message) <= 1:  # the location alone is too long: shorten it as well
            out["error"]["location"] = str(out["error"].get("location", ""))[:40] + "..."
            break
        message = message[: max(1, min(len(message) - 8, len(message) * 3 // 4))]
        out["error"]["message"] = message + "..."
    return out


def compact(verdict: Mapping[str, Any], rules: frozenset[str], *, explain: bool = False) -> dict[str, Any]:
    """The compact form of a verdict (or of an ``{"error": ...}`` line)."""
    if "error" in verdict:
        return _error(verdict["error"])
    out: dict[str, Any] = {"command": verdict["command"], "outcome": verdict["outcome"],
                           "severity": verdict["severity"]}
    if "src_state" in verdict:
        dst = verdict.get("dst_state")
        out["policy"] = verdict["src_state"]["policy"]
        out["dst_policy"] = dst["policy"] if dst else None
    else:
        out["policy"] = verdict["policy"]
    out["agrees"] = verdict.get("witness", {}).get("agrees")
    if verdict.get("inferred"):
        out["inferred"] = True
    ids = list(dict.fromkeys(r["rule"] for r in verdict.get("reasons", ()) if r["rule"] in rules))
    out["rules"] = ids
    if len(_DUMPS(out)) > MAX_BYTES:
        # Keep the leading (deciding) rules that fit beside the count of the rest.
        while ids and len(_DUMPS({**out, "rules": ids, "more": len(out["rules"]) - len(ids)})) > MAX_BYTES:
            ids = ids[:-1]
        out["more"] = len(out["rules"]) - len(ids)
        out["rules"] = ids
    if explain:
        out["reasons"] = verdict.get("reasons", [])
    return out


def compact_json(verdict: Mapping[str, Any], rules: frozenset[str], *, explain: bool = False) -> str:
    """:func:`compact` as one line of JSON (ASCII; at most MAX_BYTES unless ``explain``)."""
    return _DUMPS(compact(verdict, rules, explain=explain))
