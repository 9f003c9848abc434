"""The TypedDicts of seoib.query.verdict_types say what the output schemas say, key for key.

Both ways: a key the schema requires is required in the TypedDict, every other
schema property is an optional key, and the TypedDict has no key the schema
lacks. Verdicts the engine really builds are held to the same keys.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from seoib.paths import schemas_dir
from seoib.query.api import Engine
from seoib.query.verdict_types import (
    Alternative,
    Assumed,
    Finding,
    MigrateVerdict,
    PolicyVerdict,
    Reason,
    RulesRef,
    SourceAfter,
    VMState,
    Witness,
)
from seoib.rules.ruleset import RuleSet


def _schema(name: str) -> dict[str, Any]:
    return json.loads((schemas_dir() / f"{name}-output.schema.json").read_text())


def _at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """A sub-schema by a dotted path; ``[]`` steps into array items, ``|`` into the object branch."""
    node = schema
    for step in path.split(".") if path else []:
        if step == "[]":
            node = node["items"]
        elif step == "|":
            node = next(b for b in node["anyOf"] if b.get("type") == "object")
        else:
            node = node["properties"][step]
    return node


PAIRS = [
    (PolicyVerdict, "policy", ""),
    (MigrateVerdict, "migrate", ""),
    (Witness, "policy", "witness"),
    (Witness, "migrate", "witness"),
    (Reason, "policy", "reasons.[]"),
    (Reason, "migrate", "reasons.[]"),
    (Finding, "policy", "findings.[]"),
    (Finding, "migrate", "findings.[]"),
    (Alternative, "policy", "alternatives.[]"),
    (VMState, "migrate", "src_state.|"),
    (VMState, "migrate", "dst_state.|"),
    (RulesRef, "policy", "rules"),
    (RulesRef, "migrate", "rules"),
    (Assumed, "policy", "assumptions.[]"),
    (Assumed, "migrate", "assumptions.[]"),
    (SourceAfter, "migrate", "source_after.|"),
]


@pytest.mark.parametrize(("typed", "schema", "path"), PAIRS,
                         ids=[f"{t.__name__}-{s}-{p or 'root'}" for t, s, p in PAIRS])
def test_typed_dict_matches_schema(typed: Any, schema: str, path: str) -> None:
    node = _at(_schema(schema), path)
    required = set(node.get("required", ()))
    optional = set(node.get("properties", ())) - required
    assert set(typed.__required_keys__) == required
    assert set(typed.__optional_keys__) == optional


def _keys_fit(typed: Any, obj: dict[str, Any]) -> None:
    assert set(typed.__required_keys__) <= set(obj), set(typed.__required_keys__) - set(obj)
    assert set(obj) <= set(typed.__annotations__), set(obj) - set(typed.__annotations__)


@pytest.mark.parametrize("witness", [True, False])
def test_built_verdicts_have_the_declared_keys(rules: RuleSet, witness: bool) -> None:
    engine = Engine(rules, witness=witness)
    host, old = "kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2", "kernel=7.0.3,qemu=10.2.0"
    policy = engine.policy(host, "machine=q35,irqchip=split")
    _keys_fit(PolicyVerdict, policy)
    for alt in policy["alternatives"]:
        _keys_fit(Alternative, alt)
    for snapshot in (False, True):
        for dst in (host, old):
            migrate = engine.migrate(host, dst, "machine=q35,irqchip=split", snapshot=snapshot)
            _keys_fit(MigrateVerdict, migrate)
            for state in (migrate["src_state"], migrate["dst_state"]):
                if state is not None:
                    _keys_fit(VMState, state)
            for verdict in (policy, migrate):
                _keys_fit(Witness, verdict["witness"])
                for r in verdict["reasons"]:
                    _keys_fit(Reason, r)
                for f in verdict["findings"]:
                    _keys_fit(Finding, f)
