"""Value classes without the cost of :mod:`dataclasses` at import time.

``@record`` (frozen) and ``@record(frozen=False)`` give a class what
``@dataclass`` gives it - ``__init__`` with the annotated fields in order and
their defaults, ``__repr__``, ``__eq__``, ``__hash__`` (frozen), ordering
(``order=True``), ``__match_args__`` and ``__post_init__`` - with the same
semantics and the same hash values. A start of ``seoib policy`` defines a few
dozen such classes; dataclass compiles six functions for each, and importing
it pulls in :mod:`inspect`. Here only ``__init__`` is compiled (it is on hot
paths), once a class has been constructed a few dozen times (before that a
generic one binds the arguments); the other methods are closures over the
field names.

The fields are listed, in order, in ``__record_fields__`` (the rules cache
encodes objects by them). ``dataclasses.fields``, ``replace``, ``asdict`` and
``is_dataclass`` keep working: ``__dataclass_fields__`` is built on first use
from an equivalent dataclass, so only code that asks for it pays for it.
Mutable defaults are given as ``Factory(callable)``.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar

__all__ = ["Factory", "FrozenError", "record", "replace"]

C = TypeVar("C", bound=type)
_FIELDS = "__record_fields__"


class FrozenError(AttributeError):
    """Assigning to or deleting a field of a frozen record."""


class Factory:
    """A default built per instance (``dataclasses.field(default_factory=...)``)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


class _NoDefault:
    """Marks a field whose instance default comes from a Factory."""


_NO_DEFAULT = _NoDefault()


class _DataclassFields:
    """``__dataclass_fields__`` built on first use, so the dataclasses API still applies."""

    def __get__(self, obj: Any, owner: type) -> dict[str, Any]:
        import dataclasses

        ns: dict[str, Any] = {"__annotations__": dict(owner.__record_annotations__)}  # type: ignore[attr-defined]
        for name, default in owner.__record_defaults__.items():  # type: ignore[attr-defined]
            ns[name] = (dataclasses.field(default_factory=default.make) if isinstance(default, Factory)
                        else default)
        twin = dataclasses.dataclass(type(owner.__name__, (), ns))
        fields: dict[str, Any] = twin.__dataclass_fields__  # type: ignore[attr-defined]
        type.__setattr__(owner, "__dataclass_fields__", fields)
        return fields


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenError(f"cannot delete field {name!r}")


def _key(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The fields as a tuple (what dataclass compares and hashes)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda self: (one(self),)
    return lambda self: ()


def _init(cls: type, names: tuple[str, ...], defaults: dict[str, Any], frozen: bool,
          post_init: bool) -> Callable[..., None]:
    params, body = [], []
    env: dict[str, Any] = {"_NO_DEFAULT": _NO_DEFAULT}
    for name in names:
        default = defaults.get(name, _NO_DEFAULT)
        if name not in defaults:
            params.append(name)
        elif isinstance(default, Factory):
            env[f"_f_{name}"] = default.make
            params.append(f"{name}=_NO_DEFAULT")
            body.append(f" if {name} is _NO_DEFAULT: {name} = _f_{name}()")
        else:
            env[f"_d_{name}"] = default
            params.append(f"{name}=_d_{name}")
    # Straight into the instance dict: what object.__setattr__ does, without a call per field.
    target = "self.__dict__" if frozen else None
    if target:
        body.append(f" _d = {target}")
        body += [f" _d[{name!r}] = {name}" for name in names]
    else:
        body += [f" self.{name} = {name}" for name in names]
    if post_init:
        body.append(" self.__post_init__()")
    src = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or " pass") + "\n"
    ns: dict[str, Any] = {}
    exec(src, env, ns)  # one small function per class; the fields are identifiers
    init: Callable[..., None] = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


_COMPILE_AFTER = 32  # constructions a class makes through the generic __init__


def _bind(cls: type, names: tuple[str, ...], defaults: dict[str, Any], args: tuple[Any, ...],
          kwargs: dict[str, Any]) -> dict[str, Any]:
    """The fields' values, in field order, as the compiled ``__init__`` would bind them."""
    where = f"{cls.__qualname__}.__init__()"
    if len(args) > len(names):
        raise TypeError(f"{where} takes {len(names) + 1} positional arguments but "
                        f"{len(args) + 1} were given")
    given = dict(zip(names, args, strict=False))  # fewer positional arguments than fields
    for key, value in kwargs.items():
        if key not in defaults and key not in names:
            raise TypeError(f"{where} got an unexpected keyword argument {key!r}")
        if key in given:
            raise TypeError(f"{where} got multiple values for argument {key!r}")
        given[key] = value
    values: dict[str, Any] = {}
    for name in names:
        if name in given:
            values[name] = given[name]
        elif name in defaults:
            default = defaults[name]
            values[name] = default.make() if isinstance(default, Factory) else default
        else:
            raise TypeError(f"{where} missing required argument: {name!r}")
    return values


