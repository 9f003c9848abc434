"""The one-entry-per-line reader reads what the full YAML loader reads, or declines.

Whatever the text, ``read_flow_lines`` either returns None (the full loader takes
over, and refuses what is wrong with its own message) or exactly the document the
full loader makes of it: the same values of the same types, and the same lines on
every mapping, key, sequence and item.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seoib.errors import SeoibError
from seoib.plan.flowlines import read_flow_lines
from seoib.yamlio import LineDict, LineList, loads_yaml

# Plain scalars YAML types in every way: strings, versions, floats, ints (hex, octal,
# underscores, signs), booleans and nulls of YAML 1.1, dates, and ones that are not
# plain at all (the reader must decline those).
PLAIN = ["h1", "rack-a", "6.18.16", "10.10", "10.2", "11", "0x11", "017", "1_000", "+3", "-2",
         "yes", "No", "on", "OFF", "true", "~", "null", ".inf", "-.5", "2024-01-02", "pc-q35-10.2",
         "a.b/c+d", "x2apic-api", "1e3", "0b101", "190:20:30", ".nan", "h1", "web", "7.0.3"]
ODD = ["9" * 30, "1:2", "=", "<<", "@x", "%x", "a b", "-", "a:b"]  # not plain, or refused
QUOTED = ['"11.0.0"', "'yes'", '"0x11"', "''", '"a, b"', '"# not"', '"a\\"b"', "'it''s'"]
KEYS = ["name", "group", "count", "kernel", "qemu", "hosts", "yes", "1", "x2apic-api", "set"]


@st.composite
def values(draw: st.DrawFn, depth: int = 0) -> str:
    kind = draw(st.sampled_from(["plain"] * 4 + ["quoted", "odd"]
                                + (["seq", "map"] if depth < 2 else [])))
    if kind == "plain":
        return draw(st.sampled_from(PLAIN))
    if kind == "odd":
        return draw(st.sampled_from(ODD))
    if kind == "quoted":
        return draw(st.sampled_from(QUOTED))
    if kind == "seq":
        items = draw(st.lists(values(depth + 1), max_size=4))
        return "[" + draw(st.sampled_from([", ", ",", " , "])).join(items) + "]"
    return mapping(draw, depth + 1)


def mapping(draw: st.DrawFn, depth: int) -> str:
    pairs = draw(st.lists(st.tuples(st.sampled_from(KEYS), values(depth)), max_size=4,
                          unique_by=lambda p: p[0] if draw(st.integers(0, 9)) else None))
    sep = draw(st.sampled_from([", ", ",", "  ,  ", ", "]))
    colon = draw(st.sampled_from([": ", ":  ", ": ", ": ", ":"]))
    return "{" + sep.join(f"{k}{colon}{v}" for k, v in pairs) + draw(st.sampled_from(["}", " }"]))


@st.composite
def documents(draw: st.DrawFn) -> str:
    lines: list[str] = []
    keys = draw(st.lists(st.sampled_from(["hosts", "vms", "rollout", "on", "extra"]),
                         min_size=1, max_size=4, unique=not draw(st.integers(0, 9))))
    for key in keys:
        tail = draw(st.sampled_from([":", ":", ":", ": []", ":  # note", ": x"]))
        lines.append(key + tail)
        indent = draw(st.sampled_from(["", "  ", "    "]))
        for _ in range(draw(st.integers(0, 3)) if tail in (":", ":  # note") else 0):
            lines.append(indent + "- " + mapping(draw, 0) + draw(st.sampled_from(["", " # c", "#x"])))
            if not draw(st.integers(0, 3)):
                lines.append(draw(st.sampled_from(["", "  # a comment", "   ", "---", "  - x"])))
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


def same(a: Any, b: Any, path: str = "") -> None:
    assert type(a) is type(b), (path, a, b)
    if isinstance(a, LineDict):
        assert (a.line, a.key_lines, list(a)) == (b.line, b.key_lines, list(b)), path
        for k in a:
            same(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, LineList):
        assert (a.line, a.item_lines, len(a)) == (b.line, b.item_lines, len(b)), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}/{i}")
    else:
        assert a == b or (a != a and b != b), (path, a, b)  # NaN is itself


@settings(max_examples=400, deadline=None)
@given(documents())
def test_reads_as_the_full_loader_or_declines(text: str) -> None:
    fast = read_flow_lines(text)
    try:
        full = loads_yaml(text, "plan.yaml")
    except SeoibError:
        assert fast is None  # what the full loader refuses, it refuses with its message
        return
    if fast is not None:
        same(fast, full)


def test_a_plan_written_one_entry_per_line_is_read_fast() -> None:
    text = ("# inventory export\nhosts:\n  - {name: h1, kernel: 6.18.16, qemu: 11.0.0, seoib: rfc-v2}\n"
            "  - {name: h2, kernel: \"7.0.3\", qemu: 10.2.0, capacity: 12}\n\nvms:\n"
            "  - {group: web, count: 20, hosts: [h1, h2], machine: pc-q35-10.2, irqchip: split}\n"
            "rollout:\n  - {name: k, hosts: [h1], set: {kernel: 7.0.3}}\n")
    fast = read_flow_lines(text)
    assert fast is not None
    same(fast, loads_yaml(text, "plan.yaml"))


@pytest.mark.parametrize("text", [
    "hosts:\n  - {name: h1, name: h2}\n",  # a duplicate key: the full loader names both lines
    "hosts:\n  - {name: &a h1}\n",  # anchors
    "hosts:\n  - {name: h1,\n     kernel: 7.0.3}\n",  # an entry over two lines
    "hosts:\n  - name: h1\n",  # a block mapping
    "hosts:\n  - {count: " + "9" * 40 + "}\n",  # over the digit limit
    "hosts:\n\t- {name: h1}\n",  # a tab
])
def test_declines_what_is_not_its_shape(text: str) -> None:
    assert read_flow_lines(text) is None
