"""The compiled-rules cache: data only, keyed, bounded, written atomically.

A compiled rule set is an object graph of the engine's own frozen records
and a few plain classes (catalogs, lineage, resolver). It is stored as compact
JSON of those objects' fields - never pickle or marshal - so reading a cache
file can only build instances of the classes :data:`ALLOWED` names, by exact
module and class name, field by field, without calling any constructor,
``__setstate__`` or ``__reduce__``. A name outside that list (``seoib.__main__``,
``os.system``) is never imported: the file is ignored.

Encoding (``FORMAT``/``VERSION`` tag the file): JSON scalars stand for
themselves; every other value is a list whose first item is a tag -
``L``/``T``/``F``/``S`` list, tuple, frozenset, set; ``D`` a dict as flat
key/value pairs; ``P`` a path; ``R`` a regular expression (read back as a
:class:`~seoib.rules.lazypattern.LazyPattern`, compiled on first match);
``O`` an object (class index, then its fields); ``@`` a reference to the n-th
object already decoded, so shared rules and locations stay shared, and equal
frozen values (records, whose fields never change) are stored once; ``Z`` a
:class:`~seoib.rules.deferred.Deferred` mapping, as key/part-number pairs. Each of
its values is a *part*: its own JSON text in the body's ``parts`` list, decoded
when the value is first looked up (a policy start reads one compiled query of
three). A part may refer to any object of the main graph (decoded before it) and
to its own, never to another part's.

The key covers the rules' content digest, their location(s) and a digest of
the source files that build and read a rule set - every file under the phase
packages ``seoib/rules/`` and ``seoib/query/`` and the shared top-level modules
(names, sizes, modification times) - so a cache entry never outlives the code
that wrote it and never carries another install's paths into error messages.
Each object must carry exactly its class's fields (a record's
``__record_fields__``, or the attributes :data:`ALLOWED` lists), and the body
carries a digest of itself, so a hollow or hand-edited entry is rebuilt rather
than answering with half a rule set. The directory holds at most ``MAX_ENTRIES``
files (oldest evicted). A missing, truncated, corrupt, foreign or unsafe (not
owned by this user, or writable by others) file is ignored and rebuilt: the
cache is an optimisation, never a source of truth.
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
from .deferred import Deferred, PartError
from .lazypattern import LazyPattern

__all__ = ["ALLOWED", "FORMAT", "MAX_ENTRIES", "VERSION", "CacheError", "cache_dir", "cache_key",
           "cache_path", "cached", "decode", "encode"]

FORMAT = "seoib-compiled-rules"
VERSION = 3  # 2: the exact class allow-list and the body digest; 3: deferred parts
MAX_ENTRIES = 8
MAX_BYTES = 16 * 1024 * 1024  # a compiled rule set is ~150 kB; anything far larger is not ours

_PKG_DIR = str(Path(__file__).resolve().parent.parent)  # seoib/
# The packages whose modules a compiled rule set is built from and read by; with the
# shared modules at seoib/ top level they are the code the cache depends on.
PHASES = ("rules", "query")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Every class a compiled rule set is made of, by exact module and name: the only ones a
# cache file may name. A record's fields are its ``__record_fields__``; a plain class
# (None below a record) lists the attributes it is stored with. tests/test_rule_cache.py
# holds this list to what the built-in rule set holds.
ALLOWED: dict[tuple[str, str], tuple[str, ...] | None] = {
    ("seoib.errors", "Location"): None,
    ("seoib.rules.ruleset", "RuleSet"): None,
    ("seoib.rules.compiler", "CompiledQuery"): None,
    ("seoib.rules.compiler", "EvalStep"): None,
    ("seoib.rules.versions", "Release"): None,
    ("seoib.rules.catalog", "Downstream"): None,
    ("seoib.rules.distros", "DistributionScheme"): None,
    **{("seoib.rules.language", name): None for name in (
        "Fact", "Query", "Side", "OutcomeRule", "Condition", "Rule", "Assign", "Capability",
        "KernelChange", "Family", "MachineCompat", "QemuRelease", "Design", "GuestProfile",
        "Assumption", "StreamCommand")},
    ("seoib.rules.resolve", "Resolver"): (
        "assumptions", "designs", "guests", "kernels", "machines", "qemu"),
    ("seoib.rules.lineage", "KernelLineage"): (
        "_backports", "_builds", "_cache", "_chains", "_mainline", "capabilities", "graph",
        "longterm", "schemes", "source"),
    ("seoib.rules.catalog", "QemuCatalog"): (
        "builds", "deletion_major", "family_ranges", "history", "inference_source", "inferred",
        "machines", "releases", "source", "stream_commands"),
    ("seoib.rules.catalog", "MachineCatalog"): (
        "_pattern", "alias_families", "aliases", "all_families", "bounds", "compat",
        "downstream", "families", "ioapics", "newest", "notes", "source", "sysbus_devices",
        "versions"),
}

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
    deferred: list[Any] = []  # the values of Deferred mappings, each encoded as its own part
    in_part = False

    def klass(cls: type) -> int:
        idx = class_index.get(cls)
        if idx is None:
            if (cls.__module__, cls.__qualname__) not in ALLOWED:  # else it could not be read back
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
        if t is re.Pattern or t is LazyPattern:
            return ["R", v.pattern, v.flags]
        if t is Deferred:
            if in_part:
                raise CacheError("a deferred mapping inside a deferred part")
            out = ["Z"]
            for k in v:
                if type(k) is not str:
                    raise CacheError("a deferred mapping's keys are strings")
                out += [k, len(deferred)]
                deferred.append(v[k])
            return out
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
            state = dict(vars(v))
            if tuple(sorted(state)) != ALLOWED[(t.__module__, t.__qualname__)]:
                raise CacheError(f"a {t.__qualname__} with other attributes than ALLOWED lists")
            out = ["O", idx, enc(state)]
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
    # Parts after the main graph: each is numbered on from it and forgets its own objects
    # afterwards, so it refers only to the main graph and to itself.
    main_refs, main_values, main_stored = dict(refs), dict(by_value), stored
    parts = []
    in_part = True
    for value in deferred:
        refs, by_value, stored = dict(main_refs), dict(main_values), main_stored
        parts.append(json.dumps(enc(value), separators=(",", ":"), ensure_ascii=False))
    return {"format": FORMAT, "version": VERSION, "classes": classes, "root": body,
            "parts": parts}


# --- decode --------------------------------------------------------------------------------

def _resolve_class(module: Any, name: Any) -> tuple[type, tuple[str, ...] | None]:
    """A class :data:`ALLOWED` names, and the attributes it is stored with; CacheError for any
    other name, before anything is imported: a cache file never chooses what runs."""
    if not (isinstance(module, str) and isinstance(name, str)) or (module, name) not in ALLOWED:
        raise CacheError("not a class a compiled rule set is made of")
    mod = sys.modules.get(module) or importlib.import_module(module)
    cls = mod.__dict__.get(name)
    if not isinstance(cls, type) or cls.__module__ != module or issubclass(cls, BaseException):
        raise CacheError("not a class a compiled rule set is made of")
    return cls, ALLOWED[module, name]


def decode(doc: Any) -> Any:
    """The object graph of an :func:`encode` document; CacheError when it is not one."""
    if not (isinstance(doc, dict) and doc.get("format") == FORMAT and doc.get("version") == VERSION
            and isinstance(doc.get("classes"), list)):
        raise CacheError("not a compiled-rules cache of this version")
    table: list[tuple[type, list[str] | None]] = []
    attributes: dict[type, frozenset[str]] = {}
    for entry in doc["classes"]:
        if not (isinstance(entry, list) and len(entry) == 3):
            raise CacheError("bad class table")
        cls, stored = _resolve_class(entry[0], entry[1])
        fields = entry[2]
        # Exactly the class's own fields: a hollow entry must not decode to half an object.
        if stored is None:
            if fields != _field_names(cls):
                raise CacheError("field list differs from the class")
        elif fields is not None:
            raise CacheError("bad field list")
        else:
            attributes[cls] = frozenset(stored)
        table.append((cls, fields))
    parts = doc.get("parts", [])
    if not (isinstance(parts, list) and all(type(p) is str for p in parts)):
        raise CacheError("bad parts")
    main: list[Any] = []  # the main graph's objects, in the order they were stored

    def part(index: int) -> Any:
        """A deferred value: its part decoded over the main graph's objects."""
        try:
            if not 0 <= index < len(parts):  # a negative index would read another value's part
                raise CacheError("no such part")
            return _decoder(table, attributes, list(main), None)(json.loads(parts[index]))
        except (CacheError, ValueError, TypeError, IndexError, KeyError, AttributeError, re.error,
                RecursionError) as exc:
            raise PartError(f"a stored part does not decode: {type(exc).__name__}") from None

    try:
        return _decoder(table, attributes, main, part)(doc.get("root"))
    except CacheError:
        raise
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, re.error,
            RecursionError) as exc:
        raise CacheError(f"malformed cache: {type(exc).__name__}") from None


