"""JUnit XML: a testsuite per wave (plus one for the fleet before the rollout) and one
testcase per finding, so CI counts what the check counts.

A finding at or above ``--fail-on`` is a failing testcase (a blocking finding always,
a warning unless ``--fail-on block``); a note, or a warning that does not fail the
run, passes with its message as output. Every testcase name is unique in the file:
the check, the VMs, their population and boot, where they sit, then the wave and
step, and a number when two findings still read the same. Host entries are named compactly
(the first few, and how many more). Characters XML 1.0 cannot hold (ESC and other
controls in a plan's names) are written as visible escapes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..checker import CheckReport
from ..findings import Finding
from .escape import xml_safe

__all__ = ["failing", "render_junit", "testcase_names"]


def failing(f: Finding, fail_on: str) -> bool:
    """Whether a finding fails the run (and so its testcase)."""
    return f.severity == "block" or (f.severity == "warn" and fail_on == "warn")


def testcase_names(findings: list[Finding]) -> list[str]:
    """One name per finding, unique: what it is first, a number last if needed."""
    names: list[str] = []
    used: dict[str, int] = {}
    for f in findings:
        name = f"{f.check}: {f.vm} ({f.population}, booted on {_stack(f)}) on {f.host}"
        name += f" [{f.wave}, {f.context}]" if f.wave is not None else " [before the rollout]"
        n = used.get(name, 0) + 1
        used[name] = n
        names.append(name if n == 1 else f"{name} #{n}")
    return names


def _stack(f: Finding) -> str:
    return str((f.booted or {}).get("stack") or "?")


def _suite(root: ET.Element, name: str, findings: list[Finding], names: list[str],
           source: str, fail_on: str) -> None:
    suite = ET.SubElement(root, "testsuite", name=name)
    failures = 0
    for f, case_name in zip(findings, names, strict=True):
        case = ET.SubElement(suite, "testcase", classname=f"{name}.{f.check}", name=case_name)
        text = f"{source}:{f.line}: {f.message}"
        if failing(f, fail_on):
            failures += 1
            fail = ET.SubElement(case, "failure", type=f.severity,
                                 message=f"{f.severity}: {f.vm_count} VMs, {f.check}")
            fail.text = text
        else:
            ET.SubElement(case, "system-out").text = f"[{f.severity}] {text}"
    suite.set("tests", str(len(findings)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")


def render_junit(report: CheckReport, fail_on: str) -> str:
    source = report.plan.source
    root = ET.Element("testsuites", name=f"seoib check {source}")
    names = dict(zip(map(id, report.findings), testcase_names(report.findings), strict=True))
    steps = [(0, "before the rollout")] + [(w["index"], f"wave {w['index']} {w['name']}")
                                           for w in report.waves]
    for index, title in steps:
        found = [f for f in report.findings if f.wave_index == index]
        _suite(root, title, found, [names[id(f)] for f in found], source, fail_on)
    root.set("tests", str(len(report.findings)))
    root.set("failures", str(sum(1 for f in report.findings if failing(f, fail_on))))
    root.set("errors", "0")
    for elem in root.iter():  # names come from the plan: keep the XML well-formed
        elem.attrib.update({k: xml_safe(v) for k, v in elem.attrib.items()})
        if elem.text:
            elem.text = xml_safe(elem.text)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
