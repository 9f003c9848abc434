"""The simulator's entry points: one cold boot, one live migration, one snapshot restore.

Runs share work, never what they observe: a source is booted once for all its
destinations (a migration or savevm only reads its machines), and a destination sent
what it was sent before answers as it did then (it sees nothing else of the source).
Both are bounded memos keyed by every input; :func:`forget` drops them.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import NamedTuple

from .assumptions import DEFAULT, Assumptions
from .config import SimHost, SimVM
from .outcome import BootWitness, MigrationWitness, VMState
from .qemu import Snapshot
from .session import Session
from .trace import Trace

__all__ = ["forget", "simulate_boot", "simulate_migration", "simulate_snapshot"]


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


def _stranded(s: Session, src_state: VMState | None) -> MigrationWitness:
    """The witness of a migration that never sent anything (the source did not start):
    nothing arrived, so no device event runs and no destination state exists."""
    found, counters = s.observe_run()
    return MigrationWitness(outcome=found[0] if found else "ok", findings=found,
                            src_state=src_state, dst_state=None, counters=counters,
                            events=s.trace.freeze(), source_runstate=s.source_runstate)


Streams = tuple[Snapshot, ...]


class _Boot:
    """A source cold-booted once, its state, and what its machines send, saved when first
    asked for: the live-migration streams (``False``) or the savevm images (``True``)."""

    __slots__ = ("sent", "session", "state", "stranded")

    def __init__(self, src: SimHost, vm: SimVM, assume: Assumptions) -> None:
        self.session = Session(src, vm, assume=assume)
        self.session.boot()
        self.state = self.session.state()
        self.sent: dict[bool, Streams] = {}
        # The live migration of a source that never started, once run: it sends nothing,
        # so it is the same to every destination and for any number of device events.
        self.stranded: MigrationWitness | None = None

    def sends(self, snapshot: bool) -> Streams:
        out = self.sent.get(snapshot)
        if out is None:
            s = self.session
            out = self.sent[snapshot] = (
                s.savevm() if snapshot else tuple(m.save(s.host.sends_commands) for m in s.machines))
        return out


def _boot_of(src: SimHost, vm: SimVM, assume: Assumptions) -> _Boot:
    """The boot of ``vm`` on ``src``, kept: a migration or a savevm only reads the source's
    machines (each runs on a fork of its session, see :meth:`Session.fork`), so one boot
    serves every destination - a class-space sweep migrates each source to a hundred."""
    try:
        return _boot_once(src, vm, assume)
    except TypeError:  # an unhashable stand-in for an input: boot it afresh
        return _Boot(src, vm, assume)


_boot_once = lru_cache(maxsize=256)(_Boot)


class _Arrival(NamedTuple):
    """What a live migration (or a restore) does from the moment the streams (or images)
    leave the source: the trace lines it adds, the window's early findings, the source's
    runstate, whether the destination took the VM, and - where the window is the
    destination's (a completed migration, any restore) - what the run there observed."""

    lines: tuple[str, ...]
    pre: tuple[str, ...]
    source_runstate: str | None
    completed: bool
    observed: bool
    findings: tuple[str, ...]
    counters: dict[str, int]
    dst_state: VMState | None


# Arrivals by (destination, VM, switches, streams, device events, restore or not): the
# destination sees nothing of the source but what it sends, and in a class-space sweep
# eight sources in nine send what another already sent. Bounded; the oldest goes first.
_ARRIVALS: dict[tuple, _Arrival] = {}
ARRIVALS_KEPT = 4096


def forget() -> None:
    """Drop the kept boots and arrivals (a benchmark timing the simulator's whole work)."""
    _boot_once.cache_clear()
    _ARRIVALS.clear()


