"""`seoib matrix`: --check, determinism, atomic writes, bad output directories, exit codes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from matrix_support import copy_rules

from seoib.cli import main
from seoib.matrix import atomic
from seoib.matrix.progress import Progress
from seoib.rules.ruleset import load_rules

REPO = Path(__file__).resolve().parents[2]


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {p.name: p.read_bytes() if p.is_file() else None for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("matrix") / "out"
    assert main(["matrix", "--out", str(out)]) == 0
    return out


def test_committed_matrix_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--check", "--out", str(REPO / "matrix")]) == 0, capsys.readouterr().out


def test_two_runs_are_byte_identical(built: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert main(["matrix", "--out", str(again)]) == 0
    assert _snapshot(again) == _snapshot(built)
    assert set(_snapshot(built)) == {"migration.csv", "policy.csv", "matrix.json", "README.md",
                                     "designs.md", "index.html",
                                     *(f"tables-{d}.md" for d in load_rules().resolver.designs)}


def test_output_does_not_depend_on_where_the_rules_are(built: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_rules(tmp_path)
    assert main(["matrix", "--check", "--rules", str(root), "--out", str(built)]) == 0, \
        capsys.readouterr().out


def test_check_detects_a_changed_rule(built: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_rules(tmp_path)
    designs = root / "designs.yaml"
    text = designs.read_text()
    # Drop the last design: a change the simulator follows (a changed design fact would
    # be a disagreement, exit 4, since the simulator's designs are its own code).
    last = text.rindex("\n  - id: ")
    assert last > 0, "the fixture needs two designs"
    designs.write_text(text[:last + 1])
    capsys.readouterr()
    before = _snapshot(built)
    assert main(["matrix", "--check", "--rules", str(root), "--out", str(built)]) == 2
    out = capsys.readouterr().out
    assert "not current" in out
    assert "matrix.json:" in out and "migration.csv:" in out and "line(s) differ" in out
    assert _snapshot(built) == before, "--check never writes"


def test_check_reports_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--check", "--format", "csv", "--out", str(tmp_path / "none")]) == 2
    assert "migration.csv: missing" in capsys.readouterr().out


def test_format_subset_writes_only_those_files_and_no_progress_off_a_terminal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--format", "csv,json", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["matrix.json", "migration.csv",
                                                          "policy.csv"]
    assert capsys.readouterr().err == ""


def test_unknown_format_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--format", "csv,pdf", "--out", str(tmp_path)]) == 3
    assert "pdf" in capsys.readouterr().err


def _old_matrix(tmp_path: Path) -> Path:
    out = tmp_path / "old"
    out.mkdir()
    for name in ("migration.csv", "README.md"):
        (out / name).write_text(f"old {name}\n")
    (out / "matrix.json").write_text('{\n "format": "seoib-matrix/1"\n}\n')  # marks it ours
    return out


def test_a_file_in_the_way_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "matrix"
    target.write_text("not a directory\n")
    assert main(["matrix", "--out", str(target)]) == 3
    assert "not a directory" in capsys.readouterr().err
    assert target.read_text() == "not a directory\n"


def test_a_directory_where_a_file_goes_exits_3_and_keeps_the_old_matrix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _old_matrix(tmp_path)
    (out / "index.html").mkdir()
    before = _snapshot(out)
    assert main(["matrix", "--out", str(out)]) == 3
    assert "in the way" in capsys.readouterr().err
    assert _snapshot(out) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through directory permissions")
def test_an_unwritable_directory_exits_3(tmp_path: Path) -> None:
    out = _old_matrix(tmp_path)
    before = _snapshot(out)
    out.chmod(0o500)
    try:
        assert main(["matrix", "--out", str(out)]) == 3
    finally:
        out.chmod(0o700)
    assert _snapshot(out) == before


def test_a_path_under_a_file_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    assert main(["matrix", "--out", str(tmp_path / "file" / "matrix")]) == 3
    assert "Traceback" not in capsys.readouterr().err


def test_an_interrupted_write_leaves_the_old_files_and_no_temporaries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _old_matrix(tmp_path)
    before = _snapshot(out)
    calls = {"n": 0}
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_atomically(out, {"migration.csv": b"new\n", "README.md": b"new\n",
                                      "policy.csv": b"new\n"})
    assert _snapshot(out) == before


def test_a_failed_write_is_bad_input_and_leaves_the_old_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _old_matrix(tmp_path)
    before = _snapshot(out)

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(atomic.BadInput, match="No space left"):
        atomic.write_atomically(out, {"migration.csv": b"new\n"})
    assert _snapshot(out) == before


def test_written_files_replace_the_old_ones(tmp_path: Path) -> None:
    out = _old_matrix(tmp_path)
    atomic.write_atomically(out, {"migration.csv": b"new\n"})
    assert (out / "migration.csv").read_bytes() == b"new\n"
    assert (out / "README.md").read_text() == "old README.md\n"
    assert oct((out / "migration.csv").stat().st_mode & 0o777) != oct(0o600)


def test_a_disagreement_exits_4_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import seoib.query.verdicts as verdicts

    real = verdicts.boot_witness

    def lying(*args, **kwargs):  # type: ignore[no-untyped-def]
        w = real(*args, **kwargs)
        return {**w, "agrees": False, "differences": ["outcome: injected for the test"]}

    monkeypatch.setattr(verdicts, "boot_witness", lying)
    monkeypatch.setenv("SEOIB_JOBS", "1")
    out = _old_matrix(tmp_path)
    before = _snapshot(out)
    assert main(["matrix", "--format", "csv", "--out", str(out)]) == 4
    err = capsys.readouterr().err
    assert "disagree" in err and "injected for the test" in err
    assert _snapshot(out) == before


def test_progress_bar_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet, tty = io.StringIO(), Tty()
    for stream in (quiet, tty):
        p = Progress("seoib matrix", stream)
        p(5, 10)
        p(10, 10)
        p.close()
    assert quiet.getvalue() == ""
    assert "10/10" in tty.getvalue() and tty.getvalue().endswith("\n")
