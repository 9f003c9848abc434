"""Where the built-in rules and schemas live: the repository checkout or the wheel."""

from __future__ import annotations

from pathlib import Path

__all__ = ["builtin_fleets_dir", "builtin_rules_dir", "schemas_dir"]

_PKG = Path(__file__).resolve().parent


def _find(folder: str) -> Path:
    # A wheel carries the data as seoib/_data/<folder>; a checkout has it at the top.
    for candidate in (_PKG / "_data" / folder, _PKG.parent / folder):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"seoib-engine data folder {folder!r} is missing from the install")


def builtin_rules_dir() -> Path:
    return _find("rules")


def schemas_dir() -> Path:
    return _find("schemas")


def builtin_fleets_dir() -> Path:
    return _find("fleets")
