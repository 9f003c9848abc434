"""Artifact text that does not depend on where the rules were read from.

A checkout, a temporary copy or a wheel put the rule files at different absolute
paths; a citation that names one keeps only the file's name, so the matrices are
byte-identical for identical rules wherever they live.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["portable"]

_PATH = re.compile(r"(?<![\w.])/(?:[^\s/]+/)*([^\s/]+\.ya?ml)\b")


@lru_cache(maxsize=4096)
def portable(text: str) -> str:
    """``text`` with every absolute path of a rule file cut to the file's name.

    >>> portable("kernels.yaml lineage; see /opt/x/rules/kernels.yaml")
    'kernels.yaml lineage; see kernels.yaml'
    """
    return _PATH.sub(r"\1", text)
