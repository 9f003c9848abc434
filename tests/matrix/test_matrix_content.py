"""What the matrix says: every cell simulated, the class space, the JSON contract."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import jsonschema
from matrix_support import FULL, SMALL  # noqa: F401 (fixtures)

from engine.matrix.build import Matrix
from engine.matrix.csv_out import migration_csv, policy_csv
from engine.matrix.json_out import matrix_json
from engine.paths import schemas_dir
from engine.ruleset import RuleSet


def test_every_cell_is_validated_by_the_simulator(full_matrix: Matrix) -> None:
    tally = full_matrix.tally()
    assert tally["disagreements"] == 0
    assert tally["validated"] == tally["evaluations"] > 0
    for v in full_matrix.verdicts:
        assert v["witness"]["ran"] is True and v["witness"]["agrees"] is True
        assert v["witness"]["outcome"] == v["outcome"]


def test_class_space_is_small_and_covers_every_design_and_kernel_class(
        rules: RuleSet, full_matrix: Matrix) -> None:
    tally = full_matrix.tally()
    assert tally["migration_cells"] < 20_000, "readable artifacts need a bounded class space"
    designs = {s.design for t in full_matrix.tables for s in t.stacks}
    assert designs == set(rules.resolver.designs)
    kernels = {s.kernel.label for t in full_matrix.tables for s in t.stacks}
    assert len(kernels) == len(full_matrix.space.kernels)
    mig = [t for t in full_matrix.tables if t.migration is not None]
    assert {t.vm.irqchip for t in mig} >= {None, "split"}
    assert any(t.vm.ioapic == "0x11" for t in mig)
    families = {rules.resolver.machines.parse(t.vm.machine.machine).family.id for t in mig}
    assert families == set(rules.resolver.machines.families)


def test_merged_qemu_releases_give_the_same_verdicts(rules: RuleSet, full_matrix: Matrix) -> None:
    """A merged QEMU range is honest: each release in it gives the representative's outcome."""
    from engine.classes import ClassSolver, StackClass

    solver = ClassSolver(rules, validate=False)
    checked = 0
    for t in full_matrix.tables[::7]:
        for s, vi in zip(t.stacks, t.policy, strict=True):
            for q in s.qemus:
                got = solver.policy(StackClass(s.kernel, q, s.design), t.vm)["outcome"]
                assert got == full_matrix.verdicts[vi]["outcome"], (t.vm.label, s.label, q)
                checked += 1
    assert checked > 100


def test_known_cells(full_matrix: Matrix) -> None:
    """Spot checks from DOMAIN.md, found by class properties rather than by label text."""
    found = Counter()
    for t in full_matrix.tables:
        if t.migration is None or t.vm.irqchip != "split" or t.vm.ioapic or t.vm.guest != "any":
            continue
        boots = {s.label: full_matrix.verdicts[vi]["outcome"]
                 for s, vi in zip(t.stacks, t.policy, strict=True)}
        for src, line in zip(t.stacks, t.migration, strict=True):
            if boots[src.label] == "start-fails":
                continue
            for dst, vi in zip(t.stacks, line, strict=True):
                v = full_matrix.verdicts[vi]
                src_flags = ("kernel.seoib_enable", True) in src.kernel.facts
                dst_flags = ("kernel.seoib_enable", True) in dst.kernel.facts
                if (src.design == dst.design == "rfc-v2" and src.qemus == dst.qemus
                        and src_flags and not dst_flags and dst.kernel.label != src.kernel.label
                        and ("kernel.split_irqchip", True) in dst.kernel.facts):
                    # RFC v1 test summary: patched -> patched fails when the destination
                    # kernel lacks the flags (the destination aborts).
                    assert v["outcome"] == "dest-abort", (src.label, dst.label)
                    found["abort"] += 1
                if src.design == "rfc-v2" and dst.design == "none" and src_flags \
                        and src.qemus == dst.qemus and dst.kernel == src.kernel:
                    assert v["outcome"] == "refused", (src.label, dst.label)
                    found["refused"] += 1
    assert found["abort"] and found["refused"]


def test_csv_rows_match_the_cells(small_matrix: Matrix) -> None:
    rows = list(csv.DictReader(io.StringIO(migration_csv(small_matrix).decode())))
    assert len(rows) == small_matrix.migration_cells()
    assert set(rows[0]) >= {"src", "dst", "vm", "outcome", "severity", "rules"}
    assert all(r["rules"] for r in rows)
    prow = list(csv.DictReader(io.StringIO(policy_csv(small_matrix).decode())))
    assert len(prow) == small_matrix.policy_cells()
    assert set(prow[0]) >= {"host", "vm", "policy", "outcome", "severity"}


def test_matrix_json_follows_its_schema(small_matrix: Matrix) -> None:
    doc = json.loads(matrix_json(small_matrix))
    schema = json.loads((schemas_dir() / "matrix-output.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(doc, schema)
    assert doc["tally"]["disagreements"] == 0
    assert len(doc["migration"]) == small_matrix.migration_cells()
    for cell in doc["migration"][:50]:
        verdict = doc["verdicts"][cell["verdict"]]
        assert verdict["outcome"] == cell["outcome"]
        assert all(0 <= r < len(doc["citations"]) for r in verdict["reasons"])
    assert "/" not in "".join(c["source"] for c in doc["citations"] if ".yaml" in c["source"]), \
        "rule file paths are relative: output must not depend on where the rules live"
