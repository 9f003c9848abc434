"""The `seoib` command line. Command modules are imported only when chosen.

Exit codes (seoib.commands.exits holds the table per command): 0 ok, 1 warnings,
2 something blocks, 3 bad input (one line on stderr with its location), 4 the
solver and the simulator disagree, 70 internal error (an exception the code did
not expect: a bug to report), 74 the output could not be written, 130
interrupted (SIGINT). Nothing the user typed reaches stderr raw: control
characters are escaped, so one refusal is one line; with ``--format json`` the
refusal is one JSON object, ``{"error": {"message", "location", "exit_code"}}``,
the decision service's shape. Standard output goes through
seoib.commands.output (escaped, encodable, a failed write is exit 74).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__
from .commands.exits import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, epilog
from .commands.output import (
    add_quiet,
    closed_stdin,
    guard_stdout,
    one_line,
    quiet_stdout,
    silence_stdout,
)
from .errors import BadInput, Location, OutputError, RuleError, SeoibError

__all__ = ["EXIT_INTERNAL", "EXIT_INTERRUPTED", "build_parser", "full_parser", "main", "one_line"]
_ONE_SHOT = ("policy", "migrate")  # commands that answer and exit: no cycle collection

# name -> (module, help)
COMMANDS: dict[str, tuple[str, str]] = {
    "policy": ("policy", "which SEOIB policy a VM gets on a host, and what the guest sees"),
    "migrate": ("migrate", "is a live migration (or snapshot restore) between two stacks safe"),
    "simulate": ("simulate", "run a simulator scenario file"),
    "matrix": ("matrix", "generate the migration and policy matrices"),
    "designs": ("designs", "compare the QEMU SEOIB designs on a fleet"),
    "check": ("check", "validate a fleet rollout plan"),
    "plan": ("plan", "compute a safe rollout plan"),
    "graph": ("graph", "export the migration graph over stack classes"),
    "probe": ("probe", "probe this host: kernel, KVM x2APIC API, QEMU"),
    "lab": ("lab", "observe QEMU binaries on this host's KVM and hold the engine to them"),
    "rules": ("rules", "rule set tools (validate)"),
    "serve": ("serve", "the decision service: policy, migrate and check over HTTP/JSON"),
    "completion": ("completion", "print a shell completion script (bash, zsh, fish)"),
}
# Commands whose --quiet lives on a sub-subcommand (seoib rules validate -q).
_QUIET_BELOW = ("rules",)


def _terminal_columns() -> int:
    """shutil.get_terminal_size().columns without importing shutil (and its compressors)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Parser(argparse.ArgumentParser):
    # The command whose exit-code table ends the epilog: wrapped (textwrap) only when help
    # is printed, not on every start.
    exit_table: str | None = None

    @property  # type: ignore[override]
    def epilog(self) -> str | None:
        text: str | None = self.__dict__.get("_epilog")
        if self.exit_table is None:
            return text
        table = epilog(self.exit_table, _terminal_columns() - 2)
        return f"{text}\n\n{table}" if text else table

    @epilog.setter
    def epilog(self, text: str | None) -> None:
        self.__dict__["_epilog"] = text

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse builds a formatter per add_argument; its default width imports shutil.
        return self.formatter_class(prog=self.prog, width=_terminal_columns() - 2)  # type: ignore[call-arg]

    def error(self, message: str) -> None:  # type: ignore[override]
        # Usage errors are bad input: exit 3 like every other kind. The location
        # names the command ("seoib policy"); main adds the single "seoib:" prefix.
        where = self.prog.removeprefix("seoib").strip() or "command line"
        raise BadInput(f"{message} (see {self.prog} --help)", Location(where))


def _report(err: SeoibError) -> str:
    if isinstance(err, RuleError):  # one line per problem, each with its file:line
        problems = [(err.location, err.message), *err.more]
        return "".join(f"seoib: {one_line(f'{loc}: {msg}' if loc else msg)}\n"
                       for loc, msg in problems)
    return f"seoib: {one_line(str(err))}\n"


def _report_json(message: str, location: Location | str | None, code: int,
                 more: list[tuple[Location | None, str]] | None = None) -> str:
    """One refusal as the decision service words it, plus the exit code."""
    import json

    error: dict[str, Any] = {"message": message, "location": str(location or "command line"),
                             "exit_code": code}
    if more:
        error["problems"] = [f"{loc}: {msg}" if loc else msg for loc, msg in more]
    return json.dumps({"error": error}) + "\n"


def _json_asked(argv: list[str]) -> tuple[bool, bool]:
    """(``--format json`` given, the output is JSON: that or ``--batch``), read before parsing
    (abbreviations as argparse accepts them): a refusal of the command line itself is JSON
    too when JSON was asked for, and JSON output needs no scan for control characters."""
    fmt = batch = False
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if len(name) >= 4 and "--format".startswith(name):
            fmt = (value if eq else (argv[i + 1] if i + 1 < len(argv) else "")) == "json"
        elif len(name) >= 4 and "--batch".startswith(name):
            batch = True
    return fmt, fmt or batch


def _add_common(p: argparse.ArgumentParser, name: str) -> None:
    """What every command takes and says: --quiet and its exit-code table."""
    if name not in _QUIET_BELOW:
        add_quiet(p)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    if isinstance(p, _Parser):
        p.exit_table = name
    else:
        table = epilog(name, _terminal_columns() - 2)
        p.epilog = f"{p.epilog}\n\n{table}" if p.epilog else table


