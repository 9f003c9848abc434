"""Every documentation citation resolves inside a clone of the repository.

Code, rules, schemas, tests and the README cite the project's pages as
``docs/<page>.md`` or ``docs/<page>.md, "<heading>"``: the page must exist and the
heading must be one of its headings (compared case-insensitively, markup ignored).
Links between the pages (``page.md#anchor``) must resolve the same way. No file cites
the design and domain notes that lived outside the repository. Where docs/contracts.md
restates data (outcome severities, a plan), it is held to the rules and schemas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# Where citations live; generated output (matrix/) cites nothing and is left out.
SCANNED = ("README.md", "pyproject.toml", "setup.py", "seoib", "rules", "schemas", "tests",
           "benchmarks", "fleets")
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".json", ".toml", ".txt", ".cfg"}

CITATION = re.compile(r'(?<![\w/.-])docs/([\w.-]+?\.md)(?:,\s*"([^"\n]+)")?')
LINK = re.compile(r"\]\(([\w.-]+\.md)?(?:#([\w-]+))?\)")
# Spelled in pieces so this file does not match its own check.
OLD_NOTES = re.compile(r"\b(?:" + "|".join(("DESIGN", "DOMAIN")) + r")\.md\b")


@dataclass(frozen=True)
class Citation:
    where: str          # file:line
    page: str
    heading: str | None


def _normalise(text: str) -> str:
    return " ".join(text.replace("`", "").replace("*", "").split()).lower()


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    kept = re.sub(r"[^\w\- ]", "", _normalise(heading))
    return kept.replace(" ", "-")


def headings(markdown: str) -> list[str]:
    """Headings of a page, outside fenced code blocks."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"#{1,6}\s+(.+?)\s*#*\s*$", line)):
            out.append(m.group(1))
    return out


def section(markdown: str, heading: str) -> str:
    """The text under a heading, up to the next heading of the same or a higher level."""
    lines, out, level = markdown.splitlines(), [], 0
    for line in lines:
        m = re.match(r"(#{1,6})\s+(.+?)\s*$", line)
        if level and m and len(m.group(1)) <= level:
            break
        if level:
            out.append(line)
        elif m and _normalise(m.group(2)) == _normalise(heading):
            level = len(m.group(1))
    assert level, f"no heading {heading!r}"
    return "\n".join(out)


def citations(text: str, name: str) -> Iterator[Citation]:
    for number, line in enumerate(text.splitlines(), 1):
        for m in CITATION.finditer(line):
            yield Citation(f"{name}:{number}", m.group(1), m.group(2))


def problems(found: Iterable[Citation], docs: Path) -> list[str]:
    """One line per citation whose page or heading does not exist."""
    out = []
    for c in found:
        page = docs / c.page
        if not page.is_file():
            out.append(f"{c.where}: docs/{c.page} does not exist")
        elif c.heading and _normalise(c.heading) not in {_normalise(h)
                                                         for h in headings(page.read_text())}:
            out.append(f'{c.where}: docs/{c.page} has no heading "{c.heading}"')
    return out


def _scanned_files() -> Iterator[Path]:
    for name in SCANNED:
        path = ROOT / name
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(p for p in path.rglob("*")
                              if p.is_file() and p.suffix in SUFFIXES and "__pycache__" not in p.parts)


def _repo_citations() -> list[Citation]:
    # This file's own examples of bad citations are the checker's test data, not citations.
    return [c for p in _scanned_files() if p != Path(__file__).resolve()
            for c in citations(p.read_text(errors="replace"), str(p.relative_to(ROOT)))]


def test_every_docs_citation_names_a_page_and_heading_that_exist() -> None:
    assert problems(_repo_citations(), DOCS) == []


def test_citations_are_found_where_the_repository_cites_docs() -> None:
    # The scan must see the citing files, or the check above proves nothing.
    places = {c.where.split("/", 1)[0] for c in _repo_citations()}
    assert {"seoib", "rules", "tests", "fleets"} <= places


def test_no_file_cites_the_notes_outside_the_repository() -> None:
    hits = [f"{p.relative_to(ROOT)}:{n}"
            for p in [*_scanned_files(), *sorted(DOCS.glob("*.md"))]
            for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
            if OLD_NOTES.search(line)]
    assert hits == []


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_links_between_pages_resolve(page: str) -> None:
    text = (DOCS / page).read_text()
    broken = []
    for target, anchor in LINK.findall(text):
        path = DOCS / (target or page)
        if not path.is_file():
            broken.append(f"{page}: {target} does not exist")
        elif anchor and anchor not in {_slug(h) for h in headings(path.read_text())}:
            broken.append(f"{page}: {target or page}#{anchor} names no heading")
    assert broken == []


def test_the_checker_reports_a_missing_page_and_a_missing_heading(tmp_path: Path) -> None:
    (tmp_path / "domain.md").write_text("# Domain\n\n## KVM behaviour table\n\n```\n# not a heading\n```\n")
    text = ('see docs/domain.md, "KVM behaviour table"\n'
            'see docs/domain.md, "not a heading"\n'
            "see docs/gone.md\n"
            "see qemu/docs/about.md and docs/domain.md\n")
    assert problems(citations(text, "f.py"), tmp_path) == [
        'f.py:2: docs/domain.md has no heading "not a heading"',
        "f.py:3: docs/gone.md does not exist",
    ]


def test_heading_anchors_follow_github() -> None:
    assert _slug("Fleet plans: `check` and `plan`") == "fleet-plans-check-and-plan"
    assert _slug("IOAPIC versions 0x11 and 0x20") == "ioapic-versions-0x11-and-0x20"


def _outcome_rows(heading: str) -> dict[str, str]:
    """Outcome -> severity from one of the outcome tables of docs/contracts.md."""
    rows = {}
    for line in section((DOCS / "contracts.md").read_text(), heading).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`"):
            for name in re.findall(r"`([^`]+)`", cells[0]):
                rows[name] = cells[1]
    return rows


def test_documented_outcomes_are_the_schema_outcomes_with_the_rules_severities() -> None:
    severities = yaml.safe_load((ROOT / "rules" / "queries.yaml").read_text())["severities"]
    boot, migration = _outcome_rows("Boot outcomes"), _outcome_rows("Migration outcomes")
    schema = json.loads((ROOT / "schemas" / "policy-output.schema.json").read_text())
    assert set(boot) | set(migration) == set(schema["properties"]["outcome"]["enum"])
    assert {**boot, **migration} == {name: severities[name] for name in {**boot, **migration}}


def test_the_plan_example_is_a_valid_plan() -> None:
    block = re.search(r"```yaml\n(.*?)```", section((DOCS / "contracts.md").read_text(), "Fleet plans"),
                      re.S)
    assert block, "docs/contracts.md, Fleet plans: no YAML example"
    schema = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(yaml.safe_load(block.group(1)))]
    assert errors == []
