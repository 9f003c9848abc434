"""`seoib matrix --out`: never a user's directory, and the files change as one set."""

from __future__ import annotations

from pathlib import Path

import pytest

from seoib.cli import main
from seoib.matrix import atomic

SET_A = {"migration.csv": b"a\n", "policy.csv": b"a\n", "matrix.json": b'{\n "format": "seoib-matrix/1"}\n',
         "README.md": b"a\n", "designs.md": b"a\n", "index.html": b"a\n"}
SET_B = {name: data.replace(b"a\n", b"b\n") for name, data in SET_A.items()}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_an_empty_out_is_refused_and_the_current_directory_untouched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "README.md").write_text("my project\n")
    monkeypatch.chdir(tmp_path)
    assert main(["matrix", "--out", ""]) == 3
    assert "--out: empty path" in capsys.readouterr().err
    assert _snapshot(tmp_path) == {"README.md": b"my project\n"}


def test_a_directory_of_someone_else_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "README.md").write_text("my project\n")
    (tmp_path / "index.html").write_text("<p>my page</p>\n")
    before = _snapshot(tmp_path)
    assert main(["matrix", "--out", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "did not write" in err and err.count("\n") == 1
    assert _snapshot(tmp_path) == before


def test_a_foreign_file_beside_our_own_is_refused(tmp_path: Path) -> None:
    atomic.write_atomically(tmp_path / "m", SET_A)
    (tmp_path / "m" / "notes.txt").write_text("mine\n")
    with pytest.raises(atomic.BadInput, match=r"did not write \(notes.txt\)"):
        atomic.write_atomically(tmp_path / "m", SET_B)
    assert (tmp_path / "m" / "migration.csv").read_bytes() == b"a\n"


def test_the_set_is_replaced_whole_and_no_sibling_is_touched(tmp_path: Path) -> None:
    out = tmp_path / "m"
    atomic.write_atomically(out, SET_A)
    (tmp_path / ".m.interrupted.tmp").mkdir()  # another run's (or a killed run's) temporary
    (tmp_path / ".m.interrupted.tmp" / "migration.csv").write_bytes(b"half\n")
    (tmp_path / ".m.notes.tmp").mkdir()  # a user's notes that merely look like one
    (tmp_path / ".m.notes.tmp" / "todo").write_bytes(b"mine\n")
    (tmp_path / ".draft.tmp").write_bytes(b"mine\n")
    siblings = {p.name for p in tmp_path.iterdir()}
    atomic.write_atomically(out, SET_B)
    assert _snapshot(out) == SET_B
    assert {p.name for p in tmp_path.iterdir()} == siblings
    assert (tmp_path / ".m.notes.tmp" / "todo").read_bytes() == b"mine\n"
    assert (tmp_path / ".m.interrupted.tmp" / "migration.csv").read_bytes() == b"half\n"


def test_a_dot_tmp_file_inside_the_set_is_foreign_and_stays(tmp_path: Path) -> None:
    out = tmp_path / "m"
    atomic.write_atomically(out, SET_A)
    (out / ".notes.tmp").write_bytes(b"mine\n")  # swapping the set out would delete it
    with pytest.raises(atomic.BadInput, match=r"did not write \(.notes.tmp\)"):
        atomic.write_atomically(out, SET_B)
    assert _snapshot(out) == {**SET_A, ".notes.tmp": b"mine\n"}


def test_the_set_is_made_under_this_runs_own_name(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from seoib.files import run_id

    seen: list[str] = []
    real_fill = atomic._fill

    def fill(new: Path, out: Path, files: dict[str, bytes]) -> None:
        seen.append(new.name)
        real_fill(new, out, files)

    monkeypatch.setattr(atomic, "_fill", fill)
    atomic.write_atomically(tmp_path / "m", SET_A)
    assert seen == [f".m.{run_id()}.tmp"]


def test_an_interrupt_at_the_swap_keeps_the_complete_old_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "m"
    atomic.write_atomically(out, SET_A)

    def interrupted(a: Path, b: Path) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic, "_exchange", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_atomically(out, SET_B)
    assert _snapshot(out) == SET_A
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_without_renameat2_two_renames_swap_the_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "m"
    atomic.write_atomically(out, SET_A)
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    atomic.write_atomically(out, SET_B)
    assert _snapshot(out) == SET_B
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_a_subset_keeps_the_other_formats_and_marks_a_set_without_matrix_json(
        tmp_path: Path) -> None:
    out = tmp_path / "m"
    atomic.write_atomically(out, {"migration.csv": b"csv\n", "policy.csv": b"csv\n"})
    assert (out / atomic.MARKER).is_file()  # recognised as ours next time
    atomic.write_atomically(out, {"README.md": b"md\n"})
    assert {p.name for p in out.iterdir()} == {"migration.csv", "policy.csv", "README.md",
                                               atomic.MARKER}


def test_design_tables_are_our_own_and_a_removed_design_goes_with_its_set(tmp_path: Path) -> None:
    out = tmp_path / "m"
    atomic.write_atomically(out, {**SET_A, "tables-rfc-v2.md": b"a\n", "tables-gone.md": b"a\n"})
    atomic.write_atomically(out, {**SET_B, "tables-rfc-v2.md": b"b\n"})  # a second run: not foreign
    assert _snapshot(out) == {**SET_B, "tables-rfc-v2.md": b"b\n"}
    atomic.write_atomically(out, {"policy.csv": b"c\n"})  # csv only: the md set stays whole
    assert _snapshot(out)["tables-rfc-v2.md"] == b"b\n"
