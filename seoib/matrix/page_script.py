"""The style sheet and script of index.html (seoib/matrix/page/), inlined by html_out.

The script answers the query panel from the cells embedded in the page (no
server), shows a cell's reasons on hover or focus, filters the heat maps, and
swaps their cells between live migration and snapshot restore (loadvm). They
are files of their own so that they read (and lint) as CSS and JavaScript.
"""

from __future__ import annotations

from importlib.resources import files

__all__ = ["CSS", "JS"]

_HERE = files(__package__) / "page"
CSS = (_HERE / "page.css").read_text(encoding="utf-8")
JS = (_HERE / "page.js").read_text(encoding="utf-8")