def _decoder(table: list[tuple[type, list[str] | None]], attributes: dict[type, frozenset[str]],
             objects: list[Any], part: Callable[[int], Any] | None) -> Callable[[Any], Any]:
    """The decoding function of one graph; ``objects`` holds those already decoded (``@``),
    ``part`` builds a deferred value (None inside a part: parts do not nest)."""
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
                if type(state) is not dict or state.keys() != attributes[cls]:
                    raise CacheError("bad object state")
                obj.__dict__.update(state)
            objects.append(obj)
            return obj
        if tag == "@":
            return objects[v[1]]
        if tag == "Z":
            if part is None or len(v) % 2 != 1:
                raise CacheError("bad deferred mapping")
            it = islice(v, 1, None)
            thunks = {}
            for key, index in zip(it, it, strict=True):
                if type(key) is not str or type(index) is not int:
                    raise CacheError("bad deferred mapping")
                thunks[key] = (lambda i=index: part(i))  # type: ignore[misc]
            return Deferred(thunks=thunks)
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
        if tag == "R":  # compiled on first match: most starts match none of them
            pattern, flags = items
            if type(pattern) is not str or type(flags) is not int:
                raise CacheError("bad pattern")
            return LazyPattern(pattern, flags)
        raise CacheError(f"unknown tag {tag!r}")

    return dec


