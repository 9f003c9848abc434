"""Running a scenario: validate the whole file, check the event budget, then execute the steps.

The whole file is validated before anything runs, so an invalid scenario fails with
``file:line`` and nothing half-executed. Register-level steps run on a
:class:`~seoib.sim.scenario.backend.Backend` (the simulator's by default); each step
runs through its ``STEPS`` entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from seoib.errors import BadInput, Location
from seoib.yamlio import line_of, load_yaml

from ..assumptions import DEFAULT, SWITCHES, Assumptions
from ..config import KNOWN_GUESTS, SimHost, SimVM
from .backend import SIM_BACKEND, Backend
from .context import ParseContext, RunState
from .records import ScenarioResult, ScenarioStep
from .specs import HostResolver, Specs, VmResolver
from .steps import EVENT_BUDGET, STEPS, parse_step
from .values import sub_loc

__all__ = ["TOP_KEYS", "check_event_budget", "execute", "load_scenario", "run_scenario"]

TOP_KEYS = ("name", "description", "host", "vm", "assume", "steps")


def check_event_budget(steps: list[ScenarioStep], vm: SimVM) -> None:
    """Refuse, before running, a scenario whose device events add up past EVENT_BUDGET.

    With guest ``any`` every known guest services each event, so copies count too.
    """
    copies = len(KNOWN_GUESTS) if vm.guest == "any" else 1
    total = 0
    for step in steps:
        events = STEPS[step.name].events
        if events is None:
            continue
        total += events(step.arg) * copies
        if total > EVENT_BUDGET:
            raise BadInput(f"the {step.name} steps add up to more than {EVENT_BUDGET} device events"
                           f"{f' ({copies} guest copies each)' if copies > 1 else ''}; "
                           "a scenario runs at most that many (a storm shows in far fewer)",
                           step.loc)


def execute(run: RunState, steps: list[ScenarioStep]) -> None:
    """Run validated steps in order, each through its table entry (a backend that wants to
    know which step runs has ``begin_step``)."""
    begin = getattr(run.backend, "begin_step", None)
    for step in steps:
        if begin is not None:
            begin(step.index + 1)
        d = STEPS[step.name]
        d.run(run, step)
        if d.guest:
            run.guest_ran()


def load_scenario(path: str | Path) -> Any:
    """Read a scenario file (BadInput with file:line on any YAML problem)."""
    return load_yaml(path)


def _assume(raw: Any, base: Assumptions, loc: Location) -> Assumptions:
    """The scenario's ``assume: {switch: value}`` over ``base`` (the switches in force)."""
    if not isinstance(raw, Mapping):
        raise BadInput("assume is a mapping {switch: value} (switches: "
                       f"{', '.join(SWITCHES)})", loc)
    pairs = dict(base.values)
    for name, value in raw.items():
        where = sub_loc(raw, name, loc)
        if not isinstance(value, str):
            raise BadInput(f"assume {name}: write the value as a quoted string, got {value!r}", where)
        pairs[name] = value
        try:
            Assumptions(((name, value),))
        except ValueError as err:
            raise BadInput(str(err), where) from None
    return Assumptions(tuple(pairs.items()))


def _parse(data: Any, source: str, specs: Specs) -> tuple[SimHost, SimVM, list[ScenarioStep]]:
    top = Location(source, line_of(data, None, 1))
    if not isinstance(data, Mapping):
        raise BadInput("a scenario is a mapping with host, vm and steps", top)
    for key in data:
        if key not in TOP_KEYS:
            raise BadInput(
                f"unknown scenario key {key!r} (known: {', '.join(TOP_KEYS)})", sub_loc(data, key, top)
            )
    host = specs.host(data["host"], sub_loc(data, "host", top)) if "host" in data else SimHost()
    vm = specs.vm(data["vm"], host, sub_loc(data, "vm", top)) if "vm" in data else SimVM()
    raw_steps = data.get("steps")
    sloc = sub_loc(data, "steps", top)
    if not isinstance(raw_steps, list) or not raw_steps:
        raise BadInput("steps must be a non-empty list", sloc)
    ctx = ParseContext(specs, host, vm if "vm" in data else None)
    steps = [
        parse_step(raw, i, Location(source, line_of(raw_steps, i, sloc.line)), ctx)
        for i, raw in enumerate(raw_steps)
    ]
    return host, vm, steps


def run_scenario(
    data: Any,
    source: str,
    *,
    host_resolver: HostResolver | None = None,
    vm_resolver: VmResolver | None = None,
    backend: Backend = SIM_BACKEND,
    assume: Assumptions = DEFAULT,
) -> ScenarioResult:
    """Validate the whole scenario, then run it (register-level steps on ``backend``).

    ``assume`` are the switches in force for what nobody has confirmed (the rules' when a
    command resolves specs through them); the scenario's own ``assume`` key goes over them.

    Raises
    ------
    BadInput
        Anything invalid in the scenario, located as ``file:line``.
    """
    host, vm, steps = _parse(data, source, Specs(host_resolver, vm_resolver))
    top = Location(source, line_of(data, None, 1))
    if "assume" in data:
        assume = _assume(data["assume"], assume, sub_loc(data, "assume", top))
    check_event_budget(steps, vm)
    backend.check(steps, host, top)
    run = RunState(host, vm, backend, assume=assume)
    execute(run, steps)
    depends_on = getattr(backend, "depends_on", None)
    if depends_on is not None:
        run.expectations = [replace(e, depends_on=depends_on(e.step, e.key)) for e in run.expectations]
    s = run.session
    metrics: dict[str, Any] = {
        "steps": len(steps),
        "expectations": len(run.expectations),
        "failed": sum(not e.passed for e in run.expectations),
        "counters": s.counters() if s is not None else {},
    }
    return ScenarioResult(
        source=source,
        host=host,
        vm=vm,
        expectations=run.expectations,
        metrics=metrics,
        state=run.state(),
        outcome=s.outcome() if s is not None else None,
        findings=s.findings() if s is not None else (),
        events=s.trace.freeze() if s is not None else (),
        backend=backend.report() if hasattr(backend, "report") else None,
        assume=assume,
    )
