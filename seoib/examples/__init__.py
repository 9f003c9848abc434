"""Example simulator scenarios shipped with the package (``seoib simulate --example NAME``).

Each is a YAML file under ``scenarios/`` that runs as it is; its ``name`` and
``description`` say what it shows. They are package data, so an installed
wheel carries them.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from ..errors import BadInput, Location
from ..yamlio import load_yaml

__all__ = ["example_path", "examples"]

_DIR = files(__package__) / "scenarios"


def examples() -> dict[str, str]:
    """Example name (the file name without .yaml) -> its one-line title, sorted by name."""
    out: dict[str, str] = {}
    for item in sorted(_DIR.iterdir(), key=lambda x: x.name):
        if item.name.endswith(".yaml"):
            with as_file(item) as path:
                data = load_yaml(path)
            out[item.name.removesuffix(".yaml")] = str(data.get("name", ""))
    return out


def example_path(name: str) -> Path:
    """The file of example ``name``; BadInput (exit 3) naming the known ones when unknown."""
    item = _DIR / f"{name}.yaml"
    if not name or "/" in name or not item.is_file():
        raise BadInput(f"unknown example {name!r} (known: {', '.join(examples())})",
                       Location("--example"))
    with as_file(item) as path:  # a real file already for a wheel installed on disk
        return Path(path)
