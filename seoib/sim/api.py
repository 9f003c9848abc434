"""The simulator's entry points: one cold boot, one live migration, one snapshot restore."""

from __future__ import annotations

from functools import lru_cache

from .assumptions import DEFAULT, Assumptions
from .config import SimHost, SimVM
from .outcome import BootWitness, MigrationWitness, VMState
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
    found, counters = s.observe_run()
    return MigrationWitness(
        outcome=found[0] if found else "ok",
        findings=found,
        src_state=src_state,  # type: ignore[arg-type]
        dst_state=s.state() if s.completed else None,
        counters=counters,
        events=s.trace.freeze(),
        source_runstate=s.source_runstate,
    )


def _booted(src: SimHost, vm: SimVM, assume: Assumptions) -> tuple[Session, VMState | None]:
    """A session cold-booted on ``src`` (a fork of it: see :meth:`Session.fork`) and its state.

    A migration or a savevm only reads the source's machines, so one boot serves every
    destination: a class-space sweep migrates each source to a hundred of them.
    """
    try:
        booted, state = _boot_once(src, vm, assume)
    except TypeError:  # an unhashable stand-in for an input: boot it afresh
        booted, state = _boot_once.__wrapped__(src, vm, assume)
    return booted.fork(), state


@lru_cache(maxsize=256)
def _boot_once(src: SimHost, vm: SimVM, assume: Assumptions) -> tuple[Session, VMState | None]:
    s = Session(src, vm, assume=assume)
    s.boot()
    return s, s.state()


def simulate_migration(src: SimHost, dst: SimHost, vm: SimVM, irqs: int = 8,
                       assume: Assumptions = DEFAULT) -> MigrationWitness:
    """Cold-boot on ``src``, live-migrate to ``dst``, then run ``irqs`` device events.

    A source that cannot start leaves nothing to migrate: ``unsupported``.
    """
    _check_irqs(irqs)
    s, src_state = _booted(src, vm, assume)
    s.migrate(dst)  # sets the source's runstate after it
    return _witness(s, src_state, irqs)


def simulate_snapshot(src: SimHost, dst: SimHost, vm: SimVM, irqs: int = 8,
                      assume: Assumptions = DEFAULT) -> MigrationWitness:
    """``savevm`` on ``src``; cold-boot the same config on ``dst``; QMP ``loadvm`` into it.

    Either side failing to start means there is nothing to restore (``unsupported``).
    """
    _check_irqs(irqs)
    s, src_state = _booted(src, vm, assume)
    snaps = s.savevm()
    d = Session(dst, vm, trace=s.trace, assume=assume)
    if s.running:
        d.boot()
    d.loadvm(snaps)
    return _witness(d, src_state, irqs)