# --- files ---------------------------------------------------------------------------------

_BODY = b',"body":'


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
    # {"format":..,"version":..,"key":..,"digest":..,"body":{...}}: the digest is of the body's
    # bytes as written, so a truncated, hollow or edited body is found before it is decoded.
    at = raw.find(_BODY)
    if at < 0 or not raw.endswith(b"}"):
        raise CacheError("no body")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise CacheError("not JSON") from None
    if not isinstance(doc, dict) or doc.get("key") != key:
        raise CacheError("written for another key")
    if doc.get("digest") != sha256(raw[at + len(_BODY):-1]).hexdigest():
        raise CacheError("the body is not the one written")
    body = doc.get("body")
    if not isinstance(body, dict):
        raise CacheError("no body")
    return decode({"format": doc.get("format"), "version": doc.get("version"), **body})


def _write(path: Path, key: str, value: Any) -> None:
    doc = encode(value)
    body = json.dumps({"classes": doc["classes"], "root": doc["root"], "parts": doc["parts"]},
                      separators=(",", ":"), ensure_ascii=False).encode()
    head = json.dumps({"format": FORMAT, "version": VERSION, "key": key,
                       "digest": sha256(body).hexdigest()}, separators=(",", ":")).encode()
    data = head[:-1] + _BODY + body + b"}"
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
    except Exception:  # absent, foreign or damaged (whatever ``check`` then meets): rebuild
        pass
    value = build()
    # An unwritable or unstorable cache costs speed, never the answer.
    with suppress(OSError, CacheError, ValueError, TypeError):
        _write(path, key, value)
    return value
