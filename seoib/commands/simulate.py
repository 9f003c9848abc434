"""``seoib simulate FILE [--format text|json]``: run a simulator scenario.

A scenario is YAML with ``host``, ``vm`` and ``steps`` (``name`` and
``description`` are allowed too). ``host`` and ``vm`` are mappings or
``k=v,k=v`` strings. Mechanistic host keys: ``x2apic-api`` (the probed
KVM_CHECK_EXTENSION mask), ``split-irqchip``, ``seoib``
(none|rfc-v2|machine-gated|accel-property; how each behaves is the simulator's
design code), ``qemu-version`` (a quoted version, e.g. '11.0.0': machine-gated
selects for nothing in a build older than its gate), ``machines`` (a list, or
``a+b`` inside a string), ``name``. Mechanistic VM keys: ``machine``,
``machine-version`` (default: the version in the machine name, none for e.g.
microvm), ``irqchip`` (on|split|off), ``ioapic`` (0x11|0x20), ``ioapic-global``,
``x2apic``, ``guest``, ``seoib-policy``. A host spec with other keys (``kernel``,
``qemu``) is handed to the CLI's resolver; the VM of such a scenario too. ``assume``
(optional) sets named switches for unconfirmed behaviour over the rules' (e.g.
``{windows-sets-svr12: "yes"}``; docs/domain.md, "Assumptions a site can switch").
With ``--backend kvm`` the output says which KVM answered, whether it processed EOIs
at delivery, every EOI exit held and handed on, and which values depend on that.

Steps and ``expect`` keys are the tables ``seoib.sim.scenario.STEPS`` and
``EXPECTS``; the reference at the end of this docstring and the lists in
``seoib simulate --help`` are generated from them.

Counters: events, serviced, deliveries, interrupts, eoi_exits, redeliveries,
storms, stuck_events, wedged_pins, coalesced, throttled, eoir_writes,
eoir_ignored, budget_exhausted.

Exit codes: 0 every expectation holds, 2 one fails, 3 the scenario is invalid.
A scenario without ``expect`` steps runs and says that nothing was checked.
``--example NAME`` runs a scenario shipped in seoib/examples/scenarios/;
``--example`` alone lists them.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from seoib.errors import BadInput, Location
from seoib.examples import example_path, examples
from seoib.kvmhost.host import KvmHost
from seoib.sim.assumptions import DEFAULT, Assumptions
from seoib.sim.config import SimHost, SimVM
from seoib.sim.designs import design_facts
from seoib.sim.scenario import (
    HostResolver,
    ScenarioResult,
    VmResolver,
    load_scenario,
    run_scenario,
)

from .common import path_arg
from .fields import add_fields, check_fields, render_fields
from .scenario_help import SCENARIO_FORMAT, scenario_reference

__doc__ = f"{__doc__}\n{scenario_reference()}"  # one source for the step prose

__all__ = ["add_arguments", "result_json", "run"]

EXIT_OK = 0
EXIT_FAILED = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``FILE``, ``--example`` and ``--format``; the epilog documents the format."""
    parser.add_argument("file", metavar="FILE", nargs="?", type=path_arg, help="scenario YAML file")
    parser.add_argument("--example", metavar="NAME", nargs="?", const="",
                        help="run an example scenario shipped with seoib; without NAME, list them")
    parser.epilog = SCENARIO_FORMAT
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--format", choices=("text", "json"), default="text")
    add_fields(parser)
    parser.add_argument("--rules", metavar="DIR", type=path_arg,
                        help="rule directory for kernel=/qemu= specs (default: built-in rules)")
    parser.add_argument("--backend", choices=("sim", "kvm"), default="sim",
                        help="what runs register-level steps: the simulator (default) or /dev/kvm")


def _host_json(host: SimHost, assume: Assumptions = DEFAULT) -> dict[str, Any]:
    return {
        "name": host.name,
        "x2apic_api": host.x2apic_api,
        "split_irqchip": host.split_irqchip,
        "seoib": host.seoib,
        "qemu_version": host.qemu_version,
        **design_facts(host, assume),
        "machines": sorted(host.machines) if host.machines is not None else None,
    }


def _vm_json(vm: SimVM) -> dict[str, Any]:
    out = asdict(vm)
    out["ioapic_global"] = vm.ioapic_global
    version = vm.machine_version
    out["machine_version"] = ".".join(map(str, version)) if version is not None else None
    return out


