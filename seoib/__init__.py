"""seoib-engine: x2APIC Suppress-EOI-Broadcast policy and migration safety for KVM/QEMU.

The API a program needs, imported on first use so that ``import seoib`` (and
the CLI) stays cheap:

>>> from seoib import Engine
>>> verdict = Engine().policy("kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2",
...                          "machine=q35,irqchip=split,guest=windows-hyperv")
>>> verdict["policy"], verdict["outcome"], verdict["witness"]["agrees"]
('respected', 'ok', True)

``Engine`` memoizes by class; ``load_rules`` builds (or reads from the cache) a
rule set, ``policy_verdict``/``migrate_verdict`` answer against one directly;
``PolicyVerdict`` and ``MigrateVerdict`` type what they return (the shapes of
schemas/*-output.schema.json). Every error a user can cause is a ``SeoibError``
carrying its exit code; ``Disagreement`` (exit 4) means the rules and the
simulator differ. Where the code lives: docs/architecture.md.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.2.0"

__all__ = ["BadInput", "Disagreement", "Engine", "MigrateVerdict", "PolicyVerdict", "RuleError", "RuleSet",
           "SeoibError", "SpecError", "load_rules", "migrate_verdict", "policy_verdict"]

_LAZY = {
    "Engine": "query.api", "policy_verdict": "query.verdicts", "migrate_verdict": "query.verdicts",
    "PolicyVerdict": "query.verdict_types", "MigrateVerdict": "query.verdict_types",
    "RuleSet": "rules.ruleset", "load_rules": "rules.ruleset",
    "SeoibError": "errors", "BadInput": "errors", "SpecError": "errors", "RuleError": "errors",
    "Disagreement": "errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'seoib' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"seoib.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
