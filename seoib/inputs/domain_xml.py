"""Read the SEOIB-relevant settings out of a libvirt domain XML.

The XML is user input from other tools (virsh dumpxml, Nova, KubeVirt), so it is
parsed with defusedxml: DTDs, entity declarations and external references are refused
before anything is expanded. Only what the XML really determines goes into the spec;
hints (OS metadata, Hyper-V enlightenments, nested virtualization) become notes.

What libvirt itself decides is applied as libvirt applies it: a domain without a
machine type gets the x86 default ``pc``; ``<domain type='qemu'>`` is TCG; a q35
domain with more than 255 vCPUs and an intel IOMMU with ``eim='on'`` gets
``<ioapic driver='qemu'/>`` (split irqchip) added at define time. What libvirt refuses
to define is refused here with libvirt's words (``virDomainDefIOMMUValidate``:
interrupt remapping without ``<ioapic driver='qemu'/>``, ``eim`` without interrupt
remapping); an intel IOMMU on a board that does not take one (QEMU refuses the
``-device intel-iommu`` libvirt would pass) goes to the resolver as a requirement.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from urllib.parse import urlparse
from xml.parsers import expat

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from ..errors import BadInput, Location
from ..files import read_limited
from .qemu_cmdline import parse_qemu_args, requirements, resolve
from .vminput import Requirement, VMInput

__all__ = ["MAX_BYTES", "parse_domain_xml"]

MAX_BYTES = 4 * 1024 * 1024
QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
OSINFO_NS = "http://libosinfo.org/xmlns/libvirt/domain/1.0"
_X86_ARCHES = ("x86_64", "i686")

# libvirt's and QEMU's x86 machine type when none is given (an alias).
DEFAULT_MACHINE = "pc"
# More vCPUs than an xAPIC id can address need x2APIC ids, hence EIM and split irqchip.
_XAPIC_MAX_VCPUS = 255

# Windows releases that turn virtualization-based security (VBS: Credential Guard, HVCI)
# on by default where the hardware meets its requirements - Windows 11 from 22H2 and
# Windows Server 2025 (Microsoft Learn, "Configure Credential Guard", default enablement)
# - or that are built to run it (Windows Server 2022, a Secured-core server): libosinfo
# ids microsoft.com/win/<client> from 11 and /win/2k<year> from 22 on. VBS runs the
# Hyper-V hypervisor inside the guest, which needs VT-x/AMD-V exposed to it.
_VBS_CLIENT_FROM = 11
_VBS_SERVER_FROM = 22
_VBS_SOURCE = ("Microsoft Learn \"Configure Credential Guard\": VBS and Credential Guard on by "
               "default from Windows 11 22H2 and Windows Server 2025 on capable hardware")
_WINDOWS_ID = re.compile(r"^/win/(?:(?P<client>[0-9]{1,4})(?:\.[0-9]+)?|2k(?P<server>[0-9]{2}))$")

# libosinfo os ids are URLs named after the vendor; these vendors ship Linux only.
_LINUX_OSINFO_HOSTS = frozenset(
    [
        "ubuntu.com",
        "debian.org",
        "fedoraproject.org",
        "redhat.com",
        "centos.org",
        "almalinux.org",
        "rockylinux.org",
        "opensuse.org",
        "suse.com",
        "novell.com",
        "archlinux.org",
        "alpinelinux.org",
        "gentoo.org",
        "oracle.com",
        "libosinfo.org",
        "mageia.org",
        "slackware.com",
        "voidlinux.org",
        "nixos.org",
        "clearlinux.org",
        "linuxmint.com",
        "kali.org",
        "manjaro.org",
        "endlessos.com",
        "amazon.com",
    ]
)


class _Lines(ET.TreeBuilder):
    """A tree builder that remembers the line each element starts on."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[int, int] = {}
        self.expat: expat.XMLParserType | None = None

    def start(self, tag, attrs):  # type: ignore[no-untyped-def]
        elem = super().start(tag, attrs)
        if self.expat is not None:
            self.lines[id(elem)] = self.expat.CurrentLineNumber
        return elem


