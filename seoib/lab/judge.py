"""Hold each observation against the engine's verdict for the same configuration.

Contract: :func:`judge` asks the engine (an :class:`~seoib.query.api.Engine`)
the observation's own ``engine_input`` and compares, per kind:

- power-on: whether QEMU started (the engine's ``start-fails``), the irqchip mode
  and IOAPIC QEMU built, the policy and the SEOIB flags KVM was given;
- guest: LVR bit 24 as the guest read it, the flags, and the outcome the guest
  counted (storm, stuck, ok) against the engine's outcome for the windows-hyperv
  profile (``not-applicable`` is ok: no guest can see SEOIB there);
- migration: completed / refused / dest-abort / start-failed against the
  engine's outcome (``unsupported`` is a start failure; every outcome after which
  the VM runs is a completion), and the flags the destination set.

Every difference is one line naming both sides. A run that showed nothing
(``inconclusive``) never counts as agreement. A spec the engine refuses is a
difference too (the engine could not judge what really ran).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import SeoibError
from ..query.api import Engine
from .observation import Judgement, Observation

__all__ = ["COMPLETES", "judge"]

SEOIB_BITS = 0xC
# migration outcomes after which the VM runs on the destination (docs/contracts.md)
COMPLETES = frozenset({"ok", "storm-risk", "storm", "stuck", "cpu-model-change"})
_MIGRATION = {"refused": {"refused"}, "dest-abort": {"dest-abort"}, "start-failed": {"unsupported"},
              "completed": COMPLETES}
_GUEST = {"storm": "storm", "stuck": "stuck", "ok": "ok", "not-applicable": "ok",
          "start-fails": "start-failed"}


def _summary(verdict: Any) -> dict[str, Any]:
    state = verdict if "policy" in verdict else verdict.get("src_state") or {}
    out = {"outcome": verdict["outcome"], "severity": verdict["severity"],
           "policy": state.get("policy"), "kvm_flags": state.get("kvm_flags"),
           "lvr_seoib": state.get("lvr_seoib"), "irqchip": verdict["vm"]["irqchip"],
           "ioapic": verdict["vm"]["ioapic"], "rules": [r["rule"] for r in verdict["reasons"]]}
    if "dst_state" in verdict:
        dst = verdict["dst_state"]
        out["dst_policy"] = dst["policy"] if dst else None
        out["dst_kvm_flags"] = dst["kvm_flags"] if dst else None
    return out


def _flags(text: Any) -> int:
    return int(text, 16) if isinstance(text, str) else 0


def _state_differences(engine: dict[str, Any], seen: dict[str, Any]) -> list[str]:
    out = []
    if seen.get("policy") != engine["policy"] and not (seen.get("policy") == "n/a"
                                                       and engine["policy"] == "n/a"):
        out.append(f"policy: QEMU/KVM {seen.get('policy')}, engine {engine['policy']}")
    real = _flags(seen["shim"]["seoib_flags"])
    want = (engine["kvm_flags"] or 0) & SEOIB_BITS
    if real != want:
        out.append(f"SEOIB flags given to KVM: real 0x{real:x}, engine 0x{want:x}")
    return out


def _poweron(engine: dict[str, Any], seen: dict[str, Any]) -> list[str]:
    fails = engine["outcome"] == "start-fails"
    if not seen["started"]:
        return [] if fails else [f"QEMU refused to start ({seen.get('failure')}); the engine "
                                 f"says it starts ({engine['outcome']}, policy {engine['policy']})"]
    if fails:
        return ["QEMU started; the engine says it does not (start-fails)"]
    out = []
    if str(seen["irqchip"]).startswith("unknown"):
        pass  # nothing to hold the engine's irqchip to
    elif seen["irqchip"] != engine["irqchip"]:
        out.append(f"irqchip: QEMU built {seen['irqchip']}, engine {engine['irqchip']}")
    # isapc has no IOAPIC device; with kernel-irqchip=on KVM still holds its own in-kernel one
    elif seen["irqchip"] == "on" and seen["ioapic"] not in ("in-kernel", None):
        out.append(f"IOAPIC: QEMU built {seen['ioapic']}, engine the in-kernel one")
    elif seen["irqchip"] in ("split", "off") and seen["ioapic"] != engine["ioapic"]:
        out.append(f"IOAPIC version: QEMU built {seen['ioapic']}, engine {engine['ioapic']}")
    return out + _state_differences(engine, seen)


def _guest(engine: dict[str, Any], seen: dict[str, Any]) -> list[str]:
    out = []
    expected = _GUEST.get(engine["outcome"], engine["outcome"])
    if seen["outcome"] != expected:
        out.append(f"guest: {seen['outcome']} ({seen['why']}); engine {engine['outcome']}")
    if seen.get("lvr_seoib") is not None and seen["lvr_seoib"] != engine["lvr_seoib"]:
        out.append(f"LVR bit 24: the guest read {int(seen['lvr_seoib'])}, engine "
                   f"{int(bool(engine['lvr_seoib']))}")
    return out + _state_differences(engine, seen)


def _migration(engine: dict[str, Any], seen: dict[str, Any]) -> list[str]:
    outcome = seen["outcome"]
    if engine["outcome"] not in _MIGRATION.get(outcome, set()):
        said = seen.get("dst_message") or seen.get("failure") or seen.get("src_status")
        return [f"migration: {outcome} ({said}); engine {engine['outcome']}"]
    out = []
    if outcome == "completed":
        real = _flags(seen["dst_shim"]["seoib_flags"])
        want = (engine.get("dst_kvm_flags") or 0) & SEOIB_BITS
        if real != want:
            out.append(f"destination's SEOIB flags: real 0x{real:x}, engine 0x{want:x}")
        guest = seen.get("guest")
        expected = _GUEST.get(engine["outcome"], engine["outcome"])
        if guest and guest["outcome"] != expected:
            out.append(f"guest after the migration: {guest['outcome']} ({guest['why']}); "
                       f"engine {engine['outcome']}")
    return out


_COMPARE: dict[str, Callable[[dict[str, Any], dict[str, Any]], list[str]]] = {
    "power-on": _poweron, "guest": _guest, "migration": _migration}


def _inconclusive(obs: Observation) -> str | None:
    seen = obs.observed
    if obs.kind == "guest" and seen.get("outcome") == "inconclusive":
        return str(seen.get("why"))
    if obs.kind == "migration" and seen.get("outcome") == "inconclusive":
        return f"the migration ended neither completed nor refused: {seen}"
    if obs.kind == "migration" and seen.get("guest", {}).get("outcome") == "inconclusive":
        return f"the guest showed nothing after the migration: {seen['guest']['why']}"
    return None


def judge(engine: Engine, obs: Observation) -> Judgement:
    ask = obs.engine_input
    try:
        if ask["query"] == "migrate":
            verdict: Any = engine.migrate(ask["src"], ask["dst"], ask["vm"])
        else:
            verdict = engine.policy(ask["host"], ask["vm"])
    except SeoibError as err:
        return Judgement(False, {"error": str(err)}, (f"the engine cannot judge it: {err}",))
    summary = _summary(verdict)
    witness = bool(verdict["witness"].get("agrees", True))
    why = _inconclusive(obs)
    if why:
        return Judgement(False, summary, (), inconclusive=why, witness_agrees=witness)
    differences = tuple(_COMPARE[obs.kind](summary, obs.observed))
    return Judgement(not differences, summary, differences, witness_agrees=witness)