def build_parser(selected: str | None, only: bool = False) -> argparse.ArgumentParser:
    """The parser; with ``only``, the chosen command's subparser alone (each costs ~0.5 ms)."""
    parser = _Parser(prog="seoib", description="x2APIC Suppress-EOI-Broadcast policy, migration "
                     "and rollout safety for KVM/QEMU fleets.")
    parser.add_argument("--version", action="version", version=f"seoib {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_text) in COMMANDS.items():
        if only and name != selected:
            continue
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected or selected is _ALL:
            importlib.import_module(f"seoib.commands.{module}").add_arguments(p)
            _add_common(p, name)
    return parser


_ALL: Any = object()


def full_parser() -> argparse.ArgumentParser:
    """Every command with all its options: what completion and the man page are made from."""
    return build_parser(_ALL)


def _required_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    found = [a for a in parser._actions if a.required]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _required_actions(sub)
    return found


def _subparser(parser: argparse.ArgumentParser, name: str | None) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            sub: argparse.ArgumentParser = action.choices[name]
            return sub
    return None


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """parse_args, but an unknown option is reported as such before a missing one."""
    if any(a in ("-h", "--help", "--version") for a in argv):
        return parser.parse_args(argv)  # help must show the required options as required
    required = [a for a in _required_actions(parser) if a.option_strings]
    for action in required:
        action.required = False
    try:
        known, extra = parser.parse_known_args(argv)
    finally:
        for action in required:
            action.required = True
    unknown = [a for a in extra if a.startswith("-")]
    if unknown:
        owner = _subparser(parser, getattr(known, "command", None)) or parser
        owner.error(f"unknown option {unknown[0]}")
    if not extra and all(getattr(known, a.dest, None) is not None for a in required):
        return known  # nothing left over, nothing required missing: a second pass adds nothing
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in argv if not a.startswith("-")), None)
    json_out, json_lines = _json_asked(argv)
    if os.environ.get("_ARGCOMPLETE") and argv == sys.argv[1:]:
        from .commands.completion import complete

        # Only the command being completed is built (a TAB costs one command's imports).
        words = os.environ.get("COMP_LINE", "")[:int(os.environ.get("COMP_POINT", 0) or 0)]
        typed = words.split()
        word = typed[1] if len(typed) > 2 or (len(typed) == 2 and words.endswith(" ")) else None
        complete(build_parser(word, only=word in COMMANDS))  # answers the shell, then exits
    gc_was = gc.isenabled()
    if selected in _ONE_SHOT:
        # One query, then exit: the cycle collector would only walk the freshly decoded
        # rule set (a few ms of a cold start). --batch turns it back on (seoib.commands.batchio).
        gc.disable()
    stdout, stderr, stderr_was, stdin_was = sys.stdout, sys.stderr, sys.stderr, sys.stdin
    if stderr is None:  # started with 2>&-: refusals go nowhere, but nothing crashes
        sys.stderr = stderr = quiet_stdout()  # type: ignore[assignment]
    if stdin_was is None:  # started with <&-: reading it is bad input, not a crash
        sys.stdin = closed_stdin()  # type: ignore[assignment]
    # JSON escapes control characters itself: only text output is scanned for them.
    sys.stdout = guard_stdout(stdout, scan=not json_lines)  # type: ignore[assignment]
    try:
        # A known command first on the line: the other commands' parsers cannot take part
        # (top-level options take no values), so only its own is built.
        parser = build_parser(selected, only=bool(argv) and argv[0] == selected
                              and selected in COMMANDS)
        args = _parse(parser, argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_BAD_INPUT
        json_out = getattr(args, "format", None) == "json"
        json_lines = json_out or getattr(args, "batch", None) is not None
        sys.stdout.scan = not json_lines  # type: ignore[union-attr]
        if getattr(args, "quiet", False):
            sys.stdout = quiet_stdout()  # type: ignore[assignment]
        module = importlib.import_module(f"seoib.commands.{COMMANDS[args.command][0]}")
        code = int(module.run(args))
        sys.stdout.flush()  # a full disk or a closed pipe is found here, not at exit
        return code
    except SeoibError as err:
        if isinstance(err, OutputError):
            silence_stdout(stdout)
        more = err.more if isinstance(err, RuleError) else None
        stderr.write(_report_json(err.message, err.location, err.exit_code, more) if json_out
                     else _report(err))
        return err.exit_code
    except KeyboardInterrupt:
        stderr.write(_report_json("interrupted", None, EXIT_INTERRUPTED) if json_out
                     else "seoib: interrupted\n")
        return EXIT_INTERRUPTED
    except SystemExit as exc:  # --help and --version exit 0 through argparse
        return exc.code if isinstance(exc.code, int) else 0
    except Exception as err:  # a bug: say so loudly, never pass it off as a verdict
        if os.environ.get("SEOIB_DEBUG"):
            raise
        message = (f"internal error: {type(err).__name__}: {err}; please report it with the "
                   "command that caused it (SEOIB_DEBUG=1 shows the traceback)")
        stderr.write(_report_json(message, None, EXIT_INTERNAL) if json_out
                     else one_line(f"seoib: {message}") + "\n")
        return EXIT_INTERNAL
    finally:
        # main() may run inside a longer-lived process (tests, embedding)
        sys.stdout, sys.stderr, sys.stdin = stdout, stderr_was, stdin_was
        if gc_was:
            gc.enable()


if __name__ == "__main__":
    sys.exit(main())
