"""A lab's results: counts, disagreements with both sides, text and JSON.

Contract: :class:`LabReport` holds the host (kernel, probed
``KVM_CAP_X2APIC_API``, the KVM implementation), the binaries with their
provenance, every observation with the engine's judgement, the time taken and
the host's load. :meth:`LabReport.exit_code` is the command's: 4 when the
simulator did not reproduce one of the engine's own verdicts, 1 when any
observation disagrees with the engine or showed nothing (inconclusive), 0 when
every one agrees. The JSON form (schemas/lab-output.schema.json) is also the
evidence file format: :func:`read_evidence` reads one back.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .binary import QemuBinary
from .observation import KINDS, Judgement, Observation

__all__ = ["FORMAT", "LabReport", "dump_report", "read_evidence", "rejudge"]

FORMAT = "seoib-lab/1"


@dataclass
class LabReport:
    date: str
    host: dict[str, Any]
    native: dict[str, Any]
    binaries: list[QemuBinary]
    notes: list[str]
    results: list[tuple[Observation, Judgement]]
    seconds: float
    jobs: int
    load: dict[str, list[float]] = field(default_factory=dict)

    def disagreements(self) -> list[tuple[Observation, Judgement]]:
        return [(o, j) for o, j in self.results if not j.agrees and not j.inconclusive]

    def inconclusive(self) -> list[tuple[Observation, Judgement]]:
        return [(o, j) for o, j in self.results if j.inconclusive]

    def exit_code(self) -> int:
        if any(not j.witness_agrees for _, j in self.results):
            return 4
        return 0 if all(j.agrees for _, j in self.results) else 1

    def summary(self) -> dict[str, Any]:
        return {**_counts(self.results), "seconds": round(self.seconds, 1), "jobs": self.jobs,
                "load": self.load}

    def as_json(self) -> dict[str, Any]:
        return {
            "command": "lab", "format": FORMAT, "date": self.date, "host": self.host,
            "native": self.native, "binaries": [b.as_json() for b in self.binaries],
            "notes": self.notes, "summary": self.summary(),
            "observations": [{**o.as_json(), "judgement": j.as_json()} for o, j in self.results],
            "disagreements": [o.id for o, _ in self.disagreements()],
            "inconclusive": [o.id for o, _ in self.inconclusive()]}

    def to_json(self) -> str:
        """The JSON report; each observation on a line of its own (evidence files diff well)."""
        return dump_report(self.as_json())

    def to_text(self) -> str:
        s = self.summary()
        kvm = self.host["kvm"]
        eoi = {True: "EOIs processed at delivery", False: "EOIs processed at the guest's write",
               None: "EOI timing unknown"}[kvm["eoi_at_delivery"]]
        lines = [f"seoib lab: {s['observations']} observations, {s['agree']} agree with the engine, "
                 f"{s['disagree']} disagree, {s['inconclusive']} inconclusive "
                 f"({s['seconds']} s, {self.jobs} at a time, load {self.load.get('before')})",
                 f"  host: kernel {self.host['kernel']}, KVM_CAP_X2APIC_API {self.host['x2apic_api']}, "
                 f"KVM {kvm['implementation']} ({kvm['module']}; {eoi})"]
        for b in self.binaries:
            lines.append(f"  {b.label}: {b.path} ({b.package or 'no package string'}; build id "
                         f"{b.build_id[:16]}; {len(b.machines)} machine types; design "
                         f"{b.design or 'none seen'}: {b.design_from})")
        for kind, c in s["by_kind"].items():
            if c["observed"]:
                lines.append(f"  {kind:<9} {c['observed']:>4} observed, {c['agree']:>4} agree")
        lines += self._highlights()
        for title, items in (("disagreements", self.disagreements()),
                             ("inconclusive", self.inconclusive())):
            if items:
                lines.append(f"{title}:")
                for o, j in items:
                    lines += _detail(o, j)
        lines += [f"note: {n}" for n in self.notes]
        notes = {o.host_dependent for o, _ in self.results if o.host_dependent}
        lines += [f"note: host-dependent: {n}" for n in sorted(notes)]
        return "\n".join(lines) + "\n"

    def _highlights(self) -> list[str]:
        """What the guest showed, once per outcome and binary: the lab's headline."""
        seen: Counter[tuple[str, str]] = Counter()
        out = []
        for o, j in self.results:
            if o.kind != "guest":
                continue
            key = (o.binaries["binary"], o.observed.get("outcome", ""))
            seen[key] += 1
            if seen[key] == 1:
                mark = "agrees" if j.agrees else "DISAGREES"
                out.append(f"  guest {o.observed.get('outcome')}: {o.id.removeprefix('guest ')}: "
                           f"{o.observed.get('why')} ({mark}; engine {j.engine.get('outcome')})")
        return out


def _detail(o: Observation, j: Judgement) -> list[str]:
    lines = [f"  - {o.id}"]
    lines += [f"      {d}" for d in j.differences]
    if j.inconclusive:
        lines.append(f"      inconclusive: {j.inconclusive}")
    if "error" not in j.engine:
        lines.append(f"      engine: {j.engine['outcome']}, policy {j.engine['policy']}, rules "
                     f"{', '.join(j.engine['rules'][:6])}")
    lines.append(f"      command line: {o.cmdline}")
    return lines


def _counts(results: list[tuple[Observation, Judgement]]) -> dict[str, Any]:
    return {
        "observations": len(results),
        "agree": sum(j.agrees for _, j in results),
        "disagree": sum(not j.agrees and not j.inconclusive for _, j in results),
        "inconclusive": sum(bool(j.inconclusive) for _, j in results),
        "by_kind": {k: {"observed": sum(o.kind == k for o, _ in results),
                        "agree": sum(o.kind == k and j.agrees for o, j in results)}
                    for k in KINDS}}


def dump_report(data: dict[str, Any]) -> str:
    """A report object as text: each observation on a line of its own (evidence files diff well)."""
    data = dict(data)
    observations = data.pop("observations")
    head = json.dumps(data, indent=1)[:-2]  # without the closing "\n}"
    rows = ",\n  ".join(json.dumps(o, separators=(",", ":")) for o in observations)
    return f'{head},\n "observations": [\n  {rows}\n ]\n}}\n'


def rejudge(data: dict[str, Any], judge: Callable[[Observation], Judgement]) -> dict[str, Any]:
    """An evidence file judged again: what was observed (and when, where, on what) stays as
    recorded; each judgement, the counts and the disagreement lists are ``judge``'s now."""
    results = [(obs, judge(obs)) for obs, _ in read_evidence(data)]
    summary = {**data["summary"], **_counts(results)}
    return {**data, "summary": summary,
            "observations": [{**item, "judgement": j.as_json()}
                             for item, (_, j) in zip(data["observations"], results, strict=True)],
            "disagreements": [o.id for o, j in results if not j.agrees and not j.inconclusive],
            "inconclusive": [o.id for o, j in results if j.inconclusive]}


def read_evidence(data: dict[str, Any]) -> list[tuple[Observation, dict[str, Any]]]:
    """The observations of an evidence file, each with the judgement recorded beside it."""
    if data.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file")
    return [(Observation.from_json(item), item["judgement"]) for item in data["observations"]]
