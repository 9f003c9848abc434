"""Frozen value classes for the simulator's inputs and records, without dataclasses.

A subclass of :class:`Value` annotates its fields in order (as a dataclass would)
and writes its own ``__init__``, storing each field with ``_store``. The base gives
it equality and hashing over the fields' tuple (the hash dataclass would give),
``repr``, immutability and ``__match_args__``. Every query and every matrix cell
runs the simulator, and each run builds these records; dataclass's ``__init__``
stores a frozen field through a call of ``object.__setattr__`` each, and defining
the classes with dataclass costs an import of ``inspect`` on every start.

``dataclasses.asdict``, ``replace`` and ``fields`` still apply (the ``simulate``
command and callers rely on them): ``__dataclass_fields__`` is built on first use.

The engine's ``seoib.record`` does the same job for the rules and queries; the
simulator keeps this small copy because it imports nothing of the engine but its
errors and YAML loading (tests/test_layers.py): an oracle shares no code with what
it checks beyond those leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

__all__ = ["Value"]


class _DataclassFields:
    """``__dataclass_fields__`` of an equivalent dataclass, built when first asked for."""

    def __get__(self, obj: Any, owner: type[Value]) -> dict[str, Any]:
        import dataclasses

        kinds = {n: owner.__annotations__.get(n, Any) for n in owner._fields}
        defaults = {n: owner.__dict__[n] for n in owner._fields if n in owner.__dict__}
        twin = dataclasses.dataclass(type(owner.__name__, (), {"__annotations__": kinds, **defaults}))
        fields: dict[str, Any] = twin.__dataclass_fields__  # type: ignore[attr-defined]
        type.__setattr__(owner, "__dataclass_fields__", fields)
        return fields


def _key(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if len(names) > 1:
        return attrgetter(*names)
    one = attrgetter(*names)
    return lambda self: (one(self),)


class Value:
    """Base of the simulator's frozen records (see the module docstring)."""

    _fields: tuple[str, ...] = ()
    _key: Callable[[Any], tuple[Any, ...]] = staticmethod(lambda self: ())
    __dataclass_fields__ = _DataclassFields()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The class's own annotations, in order (inspect.get_annotations would import inspect).
        own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
        names = tuple(n for n, kind in own.items() if not str(kind).startswith("ClassVar"))
        cls._fields = names
        cls._key = staticmethod(_key(names))  # type: ignore[assignment]
        cls.__match_args__ = names

    def _store(self, **fields: Any) -> None:
        """Set the fields once, from ``__init__``."""
        self.__dict__.update(fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._key(self) == self._key(other)
        return NotImplemented

    def __hash__(self) -> int:
        # Kept once computed (the fields never change): a witness run is looked up in two
        # memos by its inputs, each a hash of every field.
        h: int | None = self.__dict__.get("_hash")
        if h is None:
            h = self.__dict__["_hash"] = hash(self._key(self))
        return h

    def __getstate__(self) -> dict[str, Any]:
        # Fields only: a string's hash differs between interpreters, so a kept hash never
        # travels with a pickle or a copy.
        return {n: self.__dict__[n] for n in self._fields}

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields)
        return f"{self.__class__.__qualname__}({inner})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")
