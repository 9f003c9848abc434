"""No answer of the decision service names a file of the server.

Rule directories are named publicly - ``built-in`` for the package's own rules,
``site-N`` for the N-th other directory - in verdicts (``rules.root``), in
``/v1/rules`` and in the locations of errors (a refused reload, a plan's rule
problem): :func:`scrub` replaces each directory, as given and as resolved.
"""

from __future__ import annotations

import os
from typing import Any

from ..rules.ruleset import RuleSet

__all__ = ["public_names", "scrub"]


def public_names(rs: RuleSet) -> list[tuple[str, str]]:
    """(directory, public name) of a rule set's directories: ``built-in`` and ``site-N``."""
    from ..paths import builtin_rules_dir

    builtin = os.path.realpath(builtin_rules_dir())
    out, n = [], 0
    for root in rs.roots or (rs.root,):
        real = os.path.realpath(root)
        if real == builtin:
            out.append((str(root), "built-in"))
        else:
            n += 1
            out.append((str(root), f"site-{n}"))
        if real != str(root):
            out.append((real, out[-1][1]))
    return sorted(out, key=lambda p: -len(p[0]))  # the longest prefix first


def scrub(obj: Any, labels: list[tuple[str, str]]) -> Any:
    """``obj`` with every rule directory in its strings replaced by its public name."""
    if isinstance(obj, str):
        for path, name in labels:
            if path in obj:
                obj = obj.replace(path, name)
        return obj
    if isinstance(obj, dict):
        return {k: scrub(v, labels) for k, v in obj.items()}
    if isinstance(obj, list):
        return [scrub(v, labels) for v in obj]
    return obj
