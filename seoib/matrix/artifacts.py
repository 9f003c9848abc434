"""The file set of a matrix folder, by format, and how two folders differ.

FORMATS names the fixed files; the md format also writes one
``tables-<design>.md`` per design of the rules (:func:`file_names`). The files are
rendered on the machine's cores (each is a pure function of the matrix), and come
back in a fixed order, so the set is the same however the work was spread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import BadInput
from ..parallel import fork_map
from ..rules.ruleset import RuleSet
from .build import Matrix, Progress, build_matrix
from .csv_out import migration_csv, policy_csv
from .designs import compare_designs
from .designs_md import designs_markdown
from .fleet import default_fleet_path, load_fleet
from .html_out import index_html
from .json_out import matrix_json
from .markdown import design_tables, table_file
from .summary import readme

__all__ = ["FORMATS", "diff_summary", "file_names", "parse_formats", "render", "render_matrix"]

FORMATS: dict[str, tuple[str, ...]] = {
    "csv": ("migration.csv", "policy.csv"),
    "json": ("matrix.json",),
    "md": ("README.md", "designs.md"),
    "html": ("index.html",),
}

_WRITERS: dict[str, Callable[[Matrix], bytes]] = {
    "migration.csv": migration_csv, "policy.csv": policy_csv, "matrix.json": matrix_json,
    "README.md": readme, "index.html": index_html,
}


def file_names(rs: RuleSet, formats: Sequence[str]) -> list[str]:
    """Every file the selected formats write with this rule set."""
    names = [n for f in formats for n in FORMATS[f]]
    if "md" in formats:
        names += [table_file(d) for d in rs.resolver.designs]
    return names


def parse_formats(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in names if x not in FORMATS]
    if bad or not names:
        raise BadInput(f"--format: unknown format {', '.join(bad) or '(none)'} "
                       f"(choose from {','.join(FORMATS)})")
    return [f for f in FORMATS if f in names]


def render(rs: RuleSet, formats: Sequence[str], *,
           progress: Progress | None = None) -> dict[str, bytes]:
    """Every file of the selected formats for the default class space, in memory."""
    return render_matrix(rs, build_matrix(rs, progress=progress), formats)


def render_matrix(rs: RuleSet, m: Matrix, formats: Sequence[str]) -> dict[str, bytes]:
    names = [name for fmt in formats for name in (*FORMATS[fmt], *(("tables",) if fmt == "md" else ()))]
    files: dict[str, bytes] = {}
    for part in fork_map(_render_one, (rs, m), names):
        files.update(part)
    return files


def _render_one(shared: tuple[RuleSet, Matrix], name: str) -> dict[str, bytes]:
    """One file of the set (``tables``: every tables-<design>.md)."""
    rs, m = shared
    if name == "designs.md":
        fleet = default_fleet_path()
        report = compare_designs(rs, load_fleet(fleet))
        return {name: designs_markdown(report, source=f"fleets/{fleet.name}")}
    if name == "tables":
        return design_tables(m)
    return {name: _WRITERS[name](m)}


def diff_summary(out: Path, files: dict[str, bytes], limit: int = 5) -> list[str]:
    """One line per stale file, with the first differing lines for text files."""
    lines: list[str] = []
    for name, data in files.items():
        path = out / name
        if not path.is_file():
            lines.append(f"{name}: missing")
            continue
        old = path.read_bytes()
        if old == data:
            continue
        old_lines = old.decode(errors="replace").splitlines()
        new_lines = data.decode(errors="replace").splitlines()
        changed = [i for i in range(max(len(old_lines), len(new_lines)))
                   if (old_lines[i] if i < len(old_lines) else None)
                   != (new_lines[i] if i < len(new_lines) else None)]
        lines.append(f"{name}: {len(changed)} line(s) differ "
                     f"({len(old_lines)} lines on disk, {len(new_lines)} rebuilt)")
        for i in changed[:limit]:
            was = old_lines[i] if i < len(old_lines) else "(none)"
            now = new_lines[i] if i < len(new_lines) else "(none)"
            lines.append(f"  line {i + 1}: - {was[:160]}")
            lines.append(f"  line {i + 1}: + {now[:160]}")
    return lines
