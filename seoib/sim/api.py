"""The simulator's entry points: one cold boot, one live migration, one snapshot restore."""

from __future__ import annotations

from .assumptions import DEFAULT, Assumptions
from .config import SimHost, SimVM
from .outcome import BootWitness, MigrationWitness
from .session import Session

__all__ = ["simulate_boot", "simulate_migration", "simulate_snapshot"]


def _check_irqs(irqs: int) -> None:
    if not isinstance(irqs, int) or isinstance(irqs, bool) or irqs < 0:
        raise ValueError(f"irqs must be a non-negative int, got {irqs!r}")


def simulate_boot(host: SimHost, vm: SimVM, irqs: int = 8, assume: Assumptions = DEFAULT) -> BootWitness:
    """Cold-boot ``vm`` on ``host`` and run ``irqs`` level-triggered device events, with
    the unconfirmed behaviours as ``assume`` says (default: each switch's default).

    Examples
    --------
    >>> simulate_boot(SimHost(seoib="none"), SimVM(guest="windows-hyperv")).outcome
    'storm'
    """
    _check_irqs(irqs)
    s = Session(host, vm, assume=assume)
    s.boot()
    s.irqs(irqs)
    return BootWitness(*s.observe_boot(), s.trace.freeze())


def _witness(s: Session, src_state: object, irqs: int) -> MigrationWitness:
    if s.completed:
        s.irqs(irqs)
    found = s.findings()
    return MigrationWitness(
        outcome=found[0] if found else "ok",
        findings=found,
        src_state=src_state,  # type: ignore[arg-type]
        dst_state=s.state() if s.completed else None,
        counters=s.counters(),
        events=s.trace.freeze(),
        source_runstate=s.source_runstate,
    )


def simulate_migration(src: SimHost, dst: SimHost, vm: SimVM, irqs: int = 8,
                       assume: Assumptions = DEFAULT) -> MigrationWitness:
    """Cold-boot on ``src``, live-migrate to ``dst``, then run ``irqs`` device events.

    A source that cannot start leaves nothing to migrate: ``unsupported``.
    """
    _check_irqs(irqs)
    s = Session(src, vm, assume=assume)
    s.boot()
    src_state = s.state()
    s.migrate(dst)  # sets the source's runstate after it
    return _witness(s, src_state, irqs)


def simulate_snapshot(src: SimHost, dst: SimHost, vm: SimVM, irqs: int = 8,
                      assume: Assumptions = DEFAULT) -> MigrationWitness:
    """``savevm`` on ``src``; cold-boot the same config on ``dst``; QMP ``loadvm`` into it.

    Either side failing to start means there is nothing to restore (``unsupported``).
    """
    _check_irqs(irqs)
    s = Session(src, vm, assume=assume)
    s.boot()
    src_state = s.state()
    snaps = s.savevm()
    d = Session(dst, vm, trace=s.trace, assume=assume)
    if s.running:
        d.boot()
    d.loadvm(snaps)
    return _witness(d, src_state, irqs)
