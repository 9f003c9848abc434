"""Pick the VM spec from --vm, --domain-xml or --qemu-cmdline."""

from __future__ import annotations

import argparse

from ..errors import Location, SpecError
from ..record import replace
from ..rules.specs import VMSpec, parse_vm_spec

__all__ = ["vm_spec_from_args"]


def vm_spec_from_args(args: argparse.Namespace) -> VMSpec:
    given = [(opt, getattr(args, attr, None)) for opt, attr in
             (("--vm", "vm"), ("--domain-xml", "domain_xml"), ("--qemu-cmdline", "qemu_cmdline"))]
    given = [(opt, v) for opt, v in given if v is not None]
    if len(given) != 1:
        raise SpecError("give exactly one of --vm, --domain-xml, --qemu-cmdline",
                        Location("command line"))
    option, value = given[0]
    if option == "--vm":
        return parse_vm_spec(value, Location("--vm"))
    if option == "--domain-xml":
        from ..inputs.domain_xml import parse_domain_xml

        parsed = parse_domain_xml(value)
    else:
        from ..inputs.qemu_cmdline import parse_qemu_cmdline, parse_qemu_cmdline_file

        parsed = (parse_qemu_cmdline_file(value[1:]) if value.startswith("@")
                  else parse_qemu_cmdline(value))
    spec = parse_vm_spec(dict(parsed.spec), Location(parsed.source))
    return replace(spec, notes=tuple(parsed.notes), requires=parsed.requires)
