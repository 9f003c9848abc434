"""Hold every verdict against the simulator.

The bridge hands the simulator only mechanism: the kernel's x2apic-api mask,
the QEMU version and the name of the design its build ships, whether the machine
type is registered, and the VM's configuration with the user's ``-global`` and
``-accel`` options. It never passes a derived policy or outcome, nor any design
behaviour read from the rules (lookups, gates, selection kinds): each design is
the simulator's own code, so a misread design in the rules shows as a disagreement.
The one exception is named: the switches of rules/assumptions.yaml (what nobody
has confirmed, each with its default and source) go to the simulator as they
stand, so a site that flips one gets a verdict both sides re-derive, naming it.
A difference is a Disagreement (exit 4), never a quiet verdict.
"""

from __future__ import annotations

from functools import cache, lru_cache
from types import SimpleNamespace
from typing import Any

from ..rules.resolve import ResolvedHost, ResolvedVM, Resolver

__all__ = ["boot_witness", "migration_witness", "sim_assumptions", "sim_host", "sim_vm"]

STATE_KEYS = ("policy", "kvm_flags", "lvr_seoib", "suppression_honored")
# Device events per witness run: a storm shows on the first event, stuck
# interrupts on the first event after a wedged one; more only costs time.
WITNESS_IRQS = 3


@cache
def _sim() -> Any:
    """The simulator's api, config, assumptions and designs modules, imported on first use: commands
    that never simulate never load it, and a verdict pays no import statement per call."""
    from ..sim import api, assumptions, config, designs

    return SimpleNamespace(api=api, config=config, assumptions=assumptions, designs=designs)


def sim_assumptions(resolver: Resolver) -> Any:
    """The switches in force, for the simulator (ValueError: one it has no model of)."""
    memo = resolver.__dict__.get("_sim_assumptions")
    if memo is None:
        pairs = tuple((a.id, a.value) for a in resolver.assumptions.values())
        try:
            memo = _sim().assumptions.Assumptions(pairs)
        except ValueError as err:
            memo = err
        resolver.__dict__["_sim_assumptions"] = memo  # beside the fields: never cached to disk
    if isinstance(memo, ValueError):
        raise memo
    return memo


def sim_host(resolver: Resolver, host: ResolvedHost, vm: ResolvedVM | None) -> Any:
    """Mechanism only: the kernel's mask, the design (and the QEMU version where the design
    reads it), registration and the stream commands.

    What it reads of the VM is its machine type alone, and both inputs are frozen: the
    result is kept beside the host's fields (never in the rules cache), one per machine
    type, so a sweep that meets a host with many VMs builds each once."""
    memo: dict[str | None, Any] | None = host.__dict__.get("_sim_hosts")
    if memo is None:
        memo = host.__dict__["_sim_hosts"] = {}
    name = vm.machine.name if vm is not None else None
    sim = memo.get(name)
    if sim is None:
        sim = memo[name] = _sim_host(resolver, host, vm)
    return sim


def _sim_host(resolver: Resolver, host: ResolvedHost, vm: ResolvedVM | None) -> Any:
    sim = _sim()
    SimHost = sim.config.SimHost
    # The version only where the design reads it: elsewhere releases that differ in nothing
    # the simulator models share one cached run (an unknown design keeps it; SimHost refuses).
    model = sim.designs.DESIGNS.get(host.design.id)
    build = str(host.qemu.version) if model is None or model.reads_qemu_version else None
    facts = resolver.machine_facts(host, vm) if vm is not None else {}
    registered = bool(facts.get("qemu.registers_machine"))
    # Stream commands (rules/qemu.yaml stream_commands): a build from a command's release
    # on loads it, and sends it for every machine type but versioned ones older than that
    # release (their compat property turns it off).
    loads = resolver.qemu.loaded_commands(host.qemu)
    version = vm.machine.version if vm is not None else None
    sends = [c for c in loads if version is None or version.series >= c.since.series]
    return SimHost(
        name="host",  # a neutral name lets identical mechanisms share one cached run
        x2apic_api=host.x2apic_api,
        split_irqchip="split-irqchip" in host.capabilities or host.x2apic_api != 0,
        seoib=host.design.id,
        qemu_version=build,
        machines=frozenset({vm.machine.name}) if vm is not None and registered else frozenset(),
        loads_commands=frozenset(c.command for c in loads),
        sends_commands=frozenset(c.command for c in sends if vm is not None),
    )


