"""The ``seoib(1)`` man page, generated from the argparse tables and the exit-code table.

``python -m seoib.commands.manpage`` prints it; ``--check FILE`` exits 0 when FILE is
current and 2 (with the first differing line) when not, as ``seoib matrix --check`` does.
The page is made from what ``seoib COMMAND --help`` prints - every command, its usage,
options and choices (seoib.cli.full_parser), its exit codes (seoib.commands.exits) and
the input limits with the variables that raise them - so it cannot say anything the
command line does not. ``docs/seoib.1`` is the committed copy; tests/test_cli_manpage.py
holds it current and the wheel installs it as ``share/man/man1/seoib.1``. Nothing here
depends on the terminal or the date: the same code gives the same page.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

__all__ = ["main", "render"]

_ENVIRONMENT = [
    ("SEOIB_RULES", "colon-separated rule directories applied over the built-in rules, "
                    "before any --rules"),
    ("SEOIB_NO_CACHE", "set (to anything) to compile the rules on every run instead of "
                       "reading the compiled-rules cache"),
    ("XDG_CACHE_HOME", "where the compiled-rules cache lives (seoib-engine/ inside it; "
                       "default ~/.cache)"),
    ("SEOIB_DEBUG", "set to show the traceback of an internal error (exit 70)"),
]


def _roff(text: str) -> str:
    """Text safe in a roff line: backslashes and hyphens escaped, no request at its start."""
    out = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + out if out[:1] in (".", "'") else out


def _usage(parser: argparse.ArgumentParser) -> str:
    fmt = argparse.HelpFormatter(prog=parser.prog, width=1_000_000)
    fmt.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    return " ".join(fmt.format_help().split())


def _option(action: argparse.Action, parser: argparse.ArgumentParser) -> str:
    if action.option_strings:
        metavar = "" if action.nargs == 0 else " " + (
            action.metavar if isinstance(action.metavar, str) else action.dest.upper())
        if action.choices is not None and action.metavar is None and action.nargs != 0:
            metavar = " {" + ",".join(map(str, action.choices)) + "}"
        return ", ".join(f"{o}{metavar}" for o in action.option_strings)
    if action.choices is not None and action.metavar is None:
        return "{" + ",".join(map(str, action.choices)) + "}"
    return str(action.metavar or action.dest)


def _help(action: argparse.Action, parser: argparse.ArgumentParser) -> str:
    formatter = parser._get_formatter()
    return " ".join(formatter._expand_help(action).split()) if action.help else ""


def _sub_actions(parser: argparse.ArgumentParser) -> Iterator[argparse._SubParsersAction]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield action


def _command(name: str, parser: argparse.ArgumentParser) -> list[str]:
    from .exits import codes

    lines = [f".SS {_roff(parser.prog)}", _roff(parser.description or ""), ".PP",
             f".B {_roff(_usage(parser))}"]
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                lines += _command(sub_name, sub)
            continue
        lines += [".TP", f".B {_roff(_option(action, parser))}", _roff(_help(action, parser))]
    if parser.prog.count(" ") == 1:  # a top-level command: its exit codes
        lines += [".PP", "Exit status:"]
        for code, meaning in codes(name).items():
            lines += [".RS", ".TP 5", f".B {code}", _roff(meaning), ".RE"]
    return lines


def _limits() -> list[str]:
    from ..files import MAX_DEPTH, MAX_DIGITS, MAX_INPUT_BYTES
    from ..rules.specs import MAX_VALUE_CHARS
    from ..yamlio import MAX_ALIASES, MAX_EXPANSION, MAX_NODES

    lines = []
    for limit in (MAX_INPUT_BYTES, MAX_DEPTH, MAX_DIGITS, MAX_VALUE_CHARS, MAX_NODES,
                  MAX_ALIASES, MAX_EXPANSION):
        lines += [".TP", f".B {limit.env}", _roff(f"raises the {limit.what} limit "
                                                    f"(default {limit.default} {limit.unit})")]
    return lines


def render() -> str:
    """The whole page, in roff (man macros)."""
    from .. import __version__
    from ..cli import COMMANDS, full_parser
    from .exits import COMMON

    parser = full_parser()
    subs = next(_sub_actions(parser))
    lines = [
        f'.TH SEOIB 1 "" "seoib-engine {__version__}" "User Commands"',
        ".SH NAME", "seoib \\- " + _roff(parser.description or ""),
        ".SH SYNOPSIS", ".B seoib", ".I COMMAND", "[\\fIOPTIONS\\fR]", ".br",
        ".B seoib \\-\\-version",
        ".SH DESCRIPTION",
        _roff("seoib judges x2APIC Suppress-EOI-Broadcast (SEOIB) policy, live migration and "
              "rollout safety on KVM/QEMU hosts from declarative rules, and re-derives every "
              "verdict with a built-in APIC/IOAPIC/KVM/QEMU simulator; a verdict the "
              "simulator does not reproduce is exit 4, never printed as if fine."),
        ".SH COMMANDS",
    ]
    for name in COMMANDS:
        lines += _command(name, subs.choices[name])
    lines += [".SH EXIT STATUS",
              _roff("Every command gives 0 when all is ok; which of 1, 2 and 4 it gives, and "
                    "what they mean for it, is listed under the command. For all of them:")]
    for code, meaning in COMMON.items():
        lines += [".TP", f".B {code}", _roff(meaning)]
    lines += [".SH ENVIRONMENT"]
    for var, meaning in _ENVIRONMENT:
        lines += [".TP", f".B {var}", _roff(meaning)]
    lines += _limits()
    lines += [".SH FILES", ".TP", ".I ~/.cache/seoib\\-engine/",
              _roff("compiled rule sets (data only, at most eight)"),
              ".SH SEE ALSO", _roff("docs/contracts.md and docs/domain.md in the "
                                    "seoib-engine sources; seoib COMMAND --help")]
    return "\n".join(line for line in lines if line) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    page = render()
    if args[:1] == ["--check"] and len(args) == 2:
        try:
            with open(args[1], encoding="utf-8") as fh:
                current = fh.read()
        except OSError as exc:
            sys.stderr.write(f"{args[1]}: {exc.strerror}\n")
            return 3
        if current == page:
            return 0
        old, new = current.splitlines(), page.splitlines()
        pairs = enumerate(zip(old, new, strict=False))
        at = next((i for i, (a, b) in pairs if a != b), min(len(old), len(new)))
        sys.stderr.write(f"{args[1]}: not current from line {at + 1}; regenerate it with "
                         f"python -m seoib.commands.manpage > {args[1]}\n")
        return 2
    if args:
        sys.stderr.write("usage: python -m seoib.commands.manpage [--check FILE]\n")
        return 3
    sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
