"""The compiled-rules cache: data only, keyed, bounded, written atomically.

A compiled rule set is an object graph of the engine's own frozen records
and a few plain classes (catalogs, lineage, resolver). It is stored as compact
JSON of those objects' fields - never pickle or marshal - so reading a cache
file can only build instances of classes defined in the engine's rules/ and
query/ packages or its shared top-level modules, field by field, without
calling any constructor, ``__setstate__`` or ``__reduce__``.

Encoding (``FORMAT``/``VERSION`` tag the file): JSON scalars stand for
themselves; every other value is a list whose first item is a tag -
``L``/``T``/``F``/``S`` list, tuple, frozenset, set; ``D`` a dict as flat
key/value pairs; ``P`` a path; ``R`` a compiled regular expression;
``O`` an object (class index, then its fields); ``@`` a reference to the n-th
object already decoded, so shared rules and locations stay shared, and equal
frozen values (records, whose fields never change) are stored once.

The key covers the rules' content digest, their location(s) and a digest of
the source files that build and read a rule set - every file under the phase
packages ``seoib/rules/`` and ``seoib/query/`` and the shared top-level modules
(names, sizes, modification times) - so a cache entry never outlives the code
that wrote it and never carries another install's paths into error messages.
Only classes defined in those same modules are decoded; both sets follow the
folders, so a new module there needs no edit here. The directory holds at most ``MAX_ENTRIES`` files
(oldest evicted). A missing, truncated, corrupt, foreign or unsafe (not owned
by this user, or writable by others) file is ignored and rebuilt: the cache is
an optimisation, never a source of truth.
"""

from __future__ import annotations

import importlib
import itertools
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path, PurePath
from typing import Any, TypeVar

from ..digests import sha256

__all__ = ["FORMAT", "MAX_ENTRIES", "VERSION", "CacheError", "cache_dir", "cache_key", "cache_path",
           "cached", "decode", "encode"]

FORMAT = "seoib-compiled-rules"
VERSION = 1
MAX_ENTRIES = 8
MAX_BYTES = 16 * 1024 * 1024  # a compiled rule set is ~150 kB; anything far larger is not ours

