"""Distribution kernel releases (rules/kernels.yaml `distributions`): judged as their base.

The verdict cases live in tests/cases/policy/distribution_kernels.yaml and
tests/cases/migrate/distribution_kernels.yaml; this module holds what a case file
cannot say: every scheme's examples resolve through it, a release never gains or
loses a capability against its upstream base, a build entry wins over a scheme,
and distribution kernels cost no classes of their own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seoib.errors import Location
from seoib.query.api import Engine
from seoib.rules.ruleset import RuleSet, load_rules
from seoib.rules.specs import parse_host_spec

KERNEL_BUILD = """\
builds:
  - id: kernel.el9-test-backport
    release: "5.14.0-611.el9.x86_64"
    base: "5.14"
    capabilities: [seoib-enable, seoib-disable]
    description: a RHEL 9 kernel with the SEOIB backport (test fixture)
    source: "test fixture"
"""


def _kernel(rules: RuleSet, text: str):  # type: ignore[no-untyped-def]
    return rules.resolver.host(parse_host_spec(f"kernel={text},qemu=11.0.0", Location("host")))


def test_every_scheme_reads_its_own_examples(rules: RuleSet) -> None:
    schemes = rules.kernels.schemes
    assert [s.change.id.rsplit(".", 1)[-1] for s in schemes][-1] == "local", \
        "the catch-all local scheme is tried last"
    for scheme in schemes:
        assert scheme.examples, scheme.change.id
        for example in scheme.examples:
            res = rules.kernels.resolve(example)
            assert res.scheme is scheme.change, (example, res.scheme)
            assert res.inferred and f"({scheme.change.id.rsplit('.', 1)[-1]}" in res.inferred


def test_the_kernels_fleets_run_are_judged_never_refused(rules: RuleSet) -> None:
    fleet = ["6.8.0-51-generic", "6.1.0-28-amd64", "5.14.0-503.15.1.el9_5.x86_64",
             "6.12.0-55.el10.x86_64", "7.0.3-200.fc43.x86_64", "6.18.44-fc-v1300",
             "6.6.0-1-amd64", "6.4.0-150600.23.30-default", "6.8.12-4-pve"]
    flags = {"seoib-enable", "seoib-disable"}
    for text in fleet:
        host = _kernel(rules, text)
        assert host.inferred, text
        has = flags <= host.capabilities
        assert has == (text in ("7.0.3-200.fc43.x86_64", "6.18.44-fc-v1300")), text
        probed = rules.resolver.host(parse_host_spec(f"kernel={text},x2apic-api=0xf,qemu=11.0.0",
                                                     Location("host")))
        assert flags <= probed.capabilities and not probed.inferred, "a probed mask always wins"


upstream = st.tuples(st.sampled_from(["4.19", "5.10", "5.15", "6.1", "6.6", "6.12", "6.18",
                                      "6.19", "7.0"]), st.integers(0, 300))
suffix = st.from_regex(r"\A-[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,6})?\Z")


@settings(max_examples=200, deadline=None)
@given(upstream, suffix)
def test_a_local_suffix_keeps_its_upstream_capabilities(
        rules: RuleSet, base: tuple[str, int], tail: str) -> None:
    """Distributions add backports, they do not remove upstream features: a suffixed
    release has exactly its upstream release's capabilities, and says it was inferred."""
    release = f"{base[0]}.{base[1]}"
    plain = rules.kernels.resolve(release)
    built = rules.kernels.resolve(release + tail)
    assert built.capabilities == plain.capabilities
    assert built.inferred and "distribution build" in built.inferred


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["5.14", "6.1", "6.8", "6.12", "6.18", "6.19", "7.0"]),
       st.integers(1, 1999), st.sampled_from(["generic", "aws", "lowlatency"]))
def test_a_series_only_name_is_judged_as_the_series(
        rules: RuleSet, series: str, abi: int, flavour: str) -> None:
    """An ABI name (X.Y.0-N-flavour) does not say its stable point: no stable backport of
    the series is assumed, whatever N is."""
    built = rules.kernels.resolve(f"{series}.0-{abi}-{flavour}")
    assert built.capabilities == rules.kernels.resolve(series).capabilities
    assert built.inferred and "names the series, not its stable point" in built.inferred


def test_a_build_entry_wins_over_its_scheme(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "kernels.yaml").write_text(KERNEL_BUILD)
    rs = load_rules([site], use_cache=False)
    host = _kernel(rs, "5.14.0-611.el9.x86_64")
    assert {"seoib-enable", "seoib-disable"} <= host.capabilities and not host.inferred
    other = _kernel(rs, "5.14.0-570.el9.x86_64")
    assert "seoib-enable" not in other.capabilities and other.inferred, \
        "the entry names one build; its neighbours are still read by the scheme"


def test_a_release_no_scheme_reads_is_refused_with_guidance(rules: RuleSet) -> None:
    from seoib.errors import SpecError

    with pytest.raises(SpecError) as info:
        _kernel(rules, "6.1.0rc1")
    assert "distributions:" in str(info.value) and "x2apic-api" in str(info.value)


def test_distribution_kernels_share_their_base_class(rules: RuleSet) -> None:
    """Cost follows classes: nine distribution kernels below the fix are one class."""
    engine = Engine(rules)
    below = ["6.8.0-51-generic", "6.1.0-28-amd64", "5.14.0-503.15.1.el9_5.x86_64",
             "6.12.0-55.el10.x86_64", "6.6.0-1-amd64", "6.4.0-150600.23.30-default",
             "6.8.12-4-pve", "6.12.48+deb13-amd64", "6.17.0"]
    for text in below:
        v = engine.policy(f"kernel={text},qemu=11.0.0,seoib=rfc-v2", "machine=q35,irqchip=split")
        assert v["outcome"] == "storm-risk"
        assert any(r["rule"].startswith("kernel.distribution.") for r in v["reasons"]) == \
            (text != "6.17.0"), "a distribution build cites the scheme that read it"
    assert engine.classes == 1
