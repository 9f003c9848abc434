"""The compiled-rules cache holds data only: what it reads can never run code.

A planted pickle, garbage, a truncated entry or a cache naming a foreign
callable is ignored and rebuilt, and the verdict stays right.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from seoib.paths import builtin_rules_dir
from seoib.rules import rulecache
from seoib.rules.loader import rules_digest
from seoib.rules.ruleset import RuleSet, compile_rules

POLICY = ["policy", "--host", "kernel=6.18.16,qemu=11.0.0,seoib=rfc-v2",
          "--vm", "machine=pc-q35-11.0,irqchip=split,guest=windows-hyperv", "--format", "json"]


class _Planted:
    """Unpickling this runs a shell command that leaves a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def _seoib(cache_home: Path, *args: str, no_cache: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    env.pop("SEOIB_NO_CACHE", None)
    if no_cache:
        env["SEOIB_NO_CACHE"] = "1"
    return subprocess.run([sys.executable, "-m", "seoib", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def _plant(path: Path, key: str, body: dict) -> None:
    """An entry in the cache's own layout with a correct body digest: only what the body
    names can make the reader refuse it."""
    from seoib.digests import sha256

    raw = json.dumps(body, separators=(",", ":")).encode()
    head = json.dumps({"format": rulecache.FORMAT, "version": rulecache.VERSION, "key": key,
                       "digest": sha256(raw).hexdigest()}, separators=(",", ":")).encode()
    path.write_bytes(head[:-1] + b',"body":' + raw + b"}")


def _builtin_key() -> str:
    rulecache._code_digest_memo.clear()  # as a fresh process computes it
    root = builtin_rules_dir()
    return rulecache.cache_key(rules_digest(root), [root])


def test_planted_pickle_and_garbage_run_nothing_and_the_verdict_is_right(tmp_path: Path) -> None:
    home = tmp_path / "cache"
    folder = home / "seoib-engine"
    folder.mkdir(parents=True, mode=0o700)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Planted(marker))
    entry = folder / rulecache.cache_path(_builtin_key()).name
    entry.write_bytes(payload)  # at the exact name the engine reads
    (folder / "rules-0123456789abcdef-0123456789abcdef0123456789abcdef.pickle").write_bytes(payload)
    expected = _seoib(tmp_path / "fresh", *POLICY, no_cache=True)

    first = _seoib(home, *POLICY)
    assert not marker.exists()
    assert (first.returncode, first.stdout) == (expected.returncode, expected.stdout)
    assert json.loads(entry.read_text())["format"] == rulecache.FORMAT  # rebuilt as data
    assert not list(folder.glob("*.pickle"))

    entry.write_bytes(b"\x00\xff garbage {[")
    second = _seoib(home, *POLICY)
    assert (second.returncode, second.stdout) == (expected.returncode, expected.stdout)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncated", "foreign-class", "wrong-key", "builtin-callable",
                                    "main-module", "edited-body", "hollow-record", "hollow-object",
                                    "null-fields"])
