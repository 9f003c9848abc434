"""Mutation fuzzing of every reader through the CLI entry point, in process.

Each reader starts from valid seed inputs (host and VM specs, host JSON files,
plans, scenarios, domain XML, QEMU command lines, rule files) and gets mutated
copies: bytes flipped, spans deleted or repeated, the input cut short, and
tokens a hostile user would try spliced in (control characters, foreign digits,
5,000-digit numbers, deep brackets, aliases, NUL). Every input must end like a
tool, not like a crash:

- exit 0, 1 or 2 (a verdict) or 3 (a refusal) - never 4, 70 or an exception;
- a refusal is exactly one stderr line starting ``seoib:`` (rule files: one such
  line per problem), with no traceback;
- within HANG seconds (a hang detector; typical inputs take milliseconds).

The mutations are seeded (SEOIB_FUZZ_SEED, default 12) so a failure reproduces;
SEOIB_FUZZ_SCALE multiplies the number of inputs. ``pytest -s`` prints how many
inputs each reader tried and how they ended.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from seoib.cli import main
from seoib.paths import builtin_rules_dir

HANG = 20.0
SEED = int(os.environ.get("SEOIB_FUZZ_SEED", "12"))
SCALE = float(os.environ.get("SEOIB_FUZZ_SCALE", "1"))
FIXTURES = Path(__file__).parent.parent / "fixtures" / "inputs"

# What a hostile or careless user splices in.
TOKENS = [
    "\x00", "\x1b[31m", "\n", "\r", "\t", "\u202e", "\ufeff", "\u0667", "\uff11\uff11", "0x_f",
    "0x1f", "0x10",
    "9" * 5000, "1" + "0" * 30, "-1", "1e999", "NaN", "true", "null", "[" * 300, "{" * 300,
    "&a", "*a", "!!python/object:os.system", "%", "'", '"', ",", "=", ":", "@/dev/zero",
    "@/nonexistent", "..", "\\", "\udcff",
    # input that is not what it claims: numbers for versions, a key twice, a stray comma,
    # terminal control sequences (CSI as one C1 character too)
    '"kernel": 6.10, ', '"qemu": "11.0.0", "qemu": "10.2.0", ', ",,", "\x9b2J", "\x1b]0;t\x07",
]

HOST_SPECS = ["kernel=7.0.3,qemu=11.0.0,seoib=rfc-v2", "kernel=6.18.17,qemu=10.2.0",
              "x2apic-api=0xf,qemu=11.0,name=h1", "kernel=5.14.0-611.el9,x2apic-api=0x3,qemu=11.0"]
VM_SPECS = ["machine=pc-q35-11.0,irqchip=split,guest=windows-hyperv", "machine=q35",
            "machine=pc-i440fx-2.7,ioapic=0x11,x2apic=on,guest=linux"]
HOST_JSON = ['{"name": "h1", "kernel": "6.18.44-fc-v595", "x2apic-api": "0xf", "qemu": "11.0.0",'
             ' "machines": ["pc-q35-11.0"], "aliases": {"q35": "pc-q35-11.0"}, "notes": ["x"]}',
             '{"kernel": "7.0.3", "qemu": "11.0.0", "seoib": "rfc-v2"}']
PLAN = """hosts:
  - {group: rack-a, count: 4, kernel: 6.12.40, qemu: 10.2.0}
  - {name: lab, kernel: 6.18.17, qemu: 11.0.0, seoib: rfc-v2}
vms:
  - {group: web, count: 10, hosts: rack-a, machine: pc-q35-10.2, irqchip: split, guest: linux}
  - {name: db, host: lab, machine: pc-q35-11.0, irqchip: split, guest: windows-hyperv}
rollout:
  - {name: kernels, hosts: [rack-a], set: {kernel: 7.0.3}}
  - {name: qemu, hosts: [rack-a, lab], set: {qemu: 11.0.0, seoib: rfc-v2}}
"""
SCENARIO = """host: {seoib: none}
vm: {machine: pc-q35-10.2, irqchip: split, guest: windows-hyperv}
steps:
  - boot
  - expect: {policy: quirked, lvr_bit24: 1}
  - irqs: 8
  - migrate: {seoib: rfc-v2}
  - savevm
  - loadvm
  - expect: {outcome: storm}
