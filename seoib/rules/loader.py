"""Read rule directories: safe YAML, then JSON Schema, every problem with file:line.

Data files have fixed names; every other ``*.yaml`` is a stage file of rules.
All schema problems of all files are collected before failing, so a user fixes
a rule set in one pass. Several directories make one rule set: a complete one
is a base, a partial one an overlay merged over what came before (seoib.rules.overlay).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..digests import sha256
from ..errors import BadInput, Location, RuleError
from ..paths import schemas_dir
from ..record import Factory, record

if TYPE_CHECKING:  # yaml stays unimported on the cached query path
    from ..yamlio import LineDict

__all__ = ["DATA_FILES", "RawRules", "duplicate_ids", "is_complete", "load_rule_dir", "load_rule_dirs",
           "rules_digest", "schema_problems", "set_digest"]

# file stem -> schema name; every other *.yaml is validated as a stage file.
DATA_FILES = {
    "facts": "facts",
    "kernels": "kernels",
    "qemu": "qemu",
    "machines": "machines",
    "designs": "designs",
    "guests": "guests",
    "queries": "queries",
    "assumptions": "assumptions",
}


@record
class RawRules:
    """Schema-valid documents of one rule directory, by file stem."""

    root: Path
    data: dict[str, LineDict]
    stage_files: dict[str, LineDict]
    # stem -> the file it was read from (the newest overlay that has it)
    paths: dict[str, str] = Factory(dict)
    roots: tuple[Path, ...] = ()

    def path(self, stem: str) -> str:
        return self.paths.get(stem) or str(self.root / f"{stem}.yaml")


def rule_files(root: Path) -> list[Path]:
    if not root.exists():
        raise BadInput("rule directory does not exist", Location(str(root)))
    if not root.is_dir():
        raise BadInput("not a directory (expected a rule directory)", Location(str(root)))
    found = sorted(p for p in root.iterdir() if p.suffix == ".yaml")
    for path in found:
        if not path.is_file():  # a stage file that is not there must not vanish silently
            what = ("a dangling symbolic link (its target is missing)" if path.is_symlink()
                    else "not a regular file")
            raise BadInput(f"rule file is {what}", Location(str(path)))
    return found


def rules_digest(root: Path) -> str:
    """A digest of every rule file's name and bytes: identical rules, identical digest."""
    h = sha256()
    for path in rule_files(root):
        h.update(path.name.encode() + b"\0")
        try:
            h.update(path.read_bytes())
        except OSError as exc:
            raise BadInput(f"cannot read: {exc.strerror}", Location(str(path))) from None
        h.update(b"\0")
    return h.hexdigest()


def set_digest(roots: list[Path]) -> str:
    """The digest of a rule set made of ``roots`` in order (one root: its own digest)."""
    digests = [rules_digest(r) for r in roots]
    if len(digests) == 1:
        return digests[0]
    return sha256("\0".join(digests).encode()).hexdigest()


def is_complete(root: Path) -> bool:
    """A directory with every data file is a rule set of its own, not an overlay."""
    stems = {p.stem for p in rule_files(root)}
    return all(stem in stems for stem in DATA_FILES)


@cache
def _schema(name: str, overlay: bool = False) -> dict[str, Any]:
    with (schemas_dir() / "rules" / f"{name}.schema.json").open() as fh:
        schema = json.load(fh)
    if overlay:
        schema.pop("required", None)  # an overlay file gives only what it adds
    return schema


def _line_at(doc: Any, path: list[Any]) -> int | None:
    """The line of the deepest node along ``path`` that the loader recorded."""
    from ..yamlio import LineDict, LineList

    node, line = doc, getattr(doc, "line", None)
    for key in path:
        in_dict = isinstance(node, LineDict) and key in node
        in_list = isinstance(node, LineList) and isinstance(key, int) and key < len(node)
        if in_dict or in_list:
            line = node.line_of(key)
            node = node[key]
        else:
            break
        line = getattr(node, "line", line)
    return line


def schema_problems(doc: Any, schema: dict[str, Any], source: str) -> list[tuple[Location, str]]:
    """Every schema violation of ``doc`` as (location, message), in file order."""
    from jsonschema import Draft202012Validator  # lazy: only needed when rules are compiled

    problems = []
    for err in Draft202012Validator(schema).iter_errors(doc):
        # oneOf failures are unreadable; their best sub-error says what is wrong.
        best = err
        if err.context:
            best = min(err.context, key=lambda e: (-len(e.absolute_path), str(e.message)))
        where = "/".join(str(p) for p in best.absolute_path)
        message = best.message if len(best.message) < 200 else best.message[:197] + "..."
        line = _line_at(doc, list(best.absolute_path))
        problems.append((Location(source, line), f"{where + ': ' if where else ''}{message}"))
    problems.sort(key=lambda p: (p[0].line or 0, p[1]))
    return problems