def test_a_damaged_or_foreign_entry_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               damage: str) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("SEOIB_NO_CACHE", raising=False)
    root = builtin_rules_dir()
    digest = rules_digest(root)
    key = rulecache.cache_key(digest, [root])
    built = rulecache.cached(key, lambda: compile_rules([root], digest))
    path = rulecache.cache_path(key)
    text = path.read_text()
    doc = json.loads(text)
    body = doc["body"]
    ruleset = ["seoib.rules.ruleset", "RuleSet", list(RuleSet.__record_fields__)]
    if damage == "truncated":
        path.write_text(text[: len(text) // 2])
    elif damage == "edited-body":  # one value changed by hand: the digest no longer holds
        path.write_text(text.replace('"storm-risk"', '"ok"', 1))
    elif damage == "wrong-key":
        doc["key"] = "0" * 64
        path.write_text(json.dumps(doc))
    else:  # well-formed entries with a correct digest: what they name must refuse them
        if damage == "foreign-class":
            body["classes"][0][:2] = ["os", "system"]
        elif damage == "builtin-callable":
            body["classes"][0][:2] = ["seoib.rules.rulecache", "import_module"]
        elif damage == "main-module":
            body["classes"][0][:2] = ["seoib.__main__", "main"]
        elif damage == "hollow-record":  # a RuleSet with no fields at all
            body = {"classes": [[*ruleset[:2], None]], "root": ["O", 0, ["D"]]}
        elif damage == "hollow-object":  # a resolver without its attributes
            body = {"classes": [["seoib.rules.resolve", "Resolver", None]], "root": ["O", 0, ["D"]]}
        else:  # every field present, every value null
            body = {"classes": [ruleset], "root": ["O", 0, *[None] * len(ruleset[2])]}
        _plant(path, key, body)
    calls = []

    def build() -> RuleSet:
        calls.append(1)
        return compile_rules([root], digest)

    # The check load_rules makes: a rule set, and the one of these rules.
    again = rulecache.cached(key, build, check=lambda rs: isinstance(rs, RuleSet) and rs.digest == digest)
    assert calls == [1]
    assert again.digest == built.digest
    assert json.loads(path.read_text())["key"] == key  # the damaged entry was replaced


def test_a_round_trip_keeps_every_verdict_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    root = builtin_rules_dir()
    digest = rules_digest(root)
    compiled = compile_rules([root], digest)
    back = rulecache.decode(json.loads(json.dumps(rulecache.encode(compiled))))
    assert back.queries == compiled.queries
    assert back.facts == compiled.facts
    assert back.severities == compiled.severities
    assert back.resolver.designs == compiled.resolver.designs
    assert back.resolver.guests == compiled.resolver.guests


def test_the_key_names_the_rules_location(tmp_path: Path) -> None:
    copy = tmp_path / "rules"
    shutil.copytree(builtin_rules_dir(), copy)
    digest = rules_digest(copy)
    assert digest == rules_digest(builtin_rules_dir())
    # Same bytes elsewhere: another entry, so errors never name the other copy's files.
    assert rulecache.cache_key(digest, [copy]) != _builtin_key()
    assert rulecache.cache_key(digest, [copy, tmp_path]) != rulecache.cache_key(digest, [copy])


def test_the_cache_stays_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("SEOIB_NO_CACHE", raising=False)
    for i in range(rulecache.MAX_ENTRIES + 5):
        rulecache.cached(hashlib.sha256(bytes([i])).hexdigest(), lambda i=i: {"n": i})
    entries = list((tmp_path / "seoib-engine").glob("rules-*.json"))
    assert len(entries) == rulecache.MAX_ENTRIES
    assert not list((tmp_path / "seoib-engine").glob(".rules-*"))


def test_a_file_others_can_write_is_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("SEOIB_NO_CACHE", raising=False)
    rulecache.cached("a" * 64, lambda: {"n": 1})
    path = rulecache.cache_path("a" * 64)
    _plant(path, "a" * 64, {"classes": [], "root": ["D", "n", 2]})
    path.chmod(0o666)
    assert rulecache.cached("a" * 64, lambda: {"n": 3}) == {"n": 3}


def test_messages_name_this_copy_of_the_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from seoib.rules.ruleset import load_rules

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SEOIB_NO_CACHE", raising=False)
    first, second = tmp_path / "a" / "rules", tmp_path / "b" / "rules"
    shutil.copytree(builtin_rules_dir(), first)
    shutil.copytree(builtin_rules_dir(), second)
    load_rules(first)  # compiled and cached with first's paths
    rs = load_rules(second)
    # Every file:line a message or a citation can name comes from the entries' locations.
    where = str(rs.resolver.machines.all_families["pc-q35"].location)
    assert where.startswith(str(second / "machines.yaml"))
    assert str(first) not in where


@pytest.mark.parametrize("module, name", [
    ("seoib.plan.checker", "CheckReport"),  # the engine's own, but not a rule set's
    ("seoib.sim.config", "SimHost"),
    ("seoib.query.classes", "KernelClass"),  # a phase package's, but no part of a rule set
    ("seoib.rules.nosuch", "Rule"),
    ("seoib.__main__", "main"),  # importing it would run the command line
    ("seoib.cli", "main"),
    ("seoib.rules.rulecache", "CacheError"),
    ("builtins", "eval"),
])
def test_only_the_allowed_classes_are_decoded_and_nothing_else_is_imported(
        module: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "seoib.__main__", raising=False)
    for fields in (None, []):
        doc = {"format": rulecache.FORMAT, "version": rulecache.VERSION,
               "classes": [[module, name, fields]], "root": ["O", 0, ["D"]]}
        with pytest.raises(rulecache.CacheError):
            rulecache.decode(doc)
    assert "seoib.__main__" not in sys.modules


def test_the_allow_list_is_exactly_what_a_rule_set_is_made_of() -> None:
    compiled = compile_rules([builtin_rules_dir()], rules_digest(builtin_rules_dir()))
    doc = rulecache.encode(compiled)  # CacheError if it held a class the list lacks
    assert {(m, n) for m, n, _ in doc["classes"]} == set(rulecache.ALLOWED)


def test_an_object_must_carry_exactly_its_fields() -> None:
    from seoib.errors import Location

    good = ["seoib.errors", "Location", ["source", "line"]]
    for classes, root in (([good], ["O", 0, "x.yaml"]),                      # one field short
                          ([["seoib.errors", "Location", ["line", "source"]]], ["O", 0, 1, "x"]),
                          ([["seoib.errors", "Location", None]], ["O", 0, ["D", "source", "x"]])):
        with pytest.raises(rulecache.CacheError):
            rulecache.decode({"format": rulecache.FORMAT, "version": rulecache.VERSION,
                              "classes": classes, "root": root})
    assert rulecache.decode({"format": rulecache.FORMAT, "version": rulecache.VERSION,
                             "classes": [good], "root": ["O", 0, "x.yaml", 3]}) == Location("x.yaml", 3)


def test_the_code_digest_follows_the_phase_folders(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for rel in ("errors.py", "rules/loader.py", "query/api.py", "plan/checker.py"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text("")
    monkeypatch.setattr(rulecache, "_PKG_DIR", str(tmp_path))
    monkeypatch.setattr(rulecache, "_code_digest_memo", [])

    def digest() -> str:
        rulecache._code_digest_memo.clear()
        return rulecache.code_digest()

    before = digest()
    (tmp_path / "plan" / "checker.py").write_text("x = 1\n")
    assert digest() == before  # a package built on the query phase is not the cache's code
    for new in ("rules/newly_added.py", "query/sub/deeper.py", "paths.py"):
        (tmp_path / new).parent.mkdir(exist_ok=True)
        (tmp_path / new).write_text("")
        assert digest() != before, new
        before = digest()


def test_equal_frozen_values_are_stored_once_and_mutable_ones_apart() -> None:
    from seoib.errors import Location
    from seoib.rules.language import Condition

    a, b = Condition("vm.irqchip", frozenset({"split"})), Condition("vm.irqchip", frozenset({"split"}))
    doc = rulecache.encode([a, b, Location("x.yaml", 3), [1], [1]])
    assert json.dumps(doc["root"]).count('"O"') == 2  # one condition, one location
    back = rulecache.decode(json.loads(json.dumps(doc)))
    assert back == [a, a, Location("x.yaml", 3), [1], [1]]
    assert back[0] is back[1] and back[3] is not back[4]
    compiled = compile_rules([builtin_rules_dir()], rules_digest(builtin_rules_dir()))
    stored = rulecache.decode(json.loads(json.dumps(rulecache.encode(compiled))))
    assert stored.queries == compiled.queries
    assert stored.resolver.qemu.releases == compiled.resolver.qemu.releases


def test_the_digest_is_sha256_whichever_module_computes_it() -> None:
    from seoib.digests import sha256

    data = b"kernels.yaml\0" * 1000
    assert sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
    h = sha256()
    h.update(data[:7])
    h.update(data[7:])
    assert h.hexdigest() == hashlib.sha256(data).hexdigest()


def test_a_query_is_decoded_when_first_asked() -> None:
    from seoib.rules.deferred import Deferred

    compiled = compile_rules([builtin_rules_dir()], rules_digest(builtin_rules_dir()))
    doc = json.loads(json.dumps(rulecache.encode(compiled)))
    assert len(doc["parts"]) == len(compiled.queries)  # one part per compiled query
    back = rulecache.decode(doc)
    assert isinstance(back.queries, Deferred)
    assert list(back.queries) == list(compiled.queries)
    assert back.queries._values == {}  # nothing decoded before it is asked for
    policy = back.queries["policy"]
    assert policy == compiled.queries["policy"]
    assert set(back.queries._values) == {"policy"}
    assert back.queries == compiled.queries


def test_a_part_that_does_not_decode_is_compiled_afresh_never_half_read(tmp_path: Path) -> None:
    from seoib.rules.deferred import PartError

    compiled = compile_rules([builtin_rules_dir()], rules_digest(builtin_rules_dir()))
    doc = json.loads(json.dumps(rulecache.encode(compiled)))
    doc["parts"][1] = json.dumps(["O", 10_000])  # no such class
    names = list(compiled.queries)
    z = doc["root"][2 + rulecache._field_names(RuleSet).index("queries")]
    assert z[0] == "Z" and z[1::2] == names
    z[2 * names.index(names[2]) + 2] = -1  # points at another query's part
    back = rulecache.decode(doc)
    for name in (names[1], names[2]):
        with pytest.raises(PartError):
            back.queries[name]
    back.queries.rebuild = lambda: compiled.queries
    assert back.queries[name] is compiled.queries[name]
    assert back.queries["policy"] is compiled.queries["policy"]  # every value from one source


def test_stored_patterns_compile_on_first_match_and_equal_the_compiled_ones() -> None:
    import re

    from seoib.rules.lazypattern import LazyPattern

    compiled = compile_rules([builtin_rules_dir()], rules_digest(builtin_rules_dir()))
    back = rulecache.decode(json.loads(json.dumps(rulecache.encode(compiled))))
    schemes, fresh = back.resolver.kernels.schemes, compiled.resolver.kernels.schemes
    assert schemes and all(type(s.pattern) is LazyPattern for s in schemes)
    assert all(s.pattern._compiled is None for s in schemes)  # none compiled by reading
    assert schemes == fresh
    for old, new in zip(fresh, schemes, strict=True):
        for example in old.examples:
            assert new.pattern.fullmatch(example).groupdict() == old.pattern.fullmatch(example).groupdict()
    assert LazyPattern("a+", re.ASCII) != re.compile("a+")  # flags count, as for re.Pattern


def test_a_start_whose_query_part_is_damaged_answers_from_the_rules_compiled_afresh(
        tmp_path: Path) -> None:
    home = tmp_path / "cache"
    assert _seoib(home, *POLICY).returncode == 2  # writes the entry
    path = next((home / "seoib-engine").glob("rules-*.json"))
    doc = json.loads(path.read_text())
    body = doc["body"]
    body["parts"] = [json.dumps(["O", 10_000])] * len(body["parts"])  # no such class, digest right
    _plant(path, doc["key"], body)
    damaged, fresh = _seoib(home, *POLICY), _seoib(tmp_path / "fresh", *POLICY, no_cache=True)
    assert damaged.returncode == fresh.returncode == 2, damaged.stderr
    assert json.loads(damaged.stdout) == json.loads(fresh.stdout)
    assert damaged.stderr == ""