_PKG_DIR = str(Path(__file__).resolve().parent.parent)  # seoib/
# The packages whose modules a compiled rule set is built from and read by; with the
# shared modules at seoib/ top level they are the code the cache depends on.
PHASES = ("rules", "query")
_MODULE_NAME = re.compile(r"^seoib(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

T = TypeVar("T")


class CacheError(Exception):
    """A value cannot be stored, or a file is not a cache this code wrote."""


# --- key -----------------------------------------------------------------------------------

_code_digest_memo: list[str] = []


def _source_files() -> list[str]:
    """The shared top-level modules, then every module under each of ``PHASES``, sorted."""
    found = sorted(os.path.join(_PKG_DIR, n) for n in os.listdir(_PKG_DIR) if n.endswith(".py"))
    for phase in PHASES:  # plain strings: this runs on every start
        for folder, dirs, files in os.walk(os.path.join(_PKG_DIR, phase)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")  # bytecode only: not read
            found.extend(os.path.join(folder, n) for n in sorted(files) if n.endswith(".py"))
    return found


def code_digest() -> str:
    """sha256 over the code a rule set depends on: each file's name, size and modification time.

    Reading a file's metadata, not its bytes, keeps a cached start cheap; any edit,
    reinstall or upgrade changes a size or a time, so a stale entry is never read.
    """
    if not _code_digest_memo:
        h = sha256()
        base = len(_PKG_DIR) + 1
        for path in _source_files():
            st = os.stat(path)
            h.update(f"{path[base:]}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        _code_digest_memo.append(h.hexdigest())
    return _code_digest_memo[0]


def cache_key(rule_digest: str, locations: Sequence[str | PurePath]) -> str:
    """The entry key: rules content, where the rules live (in overlay order), engine code."""
    h = sha256(f"{FORMAT}/{VERSION}\0{code_digest()}\0{rule_digest}\0".encode())
    for loc in locations:
        h.update(os.path.realpath(loc).encode() + b"\0")
    return h.hexdigest()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "seoib-engine"


def cache_path(key: str) -> Path:
    return cache_dir() / f"rules-{key[:40]}.json"


# --- encode --------------------------------------------------------------------------------

def _field_names(cls: type) -> list[str] | None:
    """A record's or dataclass's fields, in order; None for other classes (stored by ``vars``)."""
    names = cls.__dict__.get("__record_fields__")
    if names is not None:
        return list(names)
    import dataclasses  # lazy: only a cache miss encodes

    return [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else None


def encode(root: Any) -> dict[str, Any]:
    """``root`` as a JSON-ready document; CacheError for anything not plain data."""
    classes: list[list[Any]] = []
    class_index: dict[type, int] = {}
    refs: dict[int, int] = {}
    in_progress: set[int] = set()
    keep_alive: list[Any] = []  # ids stay unique while the objects live
    # Frozen values already stored, by their encoding: rules repeat equal conditions,
    # assignments and releases, and one shared object decodes faster than many copies.
    by_value: dict[str, int] = {}
    stored = 0  # objects written so far: decode numbers them in this order

    def klass(cls: type) -> int:
        idx = class_index.get(cls)
        if idx is None:
            if (not _MODULE_NAME.match(cls.__module__) or not _IDENT.match(cls.__qualname__)
                    or not _stored_module(cls.__module__)):  # else it could not be read back
                raise CacheError(f"cannot store a {cls.__module__}.{cls.__qualname__}")
            fields = _field_names(cls)
            idx = class_index[cls] = len(classes)
            classes.append([cls.__module__, cls.__qualname__, fields])
        return idx

    def enc(v: Any) -> Any:
        nonlocal stored
        t = type(v)
        if v is None or t is bool or t is int or t is str or t is float:
            return v
        if t is tuple:
            return ["T", *map(enc, v)]
        if t is list:
            return ["L", *map(enc, v)]
        if t is dict:
            out: list[Any] = ["D"]
            for k, x in v.items():
                out.append(enc(k))
                out.append(enc(x))
            return out
        if t is frozenset:
            return ["F", *map(enc, v)]
        if t is set:
            return ["S", *map(enc, v)]
        if isinstance(v, PurePath):
            return ["P", str(v)]
        if t is re.Pattern:
            return ["R", v.pattern, v.flags]
        ident = id(v)
        if ident in refs:
            return ["@", refs[ident]]
        if ident in in_progress:
            raise CacheError("the rule set refers to itself")
        if isinstance(v, BaseException) or callable(v) or not hasattr(v, "__dict__"):
            raise CacheError(f"cannot store a {t.__qualname__}")
        in_progress.add(ident)
        idx = klass(t)
        fields = classes[idx][2]
        if fields is not None:
            out = ["O", idx, *(enc(getattr(v, f)) for f in fields)]
        else:
            out = ["O", idx, enc(dict(vars(v)))]
        in_progress.discard(ident)
        keep_alive.append(v)
        if fields is not None and t.__hash__ is not None:  # a frozen value: equal ones are one
            key = json.dumps(out)
            first = by_value.get(key)
            if first is not None:
                refs[ident] = first
                return ["@", first]
            by_value[key] = stored
        refs[ident] = stored
        stored += 1
        return out

    body = enc(root)
    return {"format": FORMAT, "version": VERSION, "classes": classes, "root": body}


# --- decode --------------------------------------------------------------------------------

def _stored_module(module: str) -> bool:
    """Whether ``module`` (a checked dotted name) is one :func:`code_digest` covers."""
    parts = module.split(".")
    if len(parts) == 2:  # a shared top-level module, not a package
        return os.path.isfile(os.path.join(_PKG_DIR, parts[1] + ".py"))
    if len(parts) < 2 or parts[1] not in PHASES:
        return False
    rel = os.path.join(_PKG_DIR, *parts[1:])
    return os.path.isfile(rel + ".py") or os.path.isfile(os.path.join(rel, "__init__.py"))


def _resolve_class(module: Any, name: Any) -> type:
    """A class of the modules a rule set is built from, or CacheError: never an arbitrary callable."""
    if not (isinstance(module, str) and isinstance(name, str) and _MODULE_NAME.match(module)
            and _IDENT.match(name)):
        raise CacheError("not a class of this package")
    if not _stored_module(module):
        raise CacheError("not a module whose classes a rule set holds")
    mod = sys.modules.get(module) or importlib.import_module(module)
    cls = mod.__dict__.get(name)
    if not isinstance(cls, type) or cls.__module__ != module or issubclass(cls, BaseException):
        raise CacheError("not a class of this package")
    return cls


def decode(doc: Any) -> Any:
    """The object graph of an :func:`encode` document; CacheError when it is not one."""
    if not (isinstance(doc, dict) and doc.get("format") == FORMAT and doc.get("version") == VERSION
            and isinstance(doc.get("classes"), list)):
        raise CacheError("not a compiled-rules cache of this version")
    table: list[tuple[type, list[str] | None]] = []
    for entry in doc["classes"]:
        if not (isinstance(entry, list) and len(entry) == 3):
            raise CacheError("bad class table")
        fields = entry[2]
        if fields is not None and not (isinstance(fields, list)
                                       and all(isinstance(f, str) and _IDENT.match(f) for f in fields)):
            raise CacheError("bad field list")
        table.append((_resolve_class(entry[0], entry[1]), fields))
    objects: list[Any] = []
    new = object.__new__
    islice = itertools.islice

    def dec(v: Any) -> Any:
        # Scalars are decoded inline (``x if type(x) is not list``): most leaves are scalars.
        if type(v) is not list:
            if isinstance(v, dict):
                raise CacheError("bare mapping")
            return v
        tag = v[0] if v else None
        if tag == "O":
            cls, fields = table[v[1]]
            obj = new(cls)
            if fields is not None:
                if len(v) != len(fields) + 2:
                    raise CacheError("field count")
                obj.__dict__.update(zip(fields, [x if type(x) is not list else dec(x)
                                                 for x in islice(v, 2, None)], strict=True))
            else:
                state = dec(v[2])
                if type(state) is not dict or not all(type(k) is str for k in state):
                    raise CacheError("bad object state")
                obj.__dict__.update(state)
            objects.append(obj)
            return obj
        if tag == "@":
            return objects[v[1]]
        items = [x if type(x) is not list else dec(x) for x in islice(v, 1, None)]
        if tag == "T":
            return tuple(items)
        if tag == "D":
            it = iter(items)
            return dict(zip(it, it, strict=True))
        if tag == "L":
            return items
        if tag == "F":
            return frozenset(items)
        if tag == "S":
            return set(items)
        if tag == "P":
            return Path(*items)
        if tag == "R":
            return re.compile(*items)
        raise CacheError(f"unknown tag {tag!r}")

    try:
        return dec(doc.get("root"))
    except CacheError:
        raise
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, re.error,
            RecursionError) as exc:
        raise CacheError(f"malformed cache: {type(exc).__name__}") from None


# --- files ---------------------------------------------------------------------------------

def _read(path: Path, key: str) -> Any:
    """The decoded entry at ``path`` for ``key``; CacheError or OSError when unusable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        import stat

        # Only a regular file this user wrote and nobody else can change.
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_BYTES:
            raise CacheError("not a regular file of sane size")
        if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
            raise CacheError("not owned by this user, or writable by others")
        raw = fh.read(MAX_BYTES + 1)
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise CacheError("not JSON") from None
    if not isinstance(doc, dict) or doc.get("key") != key:
        raise CacheError("written for another key")
    return decode(doc)


def _write(path: Path, key: str, value: Any) -> None:
    doc = encode(value)
    doc["key"] = key
    data = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    import tempfile  # lazy: only a cache miss writes

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rules-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)  # readers see the old entry or the whole new one
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    _evict(path.parent, keep=path)


def _evict(folder: Path, keep: Path) -> None:
    """Keep the newest MAX_ENTRIES entries; drop older ones and stale temp files."""
    entries = []
    for p in folder.iterdir():
        name = p.name
        with suppress(OSError):
            if name.startswith(".rules-") and name.endswith(".tmp"):
                st = p.stat()
                if st.st_mtime < _now() - 3600:
                    p.unlink()
            elif name.startswith("rules-") and (name.endswith(".json") or name.endswith(".pickle")):
                if name.endswith(".pickle"):
                    p.unlink()  # an older engine's format: never read, never kept
                elif p != keep:
                    entries.append((p.stat().st_mtime, p))
    entries.sort(reverse=True)
    for _, p in entries[MAX_ENTRIES - 1:]:
        with suppress(OSError):
            p.unlink()


def _now() -> float:
    import time

    return time.time()


def cached(key: str, build: Callable[[], T], *, check: Callable[[Any], bool] = lambda v: True,
           use_cache: bool = True) -> T:
    """The value stored under ``key``, or ``build()`` (then stored). Never fails on the cache."""
    if not use_cache or os.environ.get("SEOIB_NO_CACHE") is not None:
        return build()
    path = cache_path(key)
    try:
        value = _read(path, key)
        if check(value):
            with suppress(OSError):
                os.utime(path)  # recently used: evicted last
            return value  # type: ignore[no-any-return]
    except (OSError, CacheError):
        pass  # absent, foreign or damaged: rebuild below
    value = build()
    # An unwritable or unstorable cache costs speed, never the answer.
    with suppress(OSError, CacheError, ValueError, TypeError):
        _write(path, key, value)
    return value
