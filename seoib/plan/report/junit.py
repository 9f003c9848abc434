"""JUnit XML: a testsuite per wave (plus one for the fleet before the rollout), a
testcase per check and VM group. CI shows a blocking finding as a failure, and a
warning as one too unless --fail-on block. Characters XML 1.0 cannot hold (ESC and
other controls in a plan's names) are written as visible escapes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..checker import CheckReport
from ..findings import CHECKS, Finding
from .escape import xml_safe

__all__ = ["render_junit"]

_PER_WAVE = [c for c in CHECKS if c not in ("check.initial-state", "check.stays-quirked")]


def _suite(root: ET.Element, name: str, checks: list[str], report: CheckReport,
           findings: list[Finding], fail_on: str) -> None:
    suite = ET.SubElement(root, "testsuite", name=name)
    tests = failures = 0
    for check in checks:
        for vm in report.plan.vms:
            hits = [f for f in findings if f.check == check and f.vm == vm.name]
            case = ET.SubElement(suite, "testcase", classname=f"{name}.{check}",
                                 name=f"{check} {vm.name}")
            tests += 1
            failing = [f for f in hits if f.severity == "block"
                       or (f.severity == "warn" and fail_on == "warn")]
            if failing:
                failures += 1
                worst = "block" if any(f.severity == "block" for f in failing) else "warn"
                fail = ET.SubElement(case, "failure", type=worst,
                                     message=f"{len(failing)} finding(s), {vm.count} VMs")
                fail.text = "\n".join(f"{report.plan.source}:{f.line}: {f.message}" for f in failing)
            elif hits:
                ET.SubElement(case, "system-out").text = "\n".join(f.message for f in hits)
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")


def render_junit(report: CheckReport, fail_on: str) -> str:
    root = ET.Element("testsuites", name=f"seoib check {report.plan.source}")
    initial = [f for f in report.findings if f.wave_index == 0]
    _suite(root, "before the rollout", ["check.initial-state", "check.no-evacuation-target",
                                        "check.unsafe-targets", "check.capacity"], report,
           initial, fail_on)
    for w in report.waves:
        found = [f for f in report.findings if f.wave_index == w["index"]]
        _suite(root, f"wave {w['index']} {w['name']}", [*_PER_WAVE, "check.stays-quirked"],
               report, found, fail_on)
    total = sum(int(s.get("tests", "0")) for s in root)
    root.set("tests", str(total))
    root.set("failures", str(sum(int(s.get("failures", "0")) for s in root)))
    for elem in root.iter():  # names come from the plan: keep the XML well-formed
        elem.attrib.update({k: xml_safe(v) for k, v in elem.attrib.items()})
        if elem.text:
            elem.text = xml_safe(elem.text)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
