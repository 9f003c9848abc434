"""The example scenarios shipped in the package run as they are (`seoib simulate --example`)."""

from __future__ import annotations

import pytest

from seoib.cli import main
from seoib.examples import example_path, examples
from seoib.yamlio import load_yaml

NAMES = list(examples())


def test_examples_are_listed_with_their_titles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--example"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == NAMES and len(NAMES) >= 5
    assert all(title in line for line, title in zip(lines, examples().values(), strict=True))


@pytest.mark.parametrize("name", NAMES)
def test_example_runs_as_it_is(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = load_yaml(example_path(name))
    assert data.get("name") and data.get("description"), "an example says what it shows"
    checks = any(isinstance(s, dict) and "expect" in s for s in data["steps"])
    assert main(["simulate", "--example", name]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    if checks:
        assert first.startswith("PASS ") and " 0 expectations" not in first
    else:
        assert first.startswith("RAN ") and "nothing was checked" in first


def test_unknown_example_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--example", "no-such-example"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "storm" in err, "one line naming the known examples"


def test_help_documents_the_scenario_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--help"]) == 0
    out = capsys.readouterr().out
    for word in ("steps", "expect", "irqs: N", "loadvm", "enable_cap", "--example"):
        assert word in out


def test_help_names_every_scenario_key_the_parser_takes() -> None:
    # The prose lives apart from the parser's tables; a new key must reach both.
    from seoib.commands.scenario_help import SCENARIO_FORMAT
    from seoib.sim.scenario import EXPECT_KEYS, HOST_KEYS, STEP_NAMES, VM_KEYS

    missing = [k for k in (*HOST_KEYS, *VM_KEYS, *STEP_NAMES, *EXPECT_KEYS) if k not in SCENARIO_FORMAT]
    assert missing == []
