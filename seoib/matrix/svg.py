"""A layered SVG picture of migration pools: one box per pool, arrows for one-way moves.

The pools' condensation is a DAG, so a layered (Sugiyama-style) drawing is
simple: layers are topological generations (pools nothing can reach first),
boxes inside a layer are ordered by the mean position of their predecessors
(one barycentre pass), and arrows run from a box's bottom to a box's top. A
layer wider than four boxes wraps. Single stacks with no safe move in or out
share one grey box, so a VM class that runs on few stacks stays one picture.
Small enough to write here; graphviz would be a system package to install.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from .pools import Pools

__all__ = ["pools_svg"]

_W, _LINE, _PAD, _GAP_X, _GAP_Y, _PER_ROW = 330, 16, 8, 30, 60, 4
_ALONE = -1  # the box of the isolated stacks
_FILL = ("#dbeafe", "#dcfce7", "#fef9c3", "#fde2e2", "#ede9fe", "#e0f2fe")


def _isolated(p: Pools) -> set[int]:
    linked = {x for edge in p.oneway for x in edge}
    alone = {i for i, ms in enumerate(p.members) if len(ms) == 1 and i not in linked}
    return alone if len(alone) > 1 else set()


def _order(p: Pools, skip: set[int]) -> list[list[int]]:
    pos: dict[int, float] = {}
    preds: dict[int, list[int]] = {}
    for a, b in p.oneway:
        preds.setdefault(b, []).append(a)
    rows = []
    for layer in p.layers:
        def key(i: int) -> tuple[float, int]:
            ps = [pos[x] for x in preds.get(i, []) if x in pos]
            return (sum(ps) / len(ps) if ps else 0.0, i)
        row = sorted((i for i in layer if i not in skip), key=key)
        pos.update({i: float(k % _PER_ROW) for k, i in enumerate(row)})
        rows += [row[k:k + _PER_ROW] for k in range(0, len(row), _PER_ROW)]
    if skip:
        rows.append([_ALONE])
    return rows


def pools_svg(p: Pools, title: str, describe: Callable[[Sequence[str]], list[str]]) -> str:
    """The SVG document (a string); ``describe`` turns a pool's members into text lines."""
    alone = _isolated(p)
    text = {i: [f"pool {i + 1}: {len(ms)} stack{'s' if len(ms) != 1 else ''}", *describe(ms)]
            for i, ms in enumerate(p.members) if i not in alone}
    if alone:
        text[_ALONE] = [f"{len(alone)} stacks, each alone: no safe move in or out",
                        *describe([p.members[i][0] for i in sorted(alone)])]
    rows = _order(p, alone)
    width = max(max(len(r) for r in rows) * (_W + _GAP_X) + _GAP_X if rows else _W,
                len(title) * 8 + 2 * _GAP_X)  # the title is bold 14px: about 8px a character
    box: dict[int, tuple[float, float, float]] = {}  # x, y, height
    y = 40.0
    for row in rows:
        tallest = max(len(text[i]) for i in row) * _LINE + 2 * _PAD
        offset = (width - len(row) * (_W + _GAP_X) + _GAP_X) / 2
        for k, i in enumerate(row):
            box[i] = (offset + k * (_W + _GAP_X), y, len(text[i]) * _LINE + 2 * _PAD)
        y += tallest + _GAP_Y
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{y:.0f}" '
           f'viewBox="0 0 {width:.0f} {y:.0f}" role="img" aria-label="{escape(title)}" '
           'font-family="system-ui,sans-serif" font-size="12">',
           f"<title>{escape(title)}</title>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
           'markerHeight="8" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#555"/>'
           "</marker></defs>",
           f'<text x="{_GAP_X}" y="24" font-size="14" font-weight="bold">{escape(title)}</text>']
    outs: dict[int, list[int]] = {}
    ins: dict[int, list[int]] = {}
    for a, b in p.oneway:  # spread the ends of a box's arrows along its edge, in x order
        outs.setdefault(a, []).append(b)
        ins.setdefault(b, []).append(a)

    def end(i: int, others: list[int], other: int) -> float:
        order = sorted(others, key=lambda o: (box[o][0], o))
        return box[i][0] + _W * (order.index(other) + 1) / (len(order) + 1)

    for a, b in p.oneway:
        _, ay, ah = box[a]
        _, by, _ = box[b]
        out.append(f'<line x1="{end(a, outs[a], b):.0f}" y1="{ay + ah:.0f}" x2="{end(b, ins[b], a):.0f}" '
                   f'y2="{by:.0f}" stroke="#555" stroke-width="1.5" marker-end="url(#arrow)">'
                   f"<title>pool {a + 1} to pool {b + 1}: one way</title></line>")
    for i, (x, y0, h) in box.items():
        fill = "#eeeeee" if i == _ALONE else _FILL[i % len(_FILL)]
        out.append(f'<g><rect x="{x:.0f}" y="{y0:.0f}" width="{_W}" height="{h:.0f}" rx="6" '
                   f'fill="{fill}" stroke="#333"/>')
        for k, line in enumerate(text[i]):
            weight = ' font-weight="bold"' if k == 0 else ""
            out.append(f'<text x="{x + _PAD:.0f}" y="{y0 + _PAD + (k + 0.8) * _LINE:.0f}"{weight}>'
                       f"{escape(line)}</text>")
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