def sim_vm(vm: ResolvedVM) -> Any:
    """The VM's configuration: the user's -global and -accel options as given, nothing derived.

    Built once per resolved VM and kept beside its fields (it is frozen, as is the result)."""
    sim = vm.__dict__.get("_sim_vm")
    if sim is None:
        sim = vm.__dict__["_sim_vm"] = _sim().config.SimVM(
            machine=vm.machine.name,
            machine_version=vm.machine.version.parts if vm.machine.version is not None else None,
            irqchip=vm.irqchip,
            ioapic=int(vm.ioapic, 16),
            globals=(("ioapic.version", vm.ioapic),) if vm.ioapic_global else (),
            x2apic=vm.x2apic,
            guest=vm.guest.id,
            seoib_policy=vm.spec.seoib_policy,
            has_ioapic=bool(vm.facts["vm.has_ioapic"]),
        )
    return sim


def _state(state: Any) -> dict[str, Any] | None:
    return None if state is None else {k: getattr(state, k) for k in STATE_KEYS}


def _compare(label: str, solver: dict[str, Any] | None, sim: dict[str, Any] | None) -> list[str]:
    if solver == sim:
        return []
    return [f"{label}: solver {solver} vs simulator {sim}"]


def _no_model(resolver: Resolver, vm: ResolvedVM, *hosts: ResolvedHost) -> dict[str, Any] | None:
    config = _sim().config
    DESIGNS, GUESTS = config.DESIGNS, config.GUESTS
    missing = [f"guest {vm.guest.id!r}"] if vm.guest.id not in GUESTS else []
    missing += [f"QEMU design {h.design.id!r}" for h in hosts if h.design.id not in DESIGNS]
    try:
        sim_assumptions(resolver)
    except ValueError as err:
        missing.append(str(err).removeprefix("the simulator has no model of "))
    if not missing:
        return None
    return {"ran": False, "agrees": False, "outcome": None, "counters": {},
            "differences": [f"the simulator has no model of {m}" for m in missing]}


def boot_witness(resolver: Resolver, host: ResolvedHost, vm: ResolvedVM,
                 verdict: dict[str, Any]) -> dict[str, Any]:
    missing = _no_model(resolver, vm, host)
    if missing:
        return missing
    w = _boot(sim_host(resolver, host, vm), sim_vm(vm), sim_assumptions(resolver))
    diffs = _compare("outcome", verdict["outcome"], w.outcome)  # type: ignore[arg-type]
    state = _state(w.state)
    if state is not None:
        solver_state = {k: verdict.get(k) for k in STATE_KEYS}
        diffs += _compare("state", solver_state, state)
    return {"ran": True, "agrees": not diffs, "outcome": w.outcome, "state": state,
            "counters": dict(w.counters), "events": list(w.events[:20]), "differences": diffs}


