"""`--format json` output follows schemas/policy-output and migrate-output."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from seoib.cli import main
from seoib.paths import schemas_dir


def _validate(name: str, doc: dict) -> None:
    schema = json.loads((schemas_dir() / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    errors = sorted(Draft202012Validator(schema).iter_errors(doc), key=str)
    assert not errors, errors[0]


@pytest.mark.parametrize(("args", "code"), [
    (["--host", "kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2", "--vm", "machine=q35,irqchip=split"], 0),
    (["--host", "kernel=6.12.40,qemu=10.2.0", "--vm", "machine=q35,irqchip=split"], 1),
    (["--host", "kernel=6.12.40,qemu=11.0.0,seoib=accel-property",
      "--vm", "machine=q35,seoib-policy=respected"], 2),
    (["--host", "kernel=6.12.40,qemu=11.0.0", "--vm", "machine=q35,irqchip=off"], 0),
])
def test_policy_json(args: list[str], code: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", *args, "--format", "json"]) == code
    doc = json.loads(capsys.readouterr().out)
    _validate("policy-output", doc)
    assert doc["witness"]["ran"] and doc["witness"]["agrees"]
    assert {a["policy"] for a in doc["alternatives"]} == {"quirked", "respected", "not-advertised"}


@pytest.mark.parametrize(("args", "outcome"), [
    (["--src", "kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2", "--dst", "kernel=7.0.3,qemu=10.2.0"],
     "refused"),
    (["--src", "kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2", "--dst", "kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2"],
     "ok"),
    (["--snapshot", "--src", "kernel=7.0.3,qemu=10.2.0",
      "--dst", "kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2"], "ok"),
])
def test_migrate_json(args: list[str], outcome: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["migrate", *args, "--vm", "machine=pc-q35-10.2,irqchip=split", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    _validate("migrate-output", doc)
    assert doc["outcome"] == outcome
    assert (doc["dst_state"] is None) == (outcome == "refused")
