"""`seoib policy --batch` and `seoib migrate --batch` answer every line as the single query would.

The policy and migrate case files are replayed as JSON Lines (twice, the second
time with spec objects instead of strings), with bad lines between them: each
good line must equal the verdict `seoib policy`/`seoib migrate` gives for it,
each bad line gets an error naming its line, and the run goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seoib.cli import main
from seoib.errors import Location
from seoib.query.api import Engine
from seoib.query.verdicts import migrate_verdict, policy_verdict
from seoib.rules.ruleset import RuleSet
from seoib.rules.specs import parse_host_spec, parse_vm_spec, spec_items

BAD_LINES = [
    ("{not json", "invalid JSON"),
    ('{"host": "kernel=7.0.3,qemu=11.0.0", "vm": "machine=q35", "extra": 1}', "unknown key 'extra'"),
    ('{"vm": "machine=q35"}', "missing key"),
    ('["a list"]', "expected a JSON object"),
    ('{"host": "kernel=7.0.3,qemu=11.0.0", "vm": "machine=no-such-machine"}', "unknown machine type"),
    ("", "empty line"),
]


def _as_object(spec: str) -> dict[str, str]:
    return spec_items(spec, Location("test"))


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str,
         lines: list[str]) -> tuple[int, list[dict[str, Any]]]:
    batch = tmp_path / "queries.jsonl"
    batch.write_text("\n".join(lines) + "\n")
    code = main([command, "--batch", str(batch)])
    out = capsys.readouterr().out.splitlines()
    return code, [json.loads(line) for line in out]


def _expected_policy(rules: RuleSet, case: dict[str, Any]) -> dict[str, Any]:
    host = rules.resolver.host(parse_host_spec(case["host"], Location("host")))
    vm = rules.resolver.vm(parse_vm_spec(case["vm"], Location("vm")), host)
    return json.loads(json.dumps(policy_verdict(rules, host, vm)))


def _expected_migrate(rules: RuleSet, case: dict[str, Any]) -> dict[str, Any]:
    src = rules.resolver.host(parse_host_spec(case["src"], Location("src")))
    dst = rules.resolver.host(parse_host_spec(case["dst"], Location("dst")))
    vm = rules.resolver.vm(parse_vm_spec(case["vm"], Location("vm")), src)
    return json.loads(json.dumps(migrate_verdict(rules, src, dst, vm,
                                                 snapshot=case.get("snapshot", False))))


def _interleave(good: list[str]) -> tuple[list[str], dict[int, str]]:
    lines: list[str] = []
    bad: dict[int, str] = {}
    for i, line in enumerate(good):
        lines.append(line)
        if i % 4 == 1 and len(bad) < len(BAD_LINES):
            text, why = BAD_LINES[len(bad)]
            lines.append(text)
            bad[len(lines)] = why
    return lines, bad


def _same_verdict(got: dict[str, Any], want: dict[str, Any], n: int) -> None:
    """Equal, except that a shared witness's events may name the class's first machine type."""
    got, want = dict(got), dict(want)
    witness, wanted = got.pop("witness"), want.pop("witness")
    assert got == want, f"line {n}"
    for key in ("ran", "agrees", "outcome", "state", "src_state", "dst_state", "counters",
                "differences"):
        assert witness.get(key) == wanted.get(key), f"line {n}: witness {key}"


def _check(out: list[dict[str, Any]], lines: list[str], bad: dict[int, str],
           expected: list[dict[str, Any]]) -> None:
    assert len(out) == len(lines)
    good = iter(expected)
    for n, got in enumerate(out, 1):
        if n in bad:
            assert bad[n] in got["error"]["message"], n
            assert got["error"]["location"].endswith(f"queries.jsonl:{n}")
            assert got["error"]["line"] == n
        else:
            _same_verdict(got, next(good), n)


def test_policy_batch_matches_single_queries(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             rules: RuleSet, load_cases: Callable[[str], list[Any]]) -> None:
    cases = load_cases("policy")
    good = [json.dumps({"host": c["host"], "vm": c["vm"]}) for c in cases]
    good += [json.dumps({"host": _as_object(c["host"]), "vm": _as_object(c["vm"])}) for c in cases]
    lines, bad = _interleave(good)
    code, out = _run(tmp_path, capsys, "policy", lines)
    _check(out, lines, bad, [_expected_policy(rules, c) for c in cases + cases])
    assert code == 3  # a bad line outranks every severity


def test_migrate_batch_matches_single_queries(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              rules: RuleSet, load_cases: Callable[[str], list[Any]]) -> None:
    cases = load_cases("migrate")
    good = [json.dumps({"src": c["src"], "dst": c["dst"], "vm": c["vm"],
                        "snapshot": c.get("snapshot", False)}) for c in cases]
    code, out = _run(tmp_path, capsys, "migrate", good)
    for n, (got, case) in enumerate(zip(out, cases, strict=True), 1):
        _same_verdict(got, _expected_migrate(rules, case), n)
    worst = max({"ok": 0, "warn": 1, "block": 2}[v["severity"]] for v in out)
    assert code == worst


def test_a_batch_costs_classes_not_lines(rules: RuleSet) -> None:
    engine = Engine(rules)
    kernels = [f"6.18.{p}" for p in range(1, 40)]
    for kernel in kernels:
        engine.policy(f"kernel={kernel},qemu=11.0.0,seoib=rfc-v2", "machine=pc-q35-11.0,irqchip=split")
    # Stable points before and after the backport: two classes, not 39.
    assert engine.classes <= 3


def test_batch_refuses_single_query_options(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["policy", "--batch", "-", "--host", "kernel=7.0.3,qemu=11.0.0"])
    assert code == 3
    assert "--host" in capsys.readouterr().err


# --- the Engine's memos: keyed by what decides a verdict, bounded by bytes -------------------

def _spec_with(spec: str, name: str | None, order: list[int]) -> str:
    items = spec.split(",")
    items = [items[i] for i in order if i < len(items)] + items[len(order):]
    return ",".join(([f"name={name}"] if name else []) + items)


POLICY_CASES = [("kernel=6.18.16,qemu=11.0.0,seoib=rfc-v2",
                 "machine=pc-q35-11.0,irqchip=split,guest=windows-hyperv"),
                ("kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2", "machine=q35,irqchip=split"),
                ("x2apic-api=0x1f,qemu=10.2.0", "machine=pc-i440fx-2.7,ioapic=0x11,guest=linux"),
                ("kernel=6.12.40,qemu=9.2.0,seoib=none", "machine=pc,irqchip=on,x2apic=off")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(POLICY_CASES),
       host_name=st.none() | st.text("abcxyz-0123", min_size=1, max_size=12),
       vm_name=st.none() | st.text("abcxyz-0123", min_size=1, max_size=12),
       order=st.permutations(range(3)))
def test_names_and_key_order_share_memos_yet_answer_as_written(rules: RuleSet, case: tuple[str, str],
                                                                host_name: str | None, vm_name: str | None,
                                                                order: list[int]) -> None:
    """A spec's name and key order are not part of the memo keys, yet every verdict names its
    host and VM as the line wrote them: it equals the verdict of a fresh resolution."""
    host, vm = _spec_with(case[0], host_name, order), _spec_with(case[1], vm_name, order)
    engine = _SHARED.setdefault(id(rules), Engine(rules, memo_bytes=64 << 10))
    got = engine.policy(host, vm)
    _same_verdict(json.loads(json.dumps(got)), _expected_policy(rules, {"host": host, "vm": vm}), 0)


_SHARED: dict[int, Engine] = {}


def test_memos_hold_bytes_not_entries(rules: RuleSet) -> None:
    """Endless distinct spec texts (long names, other key orders) keep an Engine's memos
    within their byte budget, and the class verdicts are still shared."""
    budget = 256 << 10
    engine = Engine(rules, memo_bytes=budget)
    host, vm = POLICY_CASES[0]
    for i in range(3000):
        engine.policy(f"{host},name=h{i}-{'x' * 200}", f"{vm},name=v{i}")
    memos = [engine._hosts, engine._host_bases, engine._vm_specs, engine._vms, engine._keys,
             engine._lines, engine._parts]
    assert sum(m.charged for m in memos) <= budget
    assert sum(len(m) for m in memos) < 3000
    assert engine.classes == 1 and len(engine._host_bases) == 1


def test_an_overlong_spec_is_refused_before_it_is_kept(rules: RuleSet) -> None:
    from seoib.errors import SpecError
    from seoib.query.api import MAX_SPEC_TEXT

    engine = Engine(rules)
    with pytest.raises(SpecError, match="at most"):
        engine.policy("kernel=7.0.3,qemu=11.0.0,name=" + "n" * MAX_SPEC_TEXT, "machine=q35")
    assert len(engine._hosts) == 0


# --- compact lines -------------------------------------------------------------------------

def _compact_schema() -> Any:
    from jsonschema import Draft202012Validator

    from seoib.paths import schemas_dir

    schema = json.loads((schemas_dir() / "compact-output.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.mark.parametrize("command", ["policy", "migrate"])
def test_compact_lines_say_the_verdict_in_300_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    rules: RuleSet, command: str,
                                                    load_cases: Callable[[str], list[Any]]) -> None:
    """Every case file's query, as a compact line: at most 300 bytes, valid against its schema,
    the same outcome, severity and policy as the whole verdict, and the deciding rules."""
    from seoib.query.compact import MAX_BYTES, rule_ids

    keys = ("host", "vm") if command == "policy" else ("src", "dst", "vm", "snapshot")
    lines = [json.dumps({k: c[k] for k in keys if k in c}) for c in load_cases(command)]
    lines, bad = _interleave(lines)
    batch = tmp_path / "queries.jsonl"
    batch.write_text("\n".join(lines) + "\n")
    assert main([command, "--batch", str(batch)]) == main([command, "--batch", str(batch), "--compact"])
    out = capsys.readouterr().out.splitlines()
    full, compact = out[: len(lines)], out[len(lines):]
    validator, ids = _compact_schema(), rule_ids(rules)
    for n, (whole, line) in enumerate(zip(full, compact, strict=True), 1):
        assert len(line.encode()) <= MAX_BYTES, line
        short, verdict = json.loads(line), json.loads(whole)
        assert not list(validator.iter_errors(short)), (n, line)
        if n in bad:
            assert short["error"]["line"] == n
            continue
        assert (short["outcome"], short["severity"]) == (verdict["outcome"], verdict["severity"])
        policy = verdict["policy"] if command == "policy" else verdict["src_state"]["policy"]
        assert short["policy"] == policy
        deciding = list(dict.fromkeys(r["rule"] for r in verdict["reasons"] if r["rule"] in ids))
        assert short["rules"] == deciding[: len(short["rules"])]
        assert short.get("more", 0) == len(deciding) - len(short["rules"])


def test_compact_explain_adds_the_reasons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    batch = tmp_path / "q.jsonl"
    batch.write_text(json.dumps({"host": POLICY_CASES[0][0], "vm": POLICY_CASES[0][1]}) + "\n")
    assert main(["policy", "--batch", str(batch), "--compact", "--explain"]) == 2
    line = json.loads(capsys.readouterr().out)
    assert line["outcome"] == "storm" and line["reasons"][0]["rule"] == "effect.storm"
    assert not list(_compact_schema().iter_errors(line))
    assert main(["policy", "--batch", str(batch), "--explain"]) == 3  # explain is for compact lines


def test_a_long_error_is_shortened_to_fit() -> None:
    from seoib.query.compact import MAX_BYTES, compact_json

    err = {"error": {"message": "\u202e" * 5000, "location": "x" * 400, "line": 7}}
    line = compact_json(err, frozenset())
    assert len(line.encode()) <= MAX_BYTES and json.loads(line)["error"]["line"] == 7


# --- input that is not JSON Lines ------------------------------------------------------------

@pytest.mark.parametrize(("how", "words"), [
    ("--batch /dev/zero", "is a character device"),
    ("--batch /dev/urandom", "is a character device"),
    ("--batch - < /dev/zero", "is a character device"),
    ("--batch - < /dev/urandom", "is a character device"),
    ("--batch /", "is a directory"),
    ("--batch ''", "empty path"),
    ("--batch - <&-", "standard input is closed"),
    ("--batch <(head -c 40000000 /dev/zero)", "without a line end"),
    ("--batch <(head -c 20000000 /dev/urandom)", "lines in a row are not JSON"),
])
def test_input_that_is_not_json_lines_is_one_refusal(how: str, words: str) -> None:
    """Devices, directories, endless lines and random bytes end in exit 3 and one stderr line,
    quickly and in bounded memory (the shell's ulimit -v holds the process to 1 GiB)."""
    import subprocess
    import sys

    proc = subprocess.run(["bash", "-c", f"ulimit -v 1048576; {sys.executable} -m seoib policy {how}"],
                          capture_output=True, timeout=60, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 3, err
    assert err.count("\n") == 1 and err.startswith("seoib: ") and words in err, err
