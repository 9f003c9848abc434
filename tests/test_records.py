"""Records (seoib.record) and the simulator's values (seoib.sim.frozen) behave as the
frozen dataclasses they replace: same construction, equality, hash, order, repr, and
the dataclasses API still applies to them."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seoib.errors import Location
from seoib.record import Factory, FrozenError, record, replace
from seoib.rules.language import GuestProfile
from seoib.rules.rulecache import decode, encode
from seoib.rules.ruleset import load_rules
from seoib.rules.specs import VMSpec
from seoib.rules.versions import Release
from seoib.sim import SimHost, SimVM, VMState, simulate_boot


@record(order=True)
class _Point:
    x: int
    y: str = "a"
    tags: list[int] = Factory(list)


@dataclasses.dataclass(frozen=True, order=True)
class _Twin:
    x: int
    y: str = "a"
    tags: list[int] = dataclasses.field(default_factory=list)


values = st.tuples(st.integers(-3, 3), st.sampled_from(["a", "b"]))


@given(values, values)
def test_a_record_compares_orders_and_hashes_like_its_dataclass(a: tuple[int, str],
                                                                b: tuple[int, str]) -> None:
    ra, rb, da, db = _Point(*a, tags=()), _Point(*b, tags=()), _Twin(*a, tags=()), _Twin(*b, tags=())
    for compare in (lambda p, q: p == q, lambda p, q: p < q, lambda p, q: p <= q, lambda p, q: p > q,
                    lambda p, q: p >= q):
        assert compare(ra, rb) == compare(da, db)
    assert hash(ra) == hash(da)
    assert repr(ra).replace("_Point", "_Twin") == repr(da)


def test_a_record_is_frozen_builds_mutable_defaults_per_instance_and_refuses_missing_fields() -> None:
    p = _Point(1)
    with pytest.raises(FrozenError):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del p.y  # type: ignore[misc]
    assert p.tags == [] and p.tags is not _Point(1).tags
    with pytest.raises(TypeError):
        _Point()  # type: ignore[call-arg]
    assert _Point(1) != (1, "a", [])  # another type never compares equal


def test_the_dataclasses_api_still_applies_to_records_and_simulator_values() -> None:
    spec = VMSpec(machine="q35", guest="linux")
    assert [f.name for f in dataclasses.fields(VMSpec)][:2] == ["machine", "irqchip"]
    xen = VMSpec(machine="q35", guest="xen")
    assert dataclasses.replace(spec, guest="xen") == replace(spec, guest="xen") == xen
    vm = SimVM(guest="linux")
    assert dataclasses.replace(vm, guest="xen").guest == "xen"
    witness = simulate_boot(SimHost(), vm)
    assert isinstance(witness.state, VMState)
    fields = ("policy", "kvm_flags", "lvr_seoib", "suppression_honored")
    assert dataclasses.asdict(witness)["state"] == {f: getattr(witness.state, f) for f in fields}
    with pytest.raises(ValueError):  # validation still runs on construction
        SimVM(irqchip="maybe")


def test_records_and_simulator_values_survive_pickle_and_the_rules_cache() -> None:
    loc, rel = Location("rules/x.yaml", 4), Release((7, 0))
    assert pickle.loads(pickle.dumps(loc)) == loc
    assert pickle.loads(pickle.dumps(SimVM(guest="xen"))) == SimVM(guest="xen")
    back = decode(encode([loc, rel, loc]))
    assert back == [loc, rel, loc] and back[0] is back[2]
    assert hash(back[1]) == hash(rel) and back[1] < Release((7, 1))


def test_a_cited_record_keeps_its_own_methods() -> None:
    guest = next(iter(load_rules().resolver.guests.values()))
    assert isinstance(guest, GuestProfile) and guest.citation().rule == f"guest.{guest.id}"


def test_the_generic_and_the_compiled_init_bind_alike() -> None:
    @record
    class Pair:
        a: int
        b: str = "b"
        c: list[int] = Factory(list)

    def calls() -> list[object]:
        out: list[object] = []
        for args, kwargs in [((1,), {}), ((1, "x"), {}), ((), {"a": 2, "c": [3]}), ((1,), {"b": "y"}),
                             ((), {}), ((1, "x", [], 4), {}), ((1,), {"d": 0}), ((1,), {"a": 1})]:
            try:
                out.append(Pair(*args, **kwargs))
            except TypeError:
                out.append(TypeError)
        return out

    generic = calls()  # the first constructions go through the generic __init__
    while Pair.__init__.__code__.co_argcount == 1:  # until the class compiles its own
        Pair(0)
    assert calls() == generic
    assert generic[:4] == [Pair(1, "b", []), Pair(1, "x"), Pair(2, c=[3]), Pair(1, "y")]
    assert generic[4:] == [TypeError] * 4