"""


def _plan_seeds() -> list[str]:
    """The hand-written plan and the plans of the data-driven plan cases (block style)."""
    import yaml

    cases = Path(__file__).parent.parent / "cases" / "plans"
    docs = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(cases.glob("*.yaml"))]
    return [PLAN] + [yaml.safe_dump(d["plan"], sort_keys=False) for d in docs if "plan" in d]


def _texts(folder: str, suffix: str) -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted((FIXTURES / folder).glob(f"*{suffix}"))]


def mutate(rng: random.Random, text: str) -> str:
    """One to three random edits of ``text``."""
    for _ in range(rng.randint(1, 3)):
        n = len(text)
        op = rng.randrange(6)
        i = rng.randrange(n + 1)
        j = min(n, i + rng.randint(1, 24))
        if op == 0:  # splice a hostile token
            text = text[:i] + rng.choice(TOKENS) + text[i:]
        elif op == 1 and n:  # delete a span
            text = text[:i] + text[j:]
        elif op == 2 and n:  # repeat a span
            text = text[:j] + text[i:j] * rng.randint(2, 40) + text[j:]
        elif op == 3 and n:  # change one character
            k = min(i, n - 1)
            text = text[:k] + chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 0x3000)])) \
                + text[k + 1:]
        elif op == 4:  # cut short
            text = text[:i]
        else:  # replace a digit run by a far larger number
            k = next((m for m in range(i, n) if text[m].isdigit()), None)
            if k is not None:
                text = text[:k] + rng.choice(["9" * rng.randint(10, 6000), "0" * 50, "٣"]) \
                    + text[k:].lstrip("0123456789")
    return text


Outcome = tuple[int, str, str]


def run_cli(argv: list[str]) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def check(reader: str, argv: list[str], tally: Counter[str], *, multi_line: bool = False,
          text: str = "") -> None:
    start = time.monotonic()
    code, _out, err = run_cli(argv)
    took = time.monotonic() - start
    shown = repr(argv)[:300] + (f" with input {text[:600]!r}" if text else "")
    assert took < HANG, f"{reader}: {took:.1f} s for {shown}"
    assert code in (0, 1, 2, 3), f"{reader}: exit {code} for {shown}: {err[:500]}"
    assert "Traceback" not in err, f"{reader}: {err[:500]}"
    if code == 3:
        lines = err.splitlines()
        if "--format" in argv and argv[argv.index("--format") + 1] == "json":  # JSON refusals
            assert all(json.loads(line)["error"]["exit_code"] == 3 for line in lines), err[:500]
        else:
            assert err.endswith("\n") and all(line.startswith("seoib: ") for line in lines), err[:500]
        if not multi_line:
            assert len(lines) == 1, f"{reader}: {len(lines)} stderr lines for {shown}: {err[:500]}"
        tally["refused (exit 3)"] += 1
    else:
        tally[f"verdict (exit {code})"] += 1
    tally["tried"] += 1


def _count(base: int) -> int:
    return max(1, int(base * SCALE))


def _fuzz(reader: str, seeds: list[str], build: Callable[[str], list[str]], n: int,
          *, multi_line: bool = False) -> None:
    rng = random.Random(f"{SEED}:{reader}")
    tally: Counter[str] = Counter()
    for seed in seeds:  # the seeds themselves must pass
        check(reader, build(seed), tally, multi_line=multi_line, text=seed)
    for _ in range(_count(n)):
        text = mutate(rng, rng.choice(seeds))
        check(reader, build(text), tally, multi_line=multi_line, text=text)
    print(f"\nfuzz {reader}: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
    assert tally["tried"] >= _count(n)


def test_host_specs() -> None:
    _fuzz("host spec", HOST_SPECS,
          lambda s: ["policy", "--host", s, "--vm", "machine=q35", "--format", "json"], 150)


def test_vm_specs() -> None:
    _fuzz("VM spec", VM_SPECS,
          lambda s: ["policy", "--host", "kernel=7.0.3,qemu=11.0.0", "--vm", s], 150)


def test_host_json_files(tmp_path: Path) -> None:
    path = tmp_path / "host.json"

    def build(text: str) -> list[str]:
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        return ["migrate", "--src", "kernel=6.18.17,qemu=11.0.0", "--dst", f"@{path}",
                "--vm", "machine=pc-q35-10.2,irqchip=split"]

    _fuzz("host JSON file", HOST_JSON, build, 120)


def test_plans(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"

    def build(text: str) -> list[str]:
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        return ["check", str(path), "--format", "junit"]

    _fuzz("plan", _plan_seeds(), build, 60)


def test_scenarios(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"

    def build(text: str) -> list[str]:
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        return ["simulate", str(path), "--format", "json"]

    _fuzz("scenario", [SCENARIO], build, 100)


def test_domain_xml(tmp_path: Path) -> None:
    path = tmp_path / "domain.xml"

    def build(text: str) -> list[str]:
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        return ["policy", "--host", "kernel=7.0.3,qemu=11.0.0", "--domain-xml", str(path)]

    _fuzz("domain XML", _texts("xml", ".xml")[:4], build, 100)


def test_qemu_command_lines(tmp_path: Path) -> None:
    path = tmp_path / "qemu.cmdline"

    def build(text: str) -> list[str]:
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        return ["policy", "--host", "kernel=7.0.3,qemu=11.0.0", "--qemu-cmdline", f"@{path}"]

    _fuzz("QEMU command line", _texts("cmdline", ".cmdline")[:5], build, 100)


def test_rule_files(tmp_path: Path) -> None:
    """A mutated stage or data file: refused with file:line lines, or a valid rule set."""
    root = tmp_path / "rules"
    shutil.copytree(builtin_rules_dir(), root)
    names = ["policies.yaml", "kernels.yaml", "queries.yaml", "machines.yaml"]
    originals = {n: (root / n).read_text(encoding="utf-8") for n in names}
    rng = random.Random(f"{SEED}:rule pick")

    def build(text: str) -> list[str]:
        for n, original in originals.items():
            (root / n).write_text(original, encoding="utf-8")
        # The mutant replaces the file it came from (known by its opening comment).
        name = next((n for n, o in originals.items() if text[:40] == o[:40]), rng.choice(names))
        (root / name).write_text(text, encoding="utf-8", errors="surrogateescape")
        return ["rules", "validate", str(root)]

    # A rule set compiles in about a second: fewer inputs, each one a full compile.
    _fuzz("rule file", list(originals.values()), build, 12, multi_line=True)


PATTERN_TOKENS = ["+", "*", "?", "{2,}", "|", "(", ")", "(?:", "(a+)+", "(.*)", "[0-9]", "\\d",
                  "\\1", "(?=", "(?i)", ".", "^", "$", "\\", "[^+]", "(?P<upstream>"]


def test_downstream_patterns() -> None:
    """Mutated downstream patterns: refused (ValueError), or they match long hostile names fast."""
    from seoib.rules.patterns import compile_name_pattern

    seed = r"^(?P<upstream>pc-(?:i440fx|q35)-[0-9]+\.[0-9]+(?:\.[0-9]+)?)\+pve[0-9]+$"
    rng = random.Random(f"{SEED}:pattern")
    tally: Counter[str] = Counter()
    for _ in range(_count(300)):
        text = seed
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(text) + 1)
            if rng.random() < 0.7:
                text = text[:i] + rng.choice(PATTERN_TOKENS) + text[i:]
            else:
                text = text[:i] + text[i + rng.randint(1, 6):]
        start = time.monotonic()
        try:
            pattern = compile_name_pattern(text)
        except ValueError:
            tally["refused"] += 1
            continue
        letters = sorted({c for c in text if c.isalnum() or c in "-.+"}) or ["a"]
        for name in ("".join(rng.choice(letters) for _ in range(3000)),
                     "pc-q35-" + "1" * 3000 + "x", "a" * 3000 + "!", "pc-q35-10.1+pve" + "0" * 3000):
            pattern.match(name)
        took = time.monotonic() - start
        assert took < HANG, f"{took:.1f} s matching {text!r}"
        tally["accepted, matched fast"] += 1
    print("\nfuzz downstream pattern: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
    assert sum(tally.values()) == _count(300) and tally["refused"] and tally["accepted, matched fast"]
