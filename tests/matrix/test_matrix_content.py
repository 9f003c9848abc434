"""What the matrix says: every cell simulated, the class space, the JSON contract."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import jsonschema
from matrix_support import FULL, SMALL  # noqa: F401 (fixtures)

from seoib.matrix.build import Matrix
from seoib.matrix.csv_out import migration_csv, policy_csv
from seoib.matrix.json_out import matrix_json
from seoib.paths import schemas_dir
from seoib.rules.ruleset import RuleSet


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
    # machine-gated gates at each build's own first machine type, so its QEMU releases no
    # longer merge and pc-*-10.0 is a class of its own: about 22,000 cells.
    assert tally["migration_cells"] < 25_000, "readable artifacts need a bounded class space"
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
    from seoib.query.classes import ClassSolver, StackClass

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
    """Spot checks from docs/domain.md, found by class properties rather than by label text."""
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


def test_snapshot_cells_cover_the_migration_space_and_agree_with_the_simulator(
        full_matrix: Matrix) -> None:
    tally = full_matrix.tally()
    assert tally["snapshot_cells"] == tally["migration_cells"] > 0
    snapshot = [vi for t in full_matrix.tables if t.snapshot is not None
                for line in t.snapshot for vi in line]
    assert len(snapshot) == tally["snapshot_cells"]
    for vi in set(snapshot):
        w = full_matrix.verdicts[vi]["witness"]
        assert w["ran"] is True and w["agrees"] is True
        assert w["outcome"] == full_matrix.verdicts[vi]["outcome"]
    outcomes = {full_matrix.verdicts[vi]["outcome"] for vi in snapshot}
    # docs/domain.md, "Snapshots": a loadvm into a running VM can flip LVR bit 24 under the guest, which a
    # live migration (the destination boots from the stream) never does on the same stacks.
    assert "cpu-model-change" in outcomes


def test_snapshot_cells_are_what_migrate_snapshot_answers(rules: RuleSet, full_matrix: Matrix) -> None:
    from seoib.query.classes import ClassSolver

    solver = ClassSolver(rules, validate=False)
    checked = differ = 0
    for t in full_matrix.tables[::5]:
        if t.snapshot is None:
            continue
        for i, src in enumerate(t.stacks[::3]):
            for j, dst in enumerate(t.stacks):
                got = solver.migrate(src.rep, dst.rep, t.vm, snapshot=True)["outcome"]
                want = full_matrix.verdicts[t.snapshot[i * 3][j]]["outcome"]
                assert got == want, (t.vm.label, src.label, dst.label)
                live = full_matrix.verdicts[t.migration[i * 3][j]]["outcome"]  # type: ignore[index]
                differ += live != want
                checked += 1
    assert checked > 100 and differ > 0, "snapshot cells are not a copy of the live ones"


def test_snapshot_rows_in_csv_and_json(small_matrix: Matrix) -> None:
    rows = list(csv.DictReader(io.StringIO(migration_csv(small_matrix).decode())))
    assert all(r["snapshot_outcome"] and r["snapshot_severity"] for r in rows)
    doc = json.loads(matrix_json(small_matrix))
    assert len(doc["snapshot"]) == doc["tally"]["snapshot_cells"] == len(rows)
    pairs = {(c["src"], c["dst"], c["vm"]) for c in doc["snapshot"]}
    assert pairs == {(c["src"], c["dst"], c["vm"]) for c in doc["migration"]}


def test_unregistered_machine_types_are_marked(rules: RuleSet, full_matrix: Matrix) -> None:
    """A policy cell on a QEMU without the machine type fails to start; it is marked n/a."""
    marked = 0
    for t in full_matrix.tables:
        for s, ok, vi in zip(t.stacks, t.registered, t.policy, strict=True):
            if not ok:
                assert full_matrix.verdicts[vi]["outcome"] == "start-fails", (t.vm.label, s.label)
                marked += 1
    assert marked > 0
    doc = json.loads(matrix_json(full_matrix))
    assert sum(len(v["unregistered"]) for v in doc["vms"]) == marked


def test_readme_is_a_short_summary_and_tables_files_hold_every_cell(full_matrix: Matrix) -> None:
    from seoib.matrix.markdown import design_tables
    from seoib.matrix.summary import readme

    text = readme(full_matrix).decode()
    assert len(text.splitlines()) < 150
    for d in full_matrix.space.designs:
        assert f"### {d}" in text and f"tables-{d}.md" in text
    assert "stack pairs:" in text and " break with **" in text
    tables = design_tables(full_matrix)
    assert set(tables) == {f"tables-{d}.md" for d in full_matrix.space.designs}
    # Rows of every migration and snapshot table, split over the designs' files.
    rows = sum(len(t.stacks) for t in full_matrix.tables if t.migration is not None) * 2
    found = sum(1 for body in tables.values() for line in body.decode().splitlines()
                if line.startswith("| S") and line.count("|") > 6)  # not the legend
    assert found == rows


def test_pools_are_strongly_connected_and_one_way_between(full_matrix: Matrix) -> None:
    import networkx as nx

    from seoib.matrix.pools import blocked_moves, matrix_pools

    blocked = blocked_moves(full_matrix)
    pools = matrix_pools(full_matrix, blocked)
    nodes = [n for ms in pools.members for n in ms]
    assert len(nodes) == len(set(nodes)) == (len(full_matrix.space.kernels)
                                              * len(full_matrix.space.qemus)
                                              * len(full_matrix.space.designs))
    safe = nx.DiGraph((a, b) for a in nodes for b in nodes if a != b and (a, b) not in blocked)
    of = pools.pool_of()
    for a, b in pools.oneway:
        assert not nx.has_path(safe, pools.members[b][0], pools.members[a][0])
    for ms in pools.members:
        assert all(nx.has_path(safe, ms[0], x) and nx.has_path(safe, x, ms[0]) for x in ms)
    assert {(of[a], of[b]) for a, b in safe.edges if of[a] != of[b]} == set(pools.oneway)
