"""The `seoib` command line. Command modules are imported only when chosen."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from .errors import BadInput, SeoibError

__all__ = ["main"]

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
    "rules": ("rules", "rule set tools (validate)"),
    "serve": ("serve", "the decision service: policy, migrate and check over HTTP/JSON"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # Usage errors are bad input: exit 3 like every other kind.
        raise BadInput(f"{self.prog}: {message}")


def _available() -> dict[str, tuple[str, str]]:
    here = os.path.join(os.path.dirname(__file__), "commands")
    return {n: v for n, v in COMMANDS.items() if os.path.exists(os.path.join(here, f"{v[0]}.py"))}


def build_parser(selected: str | None) -> argparse.ArgumentParser:
    parser = _Parser(prog="seoib", description="x2APIC Suppress-EOI-Broadcast policy, migration "
                     "and rollout safety for KVM/QEMU fleets.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_text) in _available().items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            importlib.import_module(f"engine.commands.{module}").add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in argv if not a.startswith("-")), None)
    try:
        parser = build_parser(selected)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 3
        module = importlib.import_module(f"engine.commands.{_available()[args.command][0]}")
        return int(module.run(args))
    except SeoibError as err:
        sys.stderr.write(f"seoib: {err}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("seoib: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as err:  # a bug: say so loudly, never pass it off as a verdict
        if os.environ.get("SEOIB_DEBUG"):
            raise
        sys.stderr.write(f"seoib: internal error: {type(err).__name__}: {err} "
                         "(set SEOIB_DEBUG=1 for a traceback)\n")
        return 4


if __name__ == "__main__":
    sys.exit(main())
