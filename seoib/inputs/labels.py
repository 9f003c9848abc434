"""Kubernetes node labels for a probed host: what a scheduler needs to place a VM.

Contract: every key is ``<prefix>/<name>`` and every value is checked against
Kubernetes' rules before it is printed (a name of at most 63 characters matching
``[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?``; a DNS-subdomain prefix of at most
253; a value of at most 63 characters matching
``(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?``). The labels:

- ``x2apic-api``: the probed KVM_CAP_X2APIC_API mask (``0xf``), or ``none``;
- ``kernel.<capability>``: ``true``/``false`` for each kernel capability the rules
  know (kernels.yaml), from the probed mask or the kernel release;
- ``seoib``: the QEMU build's SEOIB design the rules give its version;
- ``qemu``: the QEMU version probed;
- ``kernel-class`` and ``stack-class``: the equivalence classes of seoib/query/classes.py
  the host falls in, named by their representative kernel release (and QEMU release
  and design for a stack).

What cannot be decided (no QEMU found, a release the rules do not know) is the value
``unknown``, with a note saying why.

>>> render_labels({"seoib.dev/seoib": "none"})
'seoib.dev/seoib=none\\n'
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from ..errors import Location, SeoibError
from ..query.classes import kernel_classes
from ..rules.ruleset import RuleSet
from ..rules.specs import parse_host_spec
from .probe_model import ProbeResult

__all__ = ["LABEL_NAME", "LABEL_VALUE", "check_label", "label_value", "probe_labels", "render_labels"]

LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
UNKNOWN = "unknown"


def check_label(key: str, value: str) -> None:
    """ValueError unless ``key=value`` is a valid Kubernetes label."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix)):
        raise ValueError(f"label prefix {prefix!r} is not a DNS subdomain of at most 253 characters")
    if len(name) > 63 or not LABEL_NAME.match(name):
        raise ValueError(f"label name {name!r} is not a Kubernetes qualified name")
    if len(value) > 63 or not LABEL_VALUE.match(value):
        raise ValueError(f"label value {value!r} is not a Kubernetes label value")


def label_value(text: str) -> str:
    """Text made into a label value: other characters become '-', ends trimmed, 63 at most."""
    value = re.sub(r"[^-A-Za-z0-9_.]", "-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)


def _host_spec(result: ProbeResult, rs: RuleSet, notes: list[str]) -> Any:
    data = {k: v for k, v in result.spec.items() if k != "aliases"}
    fallback_qemu = str(next(iter(rs.resolver.qemu.releases.values())).version)
    if "qemu" not in data:
        notes.append("no QEMU probed: seoib, qemu and stack-class are unknown")
        data["qemu"] = fallback_qemu
    spec = parse_host_spec(data, Location("probe"))
    try:
        return rs.resolver.host(spec), "qemu" in result.spec
    except SeoibError as err:
        # The kernel facts do not depend on the QEMU release: resolve them alone.
        notes.append(f"{err.message}: seoib and stack-class are unknown")
        return rs.resolver.host(replace(spec, qemu=fallback_qemu, seoib=None)), False


def probe_labels(result: ProbeResult, rs: RuleSet, *, prefix: str = "seoib.dev"
                 ) -> tuple[dict[str, str], list[str]]:
    """(labels, notes) for a probe result judged by a rule set."""
    notes: list[str] = []
    labels: dict[str, str] = {"x2apic-api": result.spec.get("x2apic-api", "none"),
                              "qemu": label_value(result.spec.get("qemu", UNKNOWN)) or UNKNOWN}
    try:
        host, qemu_known = _host_spec(result, rs, notes)
    except SeoibError as err:
        notes.append(f"the host does not resolve ({err.message}): kernel labels are unknown")
        host, qemu_known = None, False
    for cap_id in sorted(rs.kernels.capabilities):
        labels[f"kernel.{cap_id}"] = (str(cap_id in host.capabilities).lower() if host
                                      else UNKNOWN)
    labels["seoib"] = host.design.id if host and qemu_known else UNKNOWN
    kclass = None
    if host is not None:
        notes.extend(host.inferred)  # a distribution build judged as its upstream base
        facts = tuple(sorted((k, v) for k, v in host.facts.items() if k.startswith("kernel.")))
        kclass = next((k for k in kernel_classes(rs) if k.facts == facts), None)
    labels["kernel-class"] = label_value(kclass.release) if kclass else UNKNOWN
    labels["stack-class"] = (label_value(f"k{kclass.release}_q{host.qemu.version}_{host.design.id}")
                             if kclass and host and qemu_known else UNKNOWN)
    out = {f"{prefix}/{name}": value for name, value in labels.items()}
    for key, value in out.items():
        check_label(key, value)
    return out, notes


def render_labels(labels: dict[str, str]) -> str:
    """One ``key=value`` line per label, sorted (``kubectl label node N $(...)``)."""
    return "".join(f"{k}={v}\n" for k, v in sorted(labels.items()))
