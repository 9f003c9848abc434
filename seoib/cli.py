"""The `seoib` command line. Command modules are imported only when chosen.

Exit codes: 0 ok, 1 warnings, 2 something blocks, 3 bad input (one line on
stderr with its location), 4 the solver and the simulator disagree, 70 internal
error (an exception the code did not expect: a bug to report), 130 interrupted
(SIGINT). Nothing the user typed reaches stderr raw: control characters are
escaped, so one refusal is one line.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence

from . import __version__
from .errors import BadInput, Location, RuleError, SeoibError

__all__ = ["EXIT_INTERNAL", "EXIT_INTERRUPTED", "main", "one_line"]

EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug, never a verdict
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
_ONE_SHOT = ("policy", "migrate")  # commands that answer and exit: no cycle collection
_MAX_LINE = 800  # long enough for any real message; an echoed 5,000-digit value is cut

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
}


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
    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse builds a formatter per add_argument; its default width imports shutil.
        return self.formatter_class(prog=self.prog, width=_terminal_columns() - 2)  # type: ignore[call-arg]

    def error(self, message: str) -> None:  # type: ignore[override]
        # Usage errors are bad input: exit 3 like every other kind. The location
        # names the command ("seoib policy"); main adds the single "seoib:" prefix.
        where = self.prog.removeprefix("seoib").strip() or "command line"
        raise BadInput(f"{message} (see {self.prog} --help)", Location(where))


def one_line(text: str) -> str:
    """``text`` as one terminal-safe line: control characters escaped, overlong middle cut."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(out) > _MAX_LINE:
        cut = len(out) - _MAX_LINE
        out = f"{out[:_MAX_LINE // 2]}...({cut} characters cut)...{out[-_MAX_LINE // 2:]}"
    return out


def _report(err: SeoibError) -> str:
    if isinstance(err, RuleError):  # one line per problem, each with its file:line
        problems = [(err.location, err.message), *err.more]
        return "".join(f"seoib: {one_line(f'{loc}: {msg}' if loc else msg)}\n"
                       for loc, msg in problems)
    return f"seoib: {one_line(str(err))}\n"


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
        if name == selected:
            importlib.import_module(f"seoib.commands.{module}").add_arguments(p)
    return parser


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
    gc_was = gc.isenabled()
    if selected in _ONE_SHOT:
        # One query, then exit: the cycle collector would only walk the freshly decoded
        # rule set (a few ms of a cold start). --batch turns it back on (seoib.commands.batchio).
        gc.disable()
    try:
        # A known command first on the line: the other commands' parsers cannot take part
        # (top-level options take no values), so only its own is built.
        parser = build_parser(selected, only=bool(argv) and argv[0] == selected
                              and selected in COMMANDS)
        args = _parse(parser, argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 3
        module = importlib.import_module(f"seoib.commands.{COMMANDS[args.command][0]}")
        return int(module.run(args))
    except SeoibError as err:
        sys.stderr.write(_report(err))
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("seoib: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except SystemExit as exc:  # --help and --version exit 0 through argparse
        return exc.code if isinstance(exc.code, int) else 0
    except Exception as err:  # a bug: say so loudly, never pass it off as a verdict
        if os.environ.get("SEOIB_DEBUG"):
            raise
        sys.stderr.write(one_line(f"seoib: internal error: {type(err).__name__}: {err}; "
                                  "please report it with the command that caused it "
                                  "(SEOIB_DEBUG=1 shows the traceback)") + "\n")
        return EXIT_INTERNAL
    finally:
        if gc_was:  # main() may be called in a longer-lived process (tests, embedding)
            gc.enable()


if __name__ == "__main__":
    sys.exit(main())
