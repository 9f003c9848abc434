"""Kernel releases, backports and builds are YAML edits, never code changes."""

from __future__ import annotations

import shutil
from pathlib import Path

from seoib.errors import Location
from seoib.paths import builtin_rules_dir
from seoib.query.verdicts import policy_verdict
from seoib.rules.ruleset import load_rules
from seoib.rules.specs import parse_host_spec, parse_vm_spec

BACKPORT = """
  - id: kernel.seoib-flags-6.12.80
    series: "6.12"
    since: "6.12.80"
    capabilities: [seoib-enable, seoib-disable]
    description: a hypothetical 6.12.y backport of the SEOIB flags
    source: "test fixture"
"""


def _policy(root: Path, kernel: str) -> str:
    rs = load_rules(root, use_cache=False)
    host = rs.resolver.host(parse_host_spec(f"kernel={kernel},qemu=11.0.0,seoib=rfc-v2",
                                            Location("host")))
    vm = rs.resolver.vm(parse_vm_spec("machine=pc-q35-11.0,irqchip=split", Location("vm")), host)
    return policy_verdict(rs, host, vm)["policy"]


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "rules"
    shutil.copytree(builtin_rules_dir(), root)
    return root


def test_a_stable_backport_is_a_yaml_edit(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    assert _policy(root, "6.12.80") == "quirked"
    kernels = root / "kernels.yaml"
    kernels.write_text(kernels.read_text().replace("\nbackports:\n", "\nbackports:" + BACKPORT, 1))
    assert _policy(root, "6.12.80") == "respected"
    assert _policy(root, "6.12.79") == "quirked", "the release before the backport is unchanged"
    assert _policy(root, "6.13.2") == "quirked", "a backport does not flow into later mainline"


def test_a_new_mainline_release_is_a_yaml_edit(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    kernels = root / "kernels.yaml"
    kernels.write_text(kernels.read_text().replace('"6.19", "7.0"]', '"6.19", "7.0", "7.1"]', 1))
    assert _policy(root, "7.1.4") == "respected", "7.1 inherits the flags from 7.0"


def test_a_distribution_build_is_a_yaml_edit(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    kernels = root / "kernels.yaml"
    build = ('builds:\n  - {id: kernel.el9-test, release: "5.14.0-611.el9", base: "5.14", '
             'capabilities: [seoib-enable, seoib-disable], description: vendor backport, '
             'source: "test fixture"}\n')
    kernels.write_text(kernels.read_text().replace("builds: []\n", build, 1))
    assert _policy(root, "5.14.0-611.el9") == "respected"