def _arrive(s: Session, dst: SimHost, streams: Streams, irqs: int, snapshot: bool) -> _Arrival:
    """The live migration of booted ``s`` to ``dst`` (or the loadvm of its savevm images
    into a VM booted on ``dst``) and the device events after it, with a trace of its own
    (kept whole: the caller replays it into its own). ``s`` is the caller's own fork: a
    live migration runs on it (a failed one leaves its machines as they were)."""
    key = (dst, s.vm, s.assume, streams, irqs, snapshot)
    try:
        kept = _ARRIVALS.get(key)
    except TypeError:  # an unhashable stand-in for an input
        key, kept = None, None
    if kept is not None:
        return kept
    trace = Trace(limit=sys.maxsize)
    if snapshot:
        run = Session(dst, s.vm, trace=trace, assume=s.assume)
        if streams:  # one image per running copy: the source ran
            run.boot()
        run.loadvm(streams)
    else:
        run, kept_trace = s, s.trace
        run.trace = trace
        run.migrate(dst, streams)
        s.trace = kept_trace
    findings: tuple[str, ...] = ()
    counters: dict[str, int] = {}
    dst_state = None
    observed = snapshot or run.completed
    if run.completed:
        run.irqs(irqs)
    if observed:
        findings, counters = run.observe_run()
    if run.completed:
        dst_state = run.state()
    arrival = _Arrival(tuple(trace.lines), tuple(run.pre), run.source_runstate, run.completed,
                       observed, findings, counters, dst_state)
    if key is not None:
        if len(_ARRIVALS) >= ARRIVALS_KEPT:
            del _ARRIVALS[next(iter(_ARRIVALS))]
        _ARRIVALS[key] = arrival
    return arrival


def simulate_migration(src: SimHost, dst: SimHost, vm: SimVM, irqs: int = 8,
                       assume: Assumptions = DEFAULT) -> MigrationWitness:
    """Cold-boot on ``src``, live-migrate to ``dst``, then run ``irqs`` device events.

    A source that cannot start leaves nothing to migrate: ``unsupported``.
    """
    _check_irqs(irqs)
    boot = _boot_of(src, vm, assume)
    if not boot.session.machines:  # nothing to send: unsupported, the source not started
        w = boot.stranded
        if w is None:
            s = boot.session.fork()
            s.migrate(dst)  # reads nothing of dst: no machine to send
            w = boot.stranded = _stranded(s, boot.state)
        # A record of its own for each caller: the counters are a plain dict.
        return MigrationWitness(w.outcome, w.findings, w.src_state, w.dst_state, dict(w.counters),
                                w.events, w.source_runstate)
    s = boot.session.fork()
    return _arrived(s, boot.state, _arrive(s, dst, boot.sends(False), irqs, False))


def _arrived(s: Session, src_state: VMState | None, arrival: _Arrival) -> MigrationWitness:
    """The witness of booted ``s`` after ``arrival``."""
    trace = s.trace
    for line in arrival.lines:  # as if they had been recorded here (same limit, same count)
        trace(line)
    if arrival.observed:
        found, counters = arrival.findings, dict(arrival.counters)
    else:  # the source goes on (or waits): its own window decides what is found
        s.phase, s.pre = "migrate", list(arrival.pre)
        found, counters = s.observe_run()
    return MigrationWitness(
        outcome=found[0] if found else "ok",
        findings=found,
        src_state=src_state,
        dst_state=arrival.dst_state,
        counters=counters,
        events=trace.freeze(),
        source_runstate=arrival.source_runstate,
    )


def simulate_snapshot(src: SimHost, dst: SimHost, vm: SimVM, irqs: int = 8,
                      assume: Assumptions = DEFAULT) -> MigrationWitness:
    """``savevm`` on ``src``; cold-boot the same config on ``dst``; QMP ``loadvm`` into it.

    Either side failing to start means there is nothing to restore (``unsupported``).
    """
    _check_irqs(irqs)
    boot = _boot_of(src, vm, assume)
    s = boot.session.fork()
    return _arrived(s, boot.state, _arrive(s, dst, boot.sends(True), irqs, True))
