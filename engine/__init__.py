"""seoib-engine: x2APIC Suppress-EOI-Broadcast policy and migration safety for KVM/QEMU.

The API a program needs, imported on first use so that ``import engine`` (and
the CLI) stays cheap::

    from engine import Engine
    Engine().policy("kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2", "machine=q35,irqchip=split")
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["BadInput", "Disagreement", "Engine", "RuleError", "RuleSet", "SeoibError", "SpecError",
           "load_rules", "migrate_verdict", "policy_verdict"]

_LAZY = {
    "Engine": "query.api", "policy_verdict": "query.verdicts", "migrate_verdict": "query.verdicts",
    "RuleSet": "rules.ruleset", "load_rules": "rules.ruleset",
    "SeoibError": "errors", "BadInput": "errors", "SpecError": "errors", "RuleError": "errors",
    "Disagreement": "errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"engine.{module}"), name)
