"""The engine held to what real QEMU binaries did on a real KVM (tests/lab/evidence/).

Each evidence file is one `seoib lab --evidence` run, with its provenance: the
binaries (version, package, ELF build id, build recipe), the kernel, the KVM
implementation and the date. Every observation is judged again by the engine as it
is now: one that agreed when it was recorded must still agree, and the ones recorded
as disagreements (known_disagreements.yaml, each with what was found) must still be
disagreements until the rules are changed - then the list is to be trimmed. The
observations that matter most are named in key_observations.yaml with what was seen.
The judgements stored in each file are the engine's as it is now: when the rules change,
``SEOIB_UPDATE_GOLDEN=1`` re-judges them through the same path (what was observed stays
as recorded). No KVM or QEMU is needed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from seoib.lab.judge import judge
from seoib.lab.observation import Observation
from seoib.lab.report import dump_report, read_evidence, rejudge
from seoib.query.api import Engine

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
EVIDENCE = sorted((HERE / "evidence").glob("*.json"))
SCHEMA = json.loads((ROOT / "schemas" / "lab-output.schema.json").read_text(encoding="utf-8"))
KNOWN = yaml.safe_load((HERE / "known_disagreements.yaml").read_text(encoding="utf-8"))["known"]
KEY = yaml.safe_load((HERE / "key_observations.yaml").read_text(encoding="utf-8"))["observations"]


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def test_there_is_evidence_of_each_build() -> None:
    labels = {b["label"] for p in EVIDENCE for b in _load(p)["binaries"]}
    assert {"qemu-7.2.22", "qemu-10.0.13", "qemu-10.0.13+rfc-v2"} <= labels


@pytest.mark.parametrize("path", EVIDENCE, ids=lambda p: p.name)
def test_evidence_is_valid_and_says_where_it_came_from(path: Path) -> None:
    data = _load(path)
    assert list(Draft202012Validator(SCHEMA).iter_errors(data)) == []
    ids = [o["id"] for o in data["observations"]]
    assert len(ids) == len(set(ids))  # an id names one run: known and key lists refer to it
    assert data["host"]["kvm"]["implementation"] in ("vmx", "svm", "pvm", "other")
    for b in data["binaries"]:
        assert b["build_id"] and b["version"] and (b["package"] or b["build_info"])
        if b["design"] == "rfc-v2":  # a patched build names the patch it carries
            assert "RFC PATCH v2" in (b["build_info"] or {}).get("origin", "")


def _rejudged(engine: Engine, path: Path) -> Iterator[tuple[Observation, dict[str, Any], Any]]:
    for obs, recorded in read_evidence(_load(path)):
        yield obs, recorded, judge(engine, obs)


@pytest.mark.parametrize("path", EVIDENCE, ids=lambda p: p.name)
def test_the_engine_agrees_with_every_observation_not_known_to_differ(engine: Engine,
                                                                       path: Path) -> None:
    known = {k["id"] for k in KNOWN if k["evidence"] == path.name}
    problems = []
    for obs, recorded, now in _rejudged(engine, path):
        assert now.witness_agrees, f"{obs.id}: the simulator does not reproduce the verdict"
        if recorded["inconclusive"]:
            continue
        if obs.id in known and now.agrees:
            problems.append(f"{obs.id}: now agrees - remove it from known_disagreements.yaml")
        elif obs.id not in known and not now.agrees:
            problems.append(f"{obs.id}: {'; '.join(now.differences)}")
    assert problems == []


@pytest.mark.parametrize("path", EVIDENCE, ids=lambda p: p.name)
def test_every_recorded_disagreement_is_known(path: Path) -> None:
    known = {k["id"] for k in KNOWN if k["evidence"] == path.name}
    assert set(_load(path)["disagreements"]) <= known


def _subset(expected: dict[str, Any], seen: dict[str, Any]) -> list[str]:
    out = []
    for key, want in expected.items():
        got = seen.get(key)
        if isinstance(want, dict) and isinstance(got, dict):
            out += [f"{key}.{d}" for d in _subset(want, got)]
        elif isinstance(want, str) and want.startswith("~"):
            if not isinstance(got, str) or want[1:] not in got:
                out.append(f"{key}: {got!r} (expected it to contain {want[1:]!r})")
        elif isinstance(want, str) and want.startswith(">="):
            if not isinstance(got, int) or got < int(want[2:]):
                out.append(f"{key}: {got} (expected {want})")
        elif got != want:
            out.append(f"{key}: {got!r} (expected {want!r})")
    return out


@pytest.mark.parametrize("case", KEY, ids=lambda c: c["name"])
def test_key_observations(engine: Engine, case: dict[str, Any]) -> None:
    items = {o.id: o for o, _ in read_evidence(_load(HERE / "evidence" / case["evidence"]))}
    obs = items[case["id"]]
    assert _subset(case["observed"], obs.observed) == []
    verdict = judge(engine, obs)
    assert verdict.agrees, verdict.differences
    assert verdict.engine["outcome"] == case["engine"]


@pytest.mark.parametrize("path", EVIDENCE, ids=lambda p: p.name)
def test_the_recorded_judgements_are_the_engines_now(engine: Engine, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    now = dump_report(rejudge(json.loads(text), lambda obs: judge(engine, obs)))
    if os.environ.get("SEOIB_UPDATE_GOLDEN") == "1" and now != text:
        path.write_text(now, encoding="utf-8")
        text = now
    assert now == text, f"{path.name}: judgements differ from the engine's; SEOIB_UPDATE_GOLDEN=1"
