"""`seoib completion bash|zsh|fish`: the shell hook that completes seoib's commands and options.

Completion is argcomplete's: the hook asks ``seoib`` itself at each TAB (with
``_ARGCOMPLETE`` set; seoib.cli hands the full parser to :func:`complete`), so what it
offers is the argparse tables of the installed version - a new option or choice needs no
edit here, and an upgrade never leaves a stale script behind. argcomplete rather than
shtab: it is the better kept of the two (maintained since 2012, packaged by Debian and
the other distributions, used by pipx and Ansible) and serves fish as well as bash and
zsh; shtab writes a static script per release, which goes stale when seoib is upgraded
and the script is not. Without ``_ARGCOMPLETE`` nothing of it is imported.

Install once, e.g.::

    seoib completion bash > ~/.local/share/bash-completion/completions/seoib
    seoib completion zsh > "${fpath[1]}/_seoib"
    seoib completion fish > ~/.config/fish/completions/seoib.fish
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from ..errors import BadInput, Location

__all__ = ["SHELLS", "add_arguments", "complete", "run"]

SHELLS = ("bash", "zsh", "fish")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")


def _argcomplete() -> object:
    try:
        import argcomplete
    except ImportError:
        raise BadInput("shell completion needs argcomplete: pip install argcomplete",
                       Location("seoib completion")) from None
    return argcomplete


def run(args: argparse.Namespace) -> int:
    code = _argcomplete().shellcode(["seoib"], shell=args.shell)  # type: ignore[attr-defined]
    sys.stdout.write(code if code.endswith("\n") else code + "\n")
    return 0


def complete(parser: argparse.ArgumentParser) -> NoReturn:
    """Answer the shell's completion request (argcomplete's protocol) and exit."""
    _argcomplete().autocomplete(parser)  # type: ignore[attr-defined]
    sys.exit(0)  # not a completion request after all: argcomplete returned
