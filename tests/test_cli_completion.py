"""Shell completion asks the installed seoib (argcomplete's protocol): what it offers is the
argparse tables themselves, so a new command, option or choice is offered at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from seoib.cli import COMMANDS, main


def _complete(line: str, tmp_path: Path) -> list[str]:
    out = tmp_path / "completions"
    env = {**os.environ, "_ARGCOMPLETE": "1", "_ARGCOMPLETE_IFS": "\v", "COMP_LINE": line,
           "COMP_POINT": str(len(line)), "_ARGCOMPLETE_STDOUT_FILENAME": str(out)}
    script = "import sys; sys.argv[0] = 'seoib'; from seoib.cli import main; sys.exit(main())"
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return sorted(out.read_text().split("\v"))


@pytest.mark.parametrize("line, offered", [
    ("seoib ", sorted(["-h", "--help", "--version", *COMMANDS])),
    ("seoib pol", ["policy"]),
    ("seoib policy --fo", ["--format"]),
    ("seoib policy --format ", ["json", "text"]),
    ("seoib probe --format ", ["json", "labels", "text"]),
    ("seoib check --fail-on ", ["block", "warn"]),
    ("seoib rules ", ["--help", "-h", "validate"]),
    ("seoib completion ", sorted(["-h", "--help", "-q", "--quiet", "bash", "fish", "zsh"])),
])
def test_completion_offers_what_the_parser_accepts(line: str, offered: list[str],
                                                   tmp_path: Path) -> None:
    assert [w.strip() for w in _complete(line, tmp_path)] == offered


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_hook_for_each_shell(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", shell]) == 0
    hook = capsys.readouterr().out
    assert "seoib" in hook and hook.endswith("\n")
