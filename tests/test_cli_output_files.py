"""`--out FILE` (graph, plan): whole or not at all, the mode a plain write gives, and only
a regular file is ever replaced; nothing beside it is touched.

The JSON readers refuse what json.loads lets through (a key given twice), and an empty
path is refused everywhere instead of meaning the current directory.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seoib.cli import main
from seoib.errors import BadInput, Location
from seoib.files import loads_json, read_limited, replace_file, run_id


@pytest.fixture
def umask_022() -> object:
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_honours_the_umask(tmp_path: Path, umask_022: object) -> None:
    replace_file(tmp_path / "a.json", b"{}\n")
    assert _mode(tmp_path / "a.json") == 0o644
    os.umask(0o077)
    replace_file(tmp_path / "b.json", b"{}\n")
    assert _mode(tmp_path / "b.json") == 0o600


def test_a_replaced_file_keeps_its_own_mode(tmp_path: Path, umask_022: object) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("old\n")
    path.chmod(0o640)
    replace_file(path, b"new\n")
    assert (path.read_text(), _mode(path)) == ("new\n", 0o640)


def test_graph_out_is_0644_under_umask_022(tmp_path: Path, umask_022: object,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pools.dot"
    assert main(["graph", "--out", str(out)]) == 0
    assert _mode(out) == 0o644 and out.read_text().startswith("digraph")
    assert {p.name for p in tmp_path.iterdir()} == {"pools.dot"}


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_a_target_that_is_not_a_regular_file_is_refused_before_the_work(
        kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if kind == "fifo":
        target = tmp_path / "pipe"
        os.mkfifo(target)
    elif kind == "directory":
        target = tmp_path / "folder"
        target.mkdir()
    else:
        target = Path("/dev/null")
    before = os.stat(target)
    assert main(["graph", "--out", str(target)]) == 3
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and str(target) in err
    after = os.stat(target)
    assert (stat.S_IFMT(after.st_mode), after.st_ino) == (stat.S_IFMT(before.st_mode), before.st_ino)


def test_a_symbolic_link_is_followed_and_stays(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old\n")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    replace_file(link, b"new\n")
    assert link.is_symlink() and real.read_text() == "new\n"


def test_a_failed_write_removes_only_its_own_temporary(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / ".out.json.12345-deadbeef.tmp"  # another run's, or a user's
    other.write_text("theirs\n")

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(BadInput, match="No space left on device"):
        replace_file(tmp_path / "out.json", b"{}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name]
    assert not (tmp_path / f".out.json.{run_id()}.tmp").exists()


@pytest.mark.parametrize("argv", [
    ["graph", "--out", ""],
    ["policy", "--rules", "", "--host", "kernel=7.0.3,qemu=11.0.0", "--vm", "machine=q35"],
    ["rules", "validate", ""],
    ["policy", "--host", "@", "--vm", "machine=q35"],
    ["policy", "--host", "kernel=7.0.3,qemu=11.0.0", "--domain-xml", ""],
    ["check", ""],
    ["policy", "--batch", ""],
    ["simulate", ""],
    ["designs", ""],
])
def test_an_empty_path_is_refused_everywhere(argv: list[str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # an empty path must not quietly mean this directory
    assert main(argv) == 3
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert "empty path" in err or "@ needs a file name" in err, err
    assert list(tmp_path.iterdir()) == []


def test_read_limited_refuses_an_empty_name() -> None:
    with pytest.raises(BadInput, match="empty path"):
        read_limited("")


@pytest.mark.parametrize("text, line", [
    ('{"kernel": "7.0.3", "kernel": "6.1"}', 1),
    ('{\n  "kernel": "7.0.3",\n  "qemu": "11.0.0",\n  "kernel": "6.1"\n}', 4),
    ('{"src": {"kernel": "7.0"}, "dst": {"kernel": "7.0", "qemu": "1", "qemu": "2"}}', 1),
    ('[{"a": 1}, {"a": 2, "b": {"c": 1,\n "c": 2}}]', 2),
    ('{"k\\u0065y": 1, "key": 2}', 1),  # equal once decoded
])
def test_a_key_given_twice_is_refused_with_its_line(text: str, line: int) -> None:
    with pytest.raises(BadInput, match="given twice") as info:
        loads_json(text, Location("h.json"))
    assert info.value.location == Location("h.json", line)


def test_the_same_key_in_sibling_objects_is_fine() -> None:
    doc = '{"src": {"kernel": "7.0", "qemu": "11.0"}, "dst": {"kernel": "7.0", "qemu": "11.0"}}'
    assert loads_json(doc, Location("x"))["dst"] == {"kernel": "7.0", "qemu": "11.0"}


def test_a_batch_line_number_carries_into_the_location() -> None:
    with pytest.raises(BadInput) as info:
        loads_json('{"a": 1, "a": 2}', Location("moves.jsonl", 7))
    assert info.value.location == Location("moves.jsonl", 7)


# --- the JSON reader, property-tested ---------------------------------------------------------

_KEYS = st.text(alphabet="abk\"\\é\n", min_size=1, max_size=4)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=5) | st.just([])
    | st.just({}),
    lambda inner: st.lists(inner, min_size=1, max_size=3)
    | st.dictionaries(_KEYS, inner, min_size=1, max_size=3),
    max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(_JSON, st.integers(0, 4))
def test_any_json_a_user_writes_reads_back_as_written(doc: object, indent: int) -> None:
    import json

    assert loads_json(json.dumps(doc, indent=indent or None), Location("x.json")) == doc


def _with_duplicate(doc: dict, key: str) -> tuple[str, int]:
    """``doc`` as indented JSON with ``key`` written a second time at its end, and that line."""
    import json

    lines = json.dumps(doc, indent=1).splitlines() if doc else ["{"]
    if doc:
        lines[-2] += ","
        lines.pop()  # the closing brace
    lines.append(f" {json.dumps(key)}: 0")
    lines.append("}")
    return "\n".join(lines), len(lines) - 1


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_KEYS, _JSON, min_size=1, max_size=4), st.data())
def test_a_key_written_twice_is_refused_at_the_second(doc: dict, data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(doc)))
    text, line = _with_duplicate(doc, key)
    with pytest.raises(BadInput, match="given twice") as info:
        loads_json(text, Location("x.json"))
    assert info.value.location == Location("x.json", line)