def migration_witness(resolver: Resolver, src: ResolvedHost, dst: ResolvedHost, vm: ResolvedVM,
                      verdict: dict[str, Any], *, snapshot: bool) -> dict[str, Any]:
    missing = _no_model(resolver, vm, src, dst)
    if missing:
        return missing
    w = _migrate(sim_host(resolver, src, vm), sim_host(resolver, dst, vm), sim_vm(vm), snapshot,
                 sim_assumptions(resolver))
    src_state, dst_state = _state(w.src_state), _state(w.dst_state)
    diffs = _compare("outcome", verdict["outcome"], w.outcome)  # type: ignore[arg-type]
    if src_state is not None:
        diffs += _compare("src_state", verdict["src_state"], src_state)
    diffs += _compare("dst_state", verdict["dst_state"], dst_state)
    after = verdict.get("source_after")
    diffs += _compare("source runstate", after["qemu"] if after else None, w.source_runstate)
    return {"ran": True, "agrees": not diffs, "outcome": w.outcome, "findings": list(w.findings),
            "src_state": src_state, "dst_state": dst_state,
            "source_runstate": w.source_runstate,
            "counters": dict(w.counters), "events": list(w.events[:20]), "differences": diffs}


# Simulator inputs are small frozen dataclasses: identical classes share a run.
@lru_cache(maxsize=65536)
def _boot(host: Any, vm: Any, assume: Any) -> Any:
    return _sim().api.simulate_boot(host, vm, irqs=WITNESS_IRQS, assume=assume)


@lru_cache(maxsize=65536)
def _migrate(src: Any, dst: Any, vm: Any, snapshot: bool, assume: Any) -> Any:
    api = _sim().api
    return (api.simulate_snapshot if snapshot else api.simulate_migration)(
        src, dst, vm, irqs=WITNESS_IRQS, assume=assume)


class ScenarioBridge:
    """Resolve rule-level specs (kernel=, qemu=, machine aliases) in scenario files.

    The simulator's scenario reader calls these hooks only for specs that are not
    purely mechanistic; the result is still mechanism (masks, design parameters,
    registered machine types, VM configuration).
    """

    def __init__(self, rules_dir: str | None = None) -> None:
        from ..rules.ruleset import load_rules

        self.rs = load_rules(rules_dir)
        self._hosts: dict[int, ResolvedHost] = {}

    def assumptions(self) -> Any:
        """The rules' switches in force, as the simulator takes them (a scenario's own
        ``assume`` goes over them). BadInput where the simulator has no model of one."""
        from ..errors import BadInput, Location

        try:
            return sim_assumptions(self.rs.resolver)
        except ValueError as err:
            raise BadInput(str(err), Location(str(self.rs.root))) from None

    def host(self, raw: Any, location: Any) -> Any:
        from ..rules.specs import parse_host_spec

        host = self.rs.resolver.host(parse_host_spec(raw, location))
        r = self.rs.resolver
        names = host.machines if host.machines is not None else _registered_names(r, host.qemu)
        sim = sim_host(r, host, None)
        fields = {n: getattr(sim, n) for n in sim._fields}
        sim = type(sim)(**{**fields, "name": host.label or "host", "machines": names})
        self._hosts[id(sim)] = host
        return sim

    def vm(self, raw: Any, sim_host_: Any, location: Any) -> Any:
        from ..rules.specs import parse_vm_spec

        host = self._hosts.get(id(sim_host_))
        if host is None:  # a mechanistic host: resolve aliases against the first rule host
            host = next(iter(self._hosts.values()))
        return sim_vm(self.rs.resolver.vm(parse_vm_spec(raw, location), host))


def _registered_names(r: Resolver, qemu: Any) -> frozenset[str]:
    """Machine types a QEMU release registers: listed versions, its own newest types
    (a release past the rules), and listed downstream types that follow a registered one."""
    names = [*_machine_names(r),
             *(t for a in r.machines.aliases if (t := r.qemu.alias_target(qemu, a)) is not None),
             *(n for d in r.machines.downstream for n in d.types)]
    return frozenset(n for n in names if r.qemu.registers(qemu, r.machines.parse(n)))


def _machine_names(r: Resolver) -> list[str]:
    names = []
    for fam in r.machines.all_families.values():
        if not fam.versioned:
            names.append(fam.id)
            continue
        for parts, fams in r.machines.versions.items():
            if fams is None or fam.id in fams:
                names.append(f"{fam.id}-{'.'.join(map(str, parts))}")
    return names
