"""Real inputs: libvirt domain XML, QEMU command lines, and a probe of this host."""

from .domain_xml import parse_domain_xml
from .probe import ProbeResult, probe_host
from .qemu_cmdline import parse_qemu_cmdline, parse_qemu_cmdline_file
from .vminput import VM_KEYS, VMInput

__all__ = [
    "VM_KEYS",
    "ProbeResult",
    "VMInput",
    "parse_domain_xml",
    "parse_qemu_cmdline",
    "parse_qemu_cmdline_file",
    "probe_host",
]