def _lazy_init(cls: type, names: tuple[str, ...], defaults: dict[str, Any], frozen: bool,
               post_init: bool) -> Callable[..., None]:
    """A generic ``__init__`` that compiles the class's own after ``_COMPILE_AFTER`` calls.

    The rules cache builds most records without a constructor, and a cold start
    constructs about ten classes a few times each: compiling their ``__init__``
    (~70 us each) would cost more than binding their arguments by hand.
    """
    calls = 0

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls > _COMPILE_AFTER:
            real = _init(cls, names, defaults, frozen, post_init)
            type.__setattr__(cls, "__init__", real)
            real(self, *args, **kwargs)
            return
        values = _bind(cls, names, defaults, args, kwargs)
        if frozen:
            self.__dict__.update(values)
        else:
            for name, value in values.items():
                setattr(self, name, value)
        if post_init:
            self.__post_init__()

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _build(cls: C, frozen: bool, order: bool) -> C:
    annotations: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for base in reversed(cls.__mro__[1:]):
        if _FIELDS in base.__dict__:
            annotations.update(base.__record_annotations__)
            defaults.update(base.__record_defaults__)
    # The class's own annotations, as dataclass reads them (inspect.get_annotations imports inspect).
    for name, kind in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063
        if isinstance(kind, str) and kind.startswith(("ClassVar", "typing.ClassVar")):
            continue
        annotations[name] = kind
        if name in cls.__dict__:
            defaults[name] = cls.__dict__[name]
            if isinstance(defaults[name], Factory):
                delattr(cls, name)
        else:
            defaults.pop(name, None)
    names = tuple(annotations)
    seen_default = False
    for name in names:
        if name in defaults:
            seen_default = True
        elif seen_default:
            raise TypeError(f"non-default field {name!r} follows a default one in {cls.__qualname__}")
    key = _key(names)

    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{self.__class__.__qualname__}({inner})"

    methods: dict[str, Any] = {
        "__init__": _lazy_init(cls, names, defaults, frozen, hasattr(cls, "__post_init__")),
        "__repr__": __repr__,
        "__eq__": __eq__,
        "__match_args__": names,
        _FIELDS: names,
        "__record_annotations__": annotations,
        "__record_defaults__": defaults,
        "__dataclass_fields__": _DataclassFields(),
    }
    own_hash = cls.__dict__.get("__hash__", _NO_DEFAULT)
    explicit_hash = own_hash is not _NO_DEFAULT and not (own_hash is None and "__eq__" in cls.__dict__)
    if frozen:
        methods["__setattr__"] = _frozen_setattr
        methods["__delattr__"] = _frozen_delattr
    if not explicit_hash:
        # Frozen: hashed by its fields; mutable and comparable: unhashable (as with dataclass).
        methods["__hash__"] = (lambda self: hash(key(self))) if frozen else None
    if order:
        def ordering(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
            def method(self: Any, other: Any) -> Any:
                if other.__class__ is self.__class__:
                    return compare(key(self), key(other))
                return NotImplemented
            return method

        methods["__lt__"] = ordering(lambda a, b: a < b)
        methods["__le__"] = ordering(lambda a, b: a <= b)
        methods["__gt__"] = ordering(lambda a, b: a > b)
        methods["__ge__"] = ordering(lambda a, b: a >= b)
    for name, value in methods.items():
        if name in ("__init__", "__repr__", "__eq__") and name in cls.__dict__:
            continue  # a class's own method wins, as with dataclass
        type.__setattr__(cls, name, value)
    return cls


def record(cls: C | None = None, *, frozen: bool = True, order: bool = False) -> Any:
    """Decorate a class as a value type (see the module docstring)."""
    if cls is None:
        return lambda c: _build(c, frozen, order)
    return _build(cls, frozen, order)


def replace(obj: Any, /, **changes: Any) -> Any:
    """A copy of record ``obj`` with ``changes`` (``dataclasses.replace`` without its import)."""
    for name in getattr(obj.__class__, _FIELDS):
        if name not in changes:
            changes[name] = getattr(obj, name)
    return obj.__class__(**changes)