def _load(path: str) -> tuple[ET.Element, dict[int, int]]:
    data = read_limited(path, MAX_BYTES)
    builder = _Lines()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    builder.expat = parser.parser
    try:
        parser.feed(data)
        root = parser.close()
    except DefusedXmlException as err:
        line = parser.parser.CurrentLineNumber
        kind = type(err).__name__
        why = {
            "DTDForbidden": "a DTD (<!DOCTYPE>) is refused",
            "EntitiesForbidden": "entity declarations are refused (entity expansion)",
            "ExternalReferenceForbidden": "external references are refused",
        }.get(kind, f"refused ({kind})")
        raise BadInput(f"unsafe XML: {why}", Location(path, line or None)) from None
    except ET.ParseError as err:
        line, _col = err.position
        reason = expat.ErrorString(err.code) if err.code else str(err)
        raise BadInput(f"malformed XML: {reason}", Location(path, line or None)) from None
    except (LookupError, UnicodeError) as err:  # an encoding= Python has no codec for
        line = parser.parser.CurrentLineNumber
        raise BadInput(f"unreadable XML encoding: {_first_line(str(err))}",
                       Location(path, line or None)) from None
    return root, builder.lines


def _first_line(text: str) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= 120 else line[:120] + "..."


class _Reader:
    def __init__(self, path: str, root: ET.Element, lines: dict[int, int]) -> None:
        self.path = path
        self.root = root
        self.lines = lines
        self.spec: dict[str, str] = {}
        self.notes: list[str] = []
        self.requires: list[Requirement] = []
        self.ioapic_qemu = False  # <ioapic driver='qemu'/>, written or added by libvirt

    def at(self, elem: ET.Element | None) -> Location:
        return Location(self.path, self.lines.get(id(elem)) if elem is not None else None)

    def line(self, elem: ET.Element) -> str:
        n = self.lines.get(id(elem))
        return f" (line {n})" if n else ""

    def read(self) -> VMInput:
        root = self.root
        if root.tag != "domain":
            raise BadInput(f"not a libvirt domain XML (root element <{_local(root.tag)}>)", self.at(root))
        accel = self.domain_type()
        self.os()
        self.eim_autoadd()  # before features(): what libvirt adds is there when it checks
        self.features()
        self.iommu()
        self.cpu()
        self.guest()
        self.commandline(accel)
        return VMInput(spec=dict(self.spec), notes=tuple(self.notes), source=self.path,
                       requires=tuple(self.requires))

    def domain_type(self) -> str:
        dtype = self.root.get("type", "")
        if dtype == "kvm":
            return "kvm"
        if dtype == "qemu":
            self.spec["irqchip"] = "off"
            self.notes.append(
                "domain type 'qemu' is TCG emulation: no KVM LAPIC, so SEOIB does not apply (irqchip=off)"
            )
            return "tcg"
        raise BadInput(
            f"libvirt domain type {dtype!r} is not QEMU/KVM: nothing to analyse", self.at(self.root)
        )

    def os(self) -> None:
        otype = self.root.find("os/type")
        if otype is None:
            self.default_machine("no <os><type>")
            return
        arch = otype.get("arch")
        if arch and arch not in _X86_ARCHES:
            raise BadInput(
                f"<os><type arch={arch!r}>: not an x86 guest; SEOIB concerns x86 only",
                self.at(otype),
            )
        machine = otype.get("machine")
        if machine:
            self.spec["machine"] = machine  # aliases stay as given; resolved elsewhere
        else:
            self.default_machine(f"no machine= on <os><type>{self.line(otype)}")

    def default_machine(self, why: str) -> None:
        self.spec["machine"] = DEFAULT_MACHINE
        self.notes.append(f"{why}: libvirt's x86 default machine type {DEFAULT_MACHINE!r} "
                          "(the alias, resolved on the host's QEMU)")

    def eim_autoadd(self) -> None:
        """libvirt's define-time additions for a q35 domain with more than 255 vCPUs.

        Such a guest needs x2APIC ids, hence an intel IOMMU with intremap and EIM, hence
        split irqchip: libvirt adds <ioapic driver='qemu'/> and, where there is none or
        it says nothing, the IOMMU (its tests intel-iommu-eim-autoadd*).
        """
        feats = self.root.find("features")
        if feats is not None and feats.find("ioapic") is not None:
            return
        machine = self.spec.get("machine", "")
        if not (machine == "q35" or machine.startswith("pc-q35")):
            return
        vcpu = self.root.find("vcpu")
        try:
            count = int((vcpu.text or "").strip()) if vcpu is not None else 1
        except ValueError:
            return
        iommus = self.root.findall("devices/iommu")
        driver = iommus[0].find("driver") if iommus else None
        if count <= _XAPIC_MAX_VCPUS or (iommus and iommus[0].get("model") != "intel"):
            return
        if driver is not None and "off" in (driver.get("eim"), driver.get("intremap")):
            return
        where = self.line(iommus[0]) if iommus else ""
        self.spec["irqchip"] = "split"
        self.ioapic_qemu = True
        self.notes.append(
            f"{count} vCPUs on q35 with {'an' if iommus else 'no'} intel IOMMU{where}: libvirt "
            "adds intremap/eim and <ioapic driver='qemu'/> when it defines the domain, so "
            "kernel-irqchip=split (the XML as written would say otherwise)")

    def features(self) -> None:
        feats = self.root.find("features")
        ioapic = feats.find("ioapic") if feats is not None else None
        if ioapic is not None:
            driver = ioapic.get("driver")
            mapping = {"qemu": "split", "kvm": "on"}
            if driver not in mapping:
                raise BadInput(
                    f"<ioapic driver={driver!r}>: libvirt accepts only 'qemu' or 'kvm'",
                    self.at(ioapic),
                )
            self.spec["irqchip"] = mapping[driver]
            self.ioapic_qemu = driver == "qemu"
            self.notes.append(
                f"<ioapic driver='{driver}'>{self.line(ioapic)}: kernel-irqchip={mapping[driver]}"
            )
        if feats is None or feats.find("apic") is None:
            self.notes.append(
                "no <features><apic/>: noted only; the VM spec has no APIC switch and the "
                "analysis assumes a LAPIC"
            )
        self.hyperv_hints(feats)

    def iommu(self) -> None:
        """libvirt's own checks of an <iommu> (virDomainDefIOMMUValidate), then QEMU's."""
        for iommu in self.root.findall("devices/iommu"):
            driver = iommu.find("driver")
            intremap = driver.get("intremap") if driver is not None else None
            if intremap == "on" and not self.ioapic_qemu:
                raise BadInput("libvirt refuses this domain: \"IOMMU interrupt remapping requires "
                               "split I/O APIC (ioapic driver='qemu')\"", self.at(driver))
            if driver is not None and driver.get("eim") == "on" and intremap != "on":
                raise BadInput("libvirt refuses this domain: \"IOMMU eim requires interrupt "
                               "remapping to be enabled\"", self.at(driver))
            if iommu.get("model") == "intel":
                self.requires.append((
                    "device", ("intel-iommu",), "<iommu model='intel'>: libvirt "
                    "starts QEMU with -device intel-iommu, which QEMU refuses on this machine: "
                    "\"Parameter 'driver' expects a dynamic sysbus device type for the machine\"",
                    self.at(iommu)))

    def hyperv_hints(self, feats: ET.Element | None) -> None:
        """Hyper-V enlightenments in <features>, <clock> or <panic> hint at a Windows guest."""
        found = []
        hyperv = feats.find("hyperv") if feats is not None else None
        # An element whose every feature is state='off' (libvirt's hyperv-off) enables nothing.
        if hyperv is not None and (hyperv.get("mode") == "passthrough" or any(
                f.get("state", "on") != "off" for f in hyperv)):
            found.append(f"<features><hyperv>{self.line(hyperv)}")
        for timer in self.root.findall("clock/timer[@name='hypervclock']"):
            if timer.get("present", "yes") != "no":
                found.append(f"<timer name='hypervclock'>{self.line(timer)}")
        for panic in self.root.findall("devices/panic[@model='hyperv']"):
            found.append(f"<panic model='hyperv'>{self.line(panic)}")
        if found:
            self.notes.append(
                f"Hyper-V enlightenments ({', '.join(found)}) suggest a Windows guest but do not "
                "mean it runs the Hyper-V role"
            )

    def cpu(self) -> None:
        cpu = self.root.find("cpu")
        if cpu is None:
            return
        for feat in cpu.findall("feature"):
            name = feat.get("name")
            # libvirt's default policy is 'require'; disable/forbid become "<feat>=off".
            policy = feat.get("policy", "require")
            if name == "x2apic":
                if policy in ("disable", "forbid"):
                    self.spec["x2apic"] = "off"
                elif policy in ("require", "force"):
                    self.spec["x2apic"] = "on"
                else:
                    self.notes.append(
                        f"<feature policy='{policy}' name='x2apic'>{self.line(feat)}: "
                        "depends on the host CPU; x2apic left to the default"
                    )

    def nested(self) -> ET.Element | None:
        cpu = self.root.find("cpu")
        if cpu is None:
            return None
        for feat in cpu.findall("feature"):
            if feat.get("name") in ("vmx", "svm") and feat.get("policy", "require") in (
                "require",
                "force",
            ):
                return feat
        return None

    def guest(self) -> None:
        os_elem = self.root.find(f"metadata/{{{OSINFO_NS}}}libosinfo/{{{OSINFO_NS}}}os")
        if os_elem is None:
            self.notes.append("no libosinfo OS metadata: guest left unset (worst case)")
            return
        os_id = os_elem.get("id", "")
        url = urlparse(os_id)
        host = (url.hostname or "").removeprefix("www.")
        if host == "microsoft.com" and url.path.startswith("/win"):
            self.windows(os_id, url.path, os_elem)
        elif host in _LINUX_OSINFO_HOSTS:
            self.spec["guest"] = "linux"
            self.notes.append(f"libosinfo os {os_id}{self.line(os_elem)}: guest=linux")
        else:
            self.notes.append(f"libosinfo os {os_id!r}{self.line(os_elem)} not recognised: guest left unset")

    def windows(self, os_id: str, path: str, os_elem: ET.Element) -> None:
        """guest=windows-hyperv for a release that turns VBS on by default, else windows."""
        where = f"libosinfo os {os_id}{self.line(os_elem)}"
        blocked = self.nested_blocked()
        if _vbs_by_default(path) and blocked is None:
            self.spec["guest"] = "windows-hyperv"
            self.notes.append(
                f"{where}: guest=windows-hyperv: Windows 11 and Windows Server 2022 or later are "
                f"counted as running VBS (Credential Guard, HVCI), which uses SEOIB like the "
                f"Hyper-V role ({_VBS_SOURCE}); if VBS is off in this guest, judge it with "
                f"--vm ...,guest=windows")
            return
        self.spec["guest"] = "windows"
        if blocked is not None:
            self.notes.append(f"{where}: guest=windows: VT-x/AMD-V is disabled for it"
                              f"{self.line(blocked)}, so VBS and the Hyper-V role cannot run")
            return
        hint = (f"{where}: guest=windows. If it runs the Hyper-V role, VBS or Credential Guard, "
                "declare guest=windows-hyperv")
        nested = self.nested()
        if nested is not None:
            hint += (f"; nested virtualization is required{self.line(nested)}, which makes that "
                     "likely, but it is not a clear signal, so guest stays windows")
        self.notes.append(hint)

    def nested_blocked(self) -> ET.Element | None:
        """A <cpu> feature that takes VT-x/AMD-V away from the guest (disable or forbid)."""
        cpu = self.root.find("cpu")
        for feat in cpu.findall("feature") if cpu is not None else []:
            if feat.get("name") in ("vmx", "svm") and feat.get("policy") in ("disable", "forbid"):
                return feat
        return None

    def commandline(self, accel: str) -> None:
        blocks = self.root.findall(f"{{{QEMU_NS}}}commandline")
        words = [arg.get("value", "") for blk in blocks for arg in blk.findall(f"{{{QEMU_NS}}}arg")]
        if not words:
            return
        first = blocks[0]
        args = parse_qemu_args(words, self.path, line=self.lines.get(id(first)), with_binary=False)
        spec, notes = resolve(args, launcher_accel=accel)
        self.requires += requirements(args)
        where = f"<qemu:commandline>{self.line(first)}"
        for key, value in spec.items():
            old = self.spec.get(key)
            if key == "irqchip" and accel != "kvm":
                continue
            if old is not None and old != value:
                self.notes.append(f"{where}: {key}={value} overrides {key}={old}")
            else:
                self.notes.append(f"{where}: {key}={value}")
            self.spec[key] = value
        if args.cpu_model is not None and "x2apic" not in spec and "x2apic" in self.spec:
            self.notes.append(
                f"{where}: its -cpu replaces libvirt's, so x2apic={self.spec.pop('x2apic')} "
                "from <cpu> no longer applies"
            )
        self.notes.extend(f"{where}: {n}" for n in notes)


def _vbs_by_default(path: str) -> bool:
    """Whether a libosinfo Windows path (/win/11, /win/2k22) names a VBS-by-default release.

    >>> [_vbs_by_default(p) for p in ("/win/10", "/win/11", "/win/2k19", "/win/2k22", "/win/2k25")]
    [False, True, False, True, True]
    """
    found = _WINDOWS_ID.match(path)
    if found is None:
        return False
    client, server = found.group("client"), found.group("server")
    return int(client) >= _VBS_CLIENT_FROM if client else int(server) >= _VBS_SERVER_FROM


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_domain_xml(path: str) -> VMInput:
    """Read the VM spec keys a libvirt domain XML file determines.

    Raises ``BadInput`` (with file and line where there is one) for unreadable,
    malformed or unsafe XML, a root that is not ``<domain>``, or values libvirt or
    QEMU would refuse.
    """
    root, lines = _load(path)
    return _Reader(path, root, lines).read()
