"""`seoib graph`: pools as the matrix page computes them, --out FILE, and the SVG picture."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from seoib.cli import main
from seoib.matrix.pools import pools_of
from seoib.matrix.svg import pools_svg

SVG = "{http://www.w3.org/2000/svg}"


def test_pools_of_a_chain_with_a_cycle() -> None:
    # a <-> b -> c <-> d, and e alone: pools {a,b}, {c,d}, {e}; one way {a,b} -> {c,d}.
    p = pools_of("abcde", [("a", "b"), ("b", "a"), ("b", "c"), ("c", "d"), ("d", "c")])
    assert p.members == (("a", "b"), ("c", "d"), ("e",))
    assert p.oneway == ((0, 1),)
    assert p.layers[0] == (0, 2) and p.layers[1] == (1,)


def test_svg_draws_a_box_per_pool_and_an_arrow_per_one_way_move() -> None:
    p = pools_of("abcdefg", [("a", "b"), ("b", "a"), ("b", "c"), ("a", "d")])
    svg = ET.fromstring(pools_svg(p, "pools", lambda ms: [", ".join(ms)]))
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    # e, f and g have no safe move at all: one shared grey box instead of three.
    assert len(list(svg.iter(f"{SVG}rect"))) == 4
    assert any(t and t.startswith("3 stacks, each alone") for t in texts)
    assert len(list(svg.iter(f"{SVG}line"))) == len(p.oneway) == 2
    assert "a, b" in texts


def test_graph_out_writes_the_file_its_suffix_names(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pools.svg"
    assert main(["graph", "--out", str(out)]) == 0
    assert f"wrote svg to {out}" in capsys.readouterr().out
    svg = ET.fromstring(out.read_text())
    assert svg.tag == f"{SVG}svg" and svg.find(f"{SVG}title") is not None
    data = tmp_path / "graph.json"
    assert main(["graph", "--out", str(data), "--format", "json"]) == 0
    doc = json.loads(data.read_text())
    texts = [t.text or "" for t in svg.iter(f"{SVG}text")]
    boxes = [t for t in texts if t.startswith("pool ")]
    alone = sum(int(t.split()[0]) for t in texts if " stacks, each alone" in t)
    assert len(boxes) + alone == len(doc["pools"]) > 1, "every pool is drawn, the lone ones shared"


@pytest.mark.parametrize("target", ["", "."])
def test_graph_out_refuses_a_path_that_is_not_a_file(target: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(tmp_path.iterdir())
    assert main(["graph", "--out", str(tmp_path / target) if target else ""]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err
    assert sorted(tmp_path.iterdir()) == before
