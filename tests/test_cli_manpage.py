"""The man page is generated from the argparse tables: docs/seoib.1 is held current, and
every command, option and exit code the command line has is in it."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from seoib.cli import COMMANDS, full_parser
from seoib.commands import exits, manpage

PAGE = Path(__file__).parent.parent / "docs" / "seoib.1"


def test_the_committed_page_is_current() -> None:
    assert manpage.main(["--check", str(PAGE)]) == 0, (
        "regenerate it: python -m seoib.commands.manpage > docs/seoib.1")


def test_a_stale_page_is_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "seoib.1"
    stale.write_text(manpage.render().replace("\\-\\-quiet", "\\-\\-silent", 1))
    assert manpage.main(["--check", str(stale)]) == 2
    assert "not current from line" in capsys.readouterr().err


def test_the_page_does_not_depend_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    narrow = manpage.render()
    monkeypatch.setenv("COLUMNS", "300")
    assert manpage.render() == narrow


def test_every_command_option_and_exit_code_is_on_the_page() -> None:
    page = manpage.render().replace("\\-", "-")
    parser = full_parser()
    subs = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in COMMANDS:
        assert f".SS seoib {name}\n" in page
        for action in subs.choices[name]._actions:
            if action.help == argparse.SUPPRESS:  # kept for old scripts, not offered
                assert not any(f"{o}\n" in page or f"{o} " in page for o in action.option_strings)
                continue
            for option in action.option_strings:
                assert option in page, (name, option)
        for code in exits.codes(name):
            assert f".B {code}\n" in page


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_renders_it_without_warnings() -> None:
    done = subprocess.run(["man", "--warnings", "-l", str(PAGE)], capture_output=True, text=True,
                          env={**os.environ, "LC_ALL": "C", "MANWIDTH": "80", "MANPAGER": "cat"},
                          timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "seoib completion" in done.stdout and "EXIT STATUS" in done.stdout