def _plain(value: Any) -> Any:
    """JSON-friendly: mapping keys become strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def result_json(result: ScenarioResult) -> dict[str, Any]:
    """The JSON object ``--format json`` prints (schemas/simulate-output.schema.json)."""
    return {
        "command": "simulate",
        "file": result.source,
        "passed": result.passed,
        "host": _host_json(result.host, result.assume),
        "assume": dict(result.assume.values),
        "vm": _vm_json(result.vm),
        "outcome": result.outcome,
        "findings": list(result.findings),
        "expectations": [
            {
                "step": e.step,
                "line": e.line,
                "key": e.key,
                "expected": _plain(e.expected),
                "actual": _plain(e.actual),
                "passed": e.passed,
                "depends_on": list(e.depends_on),
            }
            for e in result.expectations
        ],
        "backend": result.backend,
        "metrics": _plain(result.metrics),
        "state": asdict(result.state) if result.state is not None else None,
        "events": list(result.events),
    }


def _run_on_backend(
    name: str, data: Any, source: str, host_resolver: HostResolver | None, vm_resolver: VmResolver | None,
    assume: Assumptions,
) -> ScenarioResult:
    if name == "sim":
        return run_scenario(data, source, host_resolver=host_resolver, vm_resolver=vm_resolver,
                            assume=assume)
    from seoib.kvmhost.backend import DEVICE, open_backend  # only the kvm backend opens /dev/kvm
    from seoib.kvmhost.host import detect

    backend = open_backend()
    backend.host = detect(DEVICE)  # which KVM answers, and when it processes a guest's EOI
    try:
        return run_scenario(
            data, source, host_resolver=host_resolver, vm_resolver=vm_resolver, backend=backend,
            assume=assume,
        )
    finally:
        backend.close()


_HEX_KEYS = ("last_result", "kvm_flags", "ioapic_version")


def _show(value: Any, hexa: bool = False) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if hexa and isinstance(value, int):
        return hex(value)
    return "null" if value is None else str(value)


def _backend_lines(report: dict[str, Any] | None) -> list[str]:
    """Which KVM answered, when it processed EOIs, and every EOI exit held and handed on."""
    if not report:
        return []
    kvm = report.get("kvm")
    lines = []
    if kvm is not None:
        host = KvmHost(kvm["implementation"], kvm["module"], tuple(kvm["evidence"]),
                       kvm["eoi_at_delivery"])
        lines.append(f"kvm: {host.describe()}")
    holds = report.get("held_eoi_exits") or []
    if holds:
        steps = ", ".join(f"step {h['step']} -> {h['handed_at'] or 'never'}" for h in holds[:8])
        more = f" and {len(holds) - 8} more" if len(holds) > 8 else ""
        lines.append(f"kvm: {len(holds)} EOI exit(s) the kernel took at delivery were held and handed "
                     f"to the IOAPIC at the guest's EOI ({steps}{more}); values marked "
                     "[EOI timing] follow that replay, not the kernel's moment")
    return lines


def result_text(result: ScenarioResult) -> str:
    """Verdict line first, then each expectation with expected vs actual."""
    total = len(result.expectations)
    failed = sum(not e.passed for e in result.expectations)
    tail = f" (outcome {result.outcome})" if result.outcome else ""
    if not total:
        return "\n".join([f"RAN {result.source}: no expect steps, nothing was checked{tail}",
                          *_backend_lines(result.backend)]) + "\n"
    if failed:
        lines = [f"FAIL {result.source}: {failed} of {total} expectations failed{tail}"]
    else:
        lines = [f"PASS {result.source}: {total} expectations hold{tail}"]
    lines += _backend_lines(result.backend)
    for e in result.expectations:
        mark = "ok  " if e.passed else "FAIL"
        where = f"line {e.line}" if e.line else f"step {e.step}"
        note = " [EOI timing]" if "eoi_at_delivery" in e.depends_on else ""
        lines.append(
            f"  {mark} {where}: {e.key}: expected {_show(e.expected, e.key in _HEX_KEYS)}, "
            f"actual {_show(e.actual, e.key in _HEX_KEYS)}{note}"
        )
    return "\n".join(lines) + "\n"


def run(
    args: argparse.Namespace,
    *,
    host_resolver: HostResolver | None = None,
    vm_resolver: VmResolver | None = None,
) -> int:
    """Run the scenario in ``args.file``; returns the exit code.

    Raises
    ------
    seoib.errors.BadInput
        The scenario is invalid (with ``file:line``); the CLI exits 3.
    """
    if getattr(args, "example", None) == "":
        listed = examples()
        width = max(map(len, listed), default=0)
        sys.stdout.write("".join(f"{n:<{width}}  {title}\n" for n, title in listed.items()))
        return EXIT_OK
    if getattr(args, "example", None):
        if args.file:
            raise BadInput("give a scenario FILE or --example NAME, not both", Location(args.file))
        args.file = str(example_path(args.example))
    if not args.file:
        raise BadInput("give a scenario FILE, or --example to list the examples",
                       Location("seoib simulate"))
    check_fields(getattr(args, "fields", None), "simulate")
    data = load_scenario(args.file)
    assume = DEFAULT
    if host_resolver is None and vm_resolver is None:
        # Rule-level specs (kernel=, qemu=, aliases) resolve through the rules, and the
        # rules' switches for what nobody has confirmed apply; the simulator itself never
        # reads the rules.
        from ..query.witness import ScenarioBridge

        bridge = ScenarioBridge(getattr(args, "rules", None))
        host_resolver, vm_resolver = bridge.host, bridge.vm
        assume = bridge.assumptions()
    backend = getattr(args, "backend", "sim")
    result = _run_on_backend(backend, data, str(args.file), host_resolver, vm_resolver, assume)
    if getattr(args, "fields", None):
        sys.stdout.write(render_fields(result_json(result), args.fields, args.format))
    elif getattr(args, "format", "text") == "json":
        sys.stdout.write(json.dumps(result_json(result), indent=2) + "\n")
    else:
        sys.stdout.write(result_text(result))
    return EXIT_OK if result.passed else EXIT_FAILED
