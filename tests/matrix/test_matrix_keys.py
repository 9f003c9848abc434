"""Matrix row keys are CLI specs: a cell's src/dst/host and vm, pasted, give the cell's verdict.

The keys are the class labels of migration.csv, policy.csv and matrix.json
(seoib.rules.matrix_keys reads them). Every label of the default matrix must parse,
and the verdict for a pasted row must be the row's: every policy row, and an even
sample of the live and snapshot rows, through the in-process Engine; two rows through
the command line as a user would paste them.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from matrix_support import FULL  # noqa: F401 (fixture)

from seoib.cli import main
from seoib.errors import Location
from seoib.matrix.build import Matrix
from seoib.matrix.csv_out import migration_csv, policy_csv
from seoib.matrix.json_out import matrix_document
from seoib.query.api import Engine
from seoib.rules.specs import parse_host_spec, parse_vm_spec

SAMPLE = 600  # live and snapshot rows checked, spread evenly over the file


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_every_label_of_the_matrix_is_a_spec(full_matrix: Matrix) -> None:
    doc = matrix_document(full_matrix)
    for stack in doc["stacks"]:
        spec = parse_host_spec(stack["label"], Location("--src"))
        assert spec.seoib == stack["design"] and spec.qemu in stack["qemu"]
    for vm in doc["vms"]:
        spec = parse_vm_spec(vm["label"], Location("--vm"))
        assert spec.machine in vm["machines"] and spec.guest == vm["guest"]


def test_pasted_policy_rows_give_their_verdicts(full_matrix: Matrix) -> None:
    engine = Engine(witness=False)
    rows = _rows(policy_csv(full_matrix))
    assert rows
    for row in rows:
        got = engine.policy(row["host"], row["vm"])
        assert (got["outcome"], got["severity"]) == (row["outcome"], row["severity"]), row


@pytest.mark.parametrize("mode", ["live", "snapshot"])
def test_pasted_migration_rows_give_their_verdicts(full_matrix: Matrix, mode: str) -> None:
    engine = Engine(witness=False)
    rows = _rows(migration_csv(full_matrix))
    step = max(1, len(rows) // SAMPLE)
    outcome = "outcome" if mode == "live" else "snapshot_outcome"
    for row in rows[::step]:
        got = engine.migrate(row["src"], row["dst"], row["vm"], snapshot=mode == "snapshot")
        assert got["outcome"] == row[outcome], row


def test_a_row_pasted_on_the_command_line(full_matrix: Matrix,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    rows = [r for r in _rows(migration_csv(full_matrix)) if r["severity"] == "block"
            and r["src"] != r["dst"]]
    row = rows[len(rows) // 2]
    code = main(["migrate", "--src", row["src"], "--dst", row["dst"], "--vm", row["vm"],
                 "--format", "json"])
    assert json.loads(capsys.readouterr().out)["outcome"] == row["outcome"] and code == 2
    prow = _rows(policy_csv(full_matrix))[0]
    main(["policy", "--host", prow["host"], "--vm", prow["vm"], "--format", "json"])
    assert json.loads(capsys.readouterr().out)["outcome"] == prow["outcome"]
