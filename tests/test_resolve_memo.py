"""The resolver's per-release and per-machine-type memos change no resolution.

A host or VM resolved through a resolver whose memos are already warm equals the same
spec resolved with empty memos (every field: facts, citations, notes, inferences), and
a refused spec is refused with the same message every time.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from seoib.errors import Location, SpecError
from seoib.rules.resolve import Resolver
from seoib.rules.ruleset import RuleSet, load_rules
from seoib.rules.specs import parse_host_spec, parse_vm_spec

MEMOS = ("_kernel_parts", "_machine_parts", "_known")


@lru_cache(maxsize=1)
def _rules() -> RuleSet:
    return load_rules(use_cache=False)


def _domain() -> dict[str, list[str]]:
    r = _rules().resolver
    kernels = [*r.kernels.mainline, "6.1.0", "9.9", "99.1.2"]
    for series in r.kernels.mainline:
        for since in r.kernels.known_points(series):
            *head, point = since.parts
            kernels += [".".join(map(str, (*head, p))) for p in (point - 1, point)]
    machines = [*r.machines.aliases, "pc-q35-99.0", "pc-q35-1.1", "no-such-board"]
    for fam in r.machines.families.values():
        if not fam.versioned:
            machines.append(fam.id)
            continue
        machines += [f"{fam.id}-{'.'.join(map(str, v))}" for v, fams in r.machines.versions.items()
                     if fams is None or fam.id in fams]
    machines += [n for d in r.machines.downstream for n in d.types]
    return {"kernel": sorted(set(kernels)), "machine": sorted(set(machines)),
            "qemu": [str(q.version) for q in r.qemu.releases.values()],
            "guest": list(r.guests)}


def _resolve(resolver: Resolver, host: str, vm: str) -> Any:
    try:
        h = resolver.host(parse_host_spec(host, Location("host")))
        return h, resolver.vm(parse_vm_spec(vm, Location("vm")), h)
    except SpecError as exc:
        return str(exc)


def _cold(resolver: Resolver, host: str, vm: str) -> Any:
    saved = {k: resolver.__dict__.pop(k) for k in MEMOS if k in resolver.__dict__}
    try:
        return _resolve(resolver, host, vm)
    finally:
        for k in MEMOS:
            resolver.__dict__.pop(k, None)
        resolver.__dict__.update(saved)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_memoised_resolution_equals_cold(data: st.DataObject) -> None:
    d = _domain()
    pick = lambda key: data.draw(st.sampled_from(d[key]), label=key)  # noqa: E731
    probe = data.draw(st.sampled_from(["", ",x2apic-api=0x0", ",x2apic-api=0xf", ",x2apic-api=0x3f"]))
    host = f"kernel={pick('kernel')},qemu={pick('qemu')}{probe}"
    vm = f"machine={pick('machine')},guest={pick('guest')}"
    vm += data.draw(st.sampled_from(["", ",irqchip=on", ",irqchip=split,ioapic=0x11"]))
    resolver = _rules().resolver
    warm = _resolve(resolver, host, vm)
    again = _resolve(resolver, host, vm)
    assert again == warm
    assert _cold(resolver, host, vm) == warm
    if not isinstance(warm, str):
        h, v = warm
        assert h.as_json() == _cold(resolver, host, vm)[0].as_json()
        assert (v.notes, v.inferred, v.because) == (again[1].notes, again[1].inferred,
                                                     again[1].because)


def test_memos_stay_bounded(monkeypatch: Any) -> None:
    """A service that meets endless distinct releases and machine types keeps flat memory."""
    import seoib.rules.resolve as resolve

    # Room for two parts per generation: the memos hold bytes, not a count of entries.
    monkeypatch.setattr(resolve, "MEMO_BYTES", 4 * (resolve.ENTRY_BYTES + resolve.PART_BYTES + 24))
    resolver = _rules().resolver
    d = _domain()
    saved = {k: resolver.__dict__.pop(k) for k in MEMOS if k in resolver.__dict__}
    try:
        for k, m in zip(d["kernel"][:12], d["machine"][:12], strict=True):
            host, vm = f"kernel={k},qemu={d['qemu'][-1]}", f"machine={m}"
            assert _resolve(resolver, host, vm) == _cold(resolver, host, vm)
            for memo in ("_kernel_parts", "_machine_parts"):
                held = resolver.__dict__.get(memo)
                assert held is None or (len(held) <= 4 and held.charged <= resolve.MEMO_BYTES // 2)
    finally:
        for k in MEMOS:
            resolver.__dict__.pop(k, None)
        resolver.__dict__.update(saved)


def test_the_kernel_lineage_memo_stays_bounded(monkeypatch: Any) -> None:
    import seoib.rules.lineage as lineage

    monkeypatch.setattr(lineage, "CACHE_BYTES", 3 * (lineage.ENTRY_BYTES + lineage.RESOLUTION_BYTES + 12))
    kernels = _rules().resolver.kernels
    saved = dict(kernels._cache)
    kernels._cache.clear()
    try:
        for k in _domain()["kernel"][:12]:
            assert kernels.resolve(k) == kernels.resolve(k)
            assert len(kernels._cache) <= 3 and kernels._cache_bytes <= lineage.CACHE_BYTES
    finally:
        kernels._cache.clear()
        kernels._cache.update(saved)