def duplicate_ids(doc: LineDict, source: str) -> list[tuple[Location, str]]:
    """An ``id`` (or a release ``version``) given twice in one list of one file, at the second.

    Merging by id would keep the last silently: which of two entries a user meant is not
    ours to guess, in a complete rule set or in an overlay.
    """
    from ..yamlio import LineList

    problems: list[tuple[Location, str]] = []
    for key, items in doc.items():
        if not isinstance(items, LineList):
            continue
        seen: dict[tuple[str, Any], int | None] = {}
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            field = "id" if "id" in item else "version" if "version" in item else None
            if field is None or not isinstance(item[field], str | int | float):
                continue
            mark = (field, item[field])
            line = items.line_of(i)
            if mark in seen:
                first = f" (first at line {seen[mark]})" if seen[mark] else ""
                problems.append((Location(source, line), f"{key}: {field} {item[field]!r} is given "
                                 f"twice in this file{first}"))
            else:
                seen[mark] = line
    return problems


def load_rule_dir(root: Path) -> RawRules:
    """Load and schema-check a rule directory; raise RuleError listing every problem."""
    from ..yamlio import load_yaml  # lazy: a cached rule set never parses YAML

    problems: list[tuple[Location, str]] = []
    data: dict[str, LineDict] = {}
    stages: dict[str, LineDict] = {}
    files = rule_files(root)
    present = {p.stem for p in files}
    for stem in DATA_FILES:
        if stem not in present:
            problems.append((Location(str(root / f"{stem}.yaml")), "required rule file is missing"))
    for path in files:
        try:
            doc = load_yaml(path)
        except BadInput as exc:
            problems.append((exc.location or Location(str(path)), exc.message))
            continue
        schema = DATA_FILES.get(path.stem, "stage")
        if not isinstance(doc, dict):
            problems.append((Location(str(path), getattr(doc, "line", 1)), "expected a mapping"))
            continue
        found = schema_problems(doc, _schema(schema), str(path))
        if not found and schema != "stage":  # stage files: rule ids are checked across files
            found = duplicate_ids(doc, str(path))
        problems.extend(found)
        if not found:
            (data if schema != "stage" else stages)[path.stem] = doc
    if problems:
        raise RuleError.from_problems(problems)
    return RawRules(root, data, stages)


def load_rule_dirs(roots: list[Path]) -> RawRules:
    """Load a base rule directory and the overlays after it into one raw rule set."""
    from ..yamlio import load_yaml  # lazy: a cached rule set never parses YAML
    from .overlay import merge_sources

    start = max((i for i, r in enumerate(roots) if i == 0 or is_complete(r)), default=0)
    roots = roots[start:]
    if len(roots) == 1:
        raw = load_rule_dir(roots[0])
        return RawRules(raw.root, raw.data, raw.stage_files,
                        {stem: raw.path(stem) for stem in [*raw.data, *raw.stage_files]}, (raw.root,))
    base = load_rule_dir(roots[0])
    pieces: dict[str, list[tuple[LineDict, str]]] = {
        stem: [(doc, base.path(stem))] for stem, doc in base.data.items()}
    stages = {stem: (doc, base.path(stem)) for stem, doc in base.stage_files.items()}
    problems: list[tuple[Location, str]] = []
    for root in roots[1:]:
        for path in rule_files(root):
            try:
                doc = load_yaml(path)
            except BadInput as exc:
                problems.append((exc.location or Location(str(path)), exc.message))
                continue
            if not isinstance(doc, dict):
                problems.append((Location(str(path), getattr(doc, "line", 1)), "expected a mapping"))
                continue
            data = path.stem in DATA_FILES
            found = schema_problems(doc, _schema(DATA_FILES.get(path.stem, "stage"),
                                                 data and path.stem not in _WHOLE_FILES),
                                    str(path))
            if not found and data:  # stage files: rule ids are checked across files
                found = duplicate_ids(doc, str(path))
            problems.extend(found)
            if found:
                continue
            if not data:
                stages[path.stem] = (doc, str(path))
            elif path.stem in _WHOLE_FILES:
                pieces[path.stem] = [(doc, str(path))]
            else:
                pieces[path.stem].append((doc, str(path)))
    if problems:
        raise RuleError.from_problems(problems)
    merged = {stem: merge_sources(docs, stem in _FIELD_MERGED) for stem, docs in pieces.items()}
    paths = {stem: docs[-1][1] for stem, docs in pieces.items()}
    paths.update({stem: src for stem, (_, src) in stages.items()})
    return RawRules(roots[-1], merged, {s: d for s, (d, _) in stages.items()}, paths, tuple(roots))


# The vocabulary: an overlay replaces these whole, as it does stage files.
_WHOLE_FILES = frozenset({"facts", "queries"})
# Switches: an overlay entry sets fields of a known one (its value) and keeps the rest.
_FIELD_MERGED = frozenset({"assumptions"})
