"""The exit-code table: what each code means for each command, in one place.

Every command shares the meanings of 3 (bad input), 70 (internal error), 74 (the
output could not be written) and 130 (interrupted); 0, 1, 2 and 4 say what that
command found. The table is the contract (docs/contracts.md holds the same rows,
and a test holds the two together); ``seoib COMMAND --help`` and the man page print
it from here, so they cannot drift.

>>> codes("rules")[0]
'the rule set is valid'
>>> sorted(codes("simulate"))
[0, 2, 3, 70, 74, 130]
"""

from __future__ import annotations

__all__ = [
    "COMMON",
    "EXIT_BAD_INPUT",
    "EXIT_BLOCK",
    "EXIT_DISAGREE",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "EXIT_WARN",
    "TABLE",
    "codes",
    "epilog",
]

EXIT_OK = 0
EXIT_WARN = 1
EXIT_BLOCK = 2
EXIT_BAD_INPUT = 3
EXIT_DISAGREE = 4
EXIT_INTERNAL = 70  # sysexits EX_SOFTWARE: a bug, never a verdict
EXIT_OUTPUT = 74  # sysexits EX_IOERR: the answer could not be written
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

COMMON: dict[int, str] = {
    EXIT_BAD_INPUT: "bad input: usage, an option, a spec, a file, the rules (one line on "
                    "stderr naming file:line or the option; nothing written)",
    EXIT_INTERNAL: "internal error: an exception the code did not expect (a bug; "
                   "SEOIB_DEBUG=1 shows the traceback)",
    EXIT_OUTPUT: "the output could not be written: standard output closed, a reader that "
                 "stopped reading (broken pipe), a full disk",
    EXIT_INTERRUPTED: "interrupted (SIGINT); an output being written is left as it was",
}

_DISAGREE = "the solver and the simulator disagree: an internal inconsistency, never a verdict"
_BATCH = "; with --batch the worst line's code, 3 if any line was bad"

# command -> the codes it gives beyond COMMON (a code absent here is never given)
TABLE: dict[str, dict[int, str]] = {
    "policy": {
        EXIT_OK: "the VM's interrupts are handled correctly (ok, not-applicable)" + _BATCH,
        EXIT_WARN: "a warning only (storm-risk)",
        EXIT_BLOCK: "something blocks (storm, stuck, start-fails)",
        EXIT_DISAGREE: _DISAGREE,
    },
    "migrate": {
        EXIT_OK: "the migration or restore is safe (ok)" + _BATCH,
        EXIT_WARN: "a warning only (storm-risk)",
        EXIT_BLOCK: "something blocks (unsupported, refused, dest-abort, cpu-model-change, "
                    "stuck, storm)",
        EXIT_DISAGREE: _DISAGREE,
    },
    "simulate": {
        EXIT_OK: "every expectation holds (or the scenario has none: nothing was checked)",
        EXIT_BLOCK: "an expectation failed",
    },
    "matrix": {
        EXIT_OK: "the matrices were written (with --check: DIR is current)",
        EXIT_BLOCK: "with --check: DIR is not current (a summary of what differs)",
        EXIT_DISAGREE: _DISAGREE,
    },
    "designs": {
        EXIT_OK: "the designs were compared",
        EXIT_DISAGREE: _DISAGREE,
    },
    "check": {
        EXIT_OK: "the rollout keeps every VM safe (notes only)",
        EXIT_WARN: "warnings only (with --fail-on block: exit 0)",
        EXIT_BLOCK: "something blocks",
        EXIT_DISAGREE: _DISAGREE,
    },
    "plan": {
        EXIT_OK: "a plan that seoib check accepts with notes only",
        EXIT_WARN: "a plan with warnings, or one that leaves host entries as they are",
        EXIT_BLOCK: "a plan that still blocks, or no rollout fixes VMs without causing a block",
        EXIT_DISAGREE: _DISAGREE,
    },
    "graph": {
        EXIT_OK: "the graph was written",
        EXIT_DISAGREE: _DISAGREE,
    },
    "probe": {
        EXIT_OK: "the host was probed and judged, and behaves as the rules predict",
        EXIT_WARN: "the probe cannot judge the host (a label or fact is unknown: no usable KVM "
                   "with a kernel the rules cannot place, no QEMU), or what it measured differs "
                   "from the rules",
    },
    "rules": {
        EXIT_OK: "the rule set is valid",
    },
    "serve": {
        EXIT_OK: "the service stopped on SIGTERM or SIGINT after serving",
    },
    "lab": {
        EXIT_OK: "every observation of the real QEMU binaries agrees with the engine",
        EXIT_WARN: "an observation disagrees with the engine, or showed nothing (inconclusive)",
        EXIT_DISAGREE: _DISAGREE,
    },
    "completion": {
        EXIT_OK: "the completion script was printed",
    },
}


def codes(command: str) -> dict[int, str]:
    """Every exit code ``command`` gives, with its meaning, in numeric order."""
    return dict(sorted({**COMMON, **TABLE[command]}.items()))


def epilog(command: str, width: int = 78) -> str:
    """The ``exit status`` paragraph of ``seoib COMMAND --help``, wrapped to ``width``."""
    import textwrap  # lazy: only --help and the man page print it

    lines = ["exit status:"]
    for code, meaning in codes(command).items():
        lines += textwrap.wrap(meaning, max(width, 40), initial_indent=f"  {code:<5}",
                               subsequent_indent=" " * 7)
    return "\n".join(lines)
