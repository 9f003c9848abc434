"""Read the SEOIB-relevant settings out of a QEMU command line.

Only what QEMU itself does with the options is encoded (system/vl.c): ``-machine``
options merge and later keys win; ``-enable-kvm`` is ``-machine accel=kvm``; ``-accel``
and ``-machine accel=`` together are refused; the *first* accelerator that initializes
is used, so properties on a later ``-accel`` are never applied; a property the
kvm accelerator does not have makes QEMU refuse to start (bad input here). With
no accelerator at all qemu-system-x86_64 runs TCG (a binary named ``*kvm`` prefers
KVM), and with no ``-machine`` type it runs the x86 default ``pc``. Options that do
not bear on SEOIB are ignored and listed in one note, never guessed at.

The input must say what it is: a command line starts with a QEMU x86 system binary
(``qemu-system-x86_64``, ``qemu-kvm``, ``kvm``...) or with an option, and has at least
one option; anything else is refused without echoing it. What QEMU refuses to start
is refused too, in QEMU's words as the installed binary prints them: a ``-machine``
list its keyval parser rejects, two vIOMMUs, a bad ``intremap``/``eim`` value, and -
as requirements the resolver holds the resolved VM to (seoib.inputs.vminput), since
they depend on the machine type - interrupt remapping on the in-kernel irqchip,
``eim=on`` without split irqchip and ``-device intel-iommu`` on a board that does not
take it. tests/qemu holds each against the real binary.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import BadInput, Location
from ..files import read_limited
from .vminput import SEOIB_POLICIES, Requirement, VMInput

__all__ = [
    "ParsedArgs",
    "parse_qemu_args",
    "parse_qemu_cmdline",
    "parse_qemu_cmdline_file",
    "resolve",
    "split_opts",
]

MAX_BYTES = 1024 * 1024

# Options that take no argument (HAS_ARG absent in qemu-options.hx). Only used to skip
# arguments correctly; any other option takes the next word unless it starts with '-'.
_FLAGS = frozenset(
    [
        "enable-kvm",
        "no-kvm",
        "nodefaults",
        "no-user-config",
        "no-hpet",
        "no-acpi",
        "no-reboot",
        "no-shutdown",
        "nographic",
        "daemonize",
        "S",
        "s",
        "snapshot",
        "full-screen",
        "usb",
        "enable-fips",
        "no-fd-bootchk",
        "win2k-hack",
        "rtc-td-hack",
        "localtime",
        "no-quit",
        "alt-grab",
        "ctrl-grab",
        "singlestep",
        "one-insn-per-tb",
        "enable-sync-profile",
        "preconfig",
        "only-migratable",
        "version",
        "help",
        "h",
        "no-frame",
        "portrait",
        "curses",
        "sdl",
        "semihosting",
        "no-kvm-pit-reinjection",
    ]
)

_IRQCHIP_VALUES = ("on", "off", "split")
# QEMU's x86 default machine type (an alias) when no -machine type is given.
DEFAULT_MACHINE = "pc"
# Properties of QEMU's kvm accelerator object (accel/kvm/kvm-all.c, target/i386/kvm);
# seoib-policy is the accel-property design's. Any other one is refused at start.
_KVM_ACCEL_PROPS = frozenset([
    "accel", "kernel-irqchip", "kvm-shadow-mem", "dirty-ring-size", "eager-split-size",
    "notify-vmexit", "notify-window", "xen-version", "xen-gnttab-max-frames",
    "xen-evtchn-max-pirq", "honor-guest-pat", "rapl", "rapl-helper-socket", "device",
    "seoib-policy",
])
# QEMU's qapi_bool_parse spellings.
_BOOL = {"on": "on", "yes": "on", "true": "on", "y": "on",
         "off": "off", "no": "off", "false": "off", "n": "off"}  # fmt: skip
_ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# QEMU's x86 system emulators as packaged: upstream names, Debian's qemu-system-amd64
# alias, RHEL's qemu-kvm, Debian's and Proxmox's kvm wrappers.
_X86_BINARIES = re.compile(r"^(qemu-system-(x86_64|i386|amd64)(-spice)?|qemu-kvm|kvm(-spice)?)$")
_OTHER_QEMU = re.compile(r"^qemu-system-[A-Za-z0-9_]+$")
# A keyval key (util/keyval.c, QAPI names): what -machine accepts before '='.
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)*$")
# How much of a refused word a message quotes: never a whole file.
_QUOTE_CHARS = 40
_NOTE_ITEMS = 40
# x86 vIOMMUs: QEMU takes one at most ("QEMU does not support multiple vIOMMUs for x86 yet.").
_X86_IOMMUS = ("intel-iommu", "amd-iommu")
_ON_OFF_AUTO = ("on", "off", "auto")


@dataclass
class ParsedArgs:
    """The raw reading of one argument list, before QEMU's precedence is applied."""

    source: str
    binary: str | None = None
    machine: dict[str, str] = field(default_factory=dict)  # merged, later keys win
    accels: list[dict[str, str]] = field(default_factory=list)  # each -accel, in order
    ioapic: str | None = None
    x2apic: str | None = None
    cpu_model: str | None = None  # a later -cpu replaces an earlier one entirely
    cpu_features: list[str] = field(default_factory=list)
    devices: list[dict[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    options: int = 0  # words that are options (start with '-')
    positionals: list[str] = field(default_factory=list)  # disk images to QEMU
    text: str | None = None  # original text, to find line numbers for messages
    line: int | None = None  # line of the whole argument list (e.g. <qemu:commandline>)

    def where(self, needle: str) -> Location:
        """The source, with the line of the first occurrence of ``needle`` when known."""
        line = self.line
        if self.text is not None:
            pos = self.text.find(needle)
            if pos >= 0:
                line = self.text.count("\n", 0, pos) + 1
        return Location(self.source, line)


def split_opts(value: str) -> list[str]:
    """Split a QEMU option value at commas; ``,,`` is a literal comma."""
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == "," and value[i + 1 : i + 2] == ",":
            cur.append(",")
            i += 2
            continue
        if c == ",":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return [p for p in parts if p]


def machine_keyval(value: str, where: Location) -> list[tuple[str, str]]:
    """A ``-machine`` value as QEMU's keyval parser reads it (util/keyval.c), or BadInput
    with QEMU's own message.

    The first item may be a bare value (the implied ``type``) that ends at the first
    comma; every other item is ``key=value``, where ``,,`` in a value is a literal comma;
    one trailing comma is allowed. So ``q35,,kernel-irqchip=split`` is the type ``q35``
    followed by an empty key, and QEMU refuses it: "Invalid parameter ''".

    >>> machine_keyval("q35,kernel_irqchip=split,", Location("x"))
    [('type', 'q35'), ('kernel_irqchip', 'split')]
    >>> machine_keyval("q35,,kernel-irqchip=split", Location("x"))
    Traceback (most recent call last):
    ...
    seoib.errors.BadInput: x: -machine q35,,kernel-irqchip=split: QEMU refuses it: "Invalid parameter ''"
    """
    out: list[tuple[str, str]] = []
    pos, end = 0, len(value)
    while pos < end:
        stop = pos
        while stop < end and value[stop] not in "=,":
            stop += 1
        word = value[pos:stop]
        if not out and word and (stop == end or value[stop] == ","):
            out.append(("type", word))  # the implied key: no '=', no comma in it
            pos = stop
        else:
            if not _KEY.match(word):
                _refuse_machine(value, f"Invalid parameter '{word}'", where)
            if stop == end or value[stop] != "=":
                _refuse_machine(value, f"Expected '=' after parameter '{word}'", where)
            chars: list[str] = []
            pos = stop + 1
            while pos < end:
                if value[pos] == ",":
                    if value[pos + 1:pos + 2] != ",":
                        break
                    pos += 1  # ",," is a literal comma
                chars.append(value[pos])
                pos += 1
            out.append((word, "".join(chars)))
        if pos < end:  # at a separating comma
            pos += 1
    return out


def _refuse_machine(value: str, message: str, where: Location) -> None:
    raise BadInput(f"-machine {_quote(value)}: QEMU refuses it: \"{message}\"", where)


def _quote(word: str) -> str:
    """At most _QUOTE_CHARS of a word, control characters escaped: a message never echoes a file."""
    text = word if len(word) <= _QUOTE_CHARS else word[:_QUOTE_CHARS] + "..."
    return text if text.isprintable() else repr(text)[1:-1]


def _keyval(value: str, implied: str | None) -> list[tuple[str, str]]:
    """``a,k=v,flag`` -> [(implied, a), (k, v), (flag, on)] in order."""
    out: list[tuple[str, str]] = []
    for i, part in enumerate(split_opts(value)):
        key, eq, val = part.partition("=")
        if not eq:
            if i == 0 and implied:
                out.append((implied, part))
            else:
                out.append((part, "on"))
        else:
            out.append((key, val))
    return out


def _norm_key(key: str) -> str:
    return key.replace("_", "-")


def _irqchip(value: str, args: ParsedArgs, raw: str) -> str:
    if value not in _IRQCHIP_VALUES:
        raise BadInput(f"kernel-irqchip={value!r}: QEMU accepts only on, off or split", args.where(raw))
    return value


def _ioapic_version(value: str, args: ParsedArgs, raw: str) -> str:
    # QEMU parses integer properties with strtoull base 0: 0x.. hex, 0.. octal, decimal.
    text = value.strip().lower()
    try:
        if text.startswith("0x"):
            number = int(text, 16)
        elif len(text) > 1 and text.startswith("0"):
            number = int(text, 8)
        else:
            number = int(text, 10)
    except ValueError:
        number = None
    if number not in (0x11, 0x20):
        raise BadInput(
            f"ioapic.version={value}: QEMU refuses it at realize (only 0x11 or 0x20)",
            args.where(raw),
        )
    return f"0x{number:x}"


def _global(value: str, args: ParsedArgs) -> None:
    # Both spellings: "driver.prop=value" and "driver=d,property=p,value=v".
    pairs = dict(_keyval(value, None))
    if {"driver", "property", "value"} <= pairs.keys():
        driver, prop, val = pairs["driver"], pairs["property"], pairs["value"]
    else:
        head, eq, val = value.partition("=")
        driver, dot, prop = head.partition(".")
        if not (eq and dot):
            raise BadInput(f"-global {value!r}: expected DRIVER.PROPERTY=VALUE", args.where(value))
    if driver == "ioapic" and prop == "version":
        args.ioapic = _ioapic_version(val, args, value)
    else:
        args.ignored.append(f"-global {driver}.{prop}")


def _cpu(value: str, args: ParsedArgs) -> None:
    parts = split_opts(value)
    args.cpu_model = parts[0] if parts else ""
    args.x2apic = None
    for feat in parts[1:]:  # parts[0] is the model
        args.cpu_features.append(feat)
        name, eq, val = feat.partition("=")
        if feat in ("+x2apic", "x2apic"):
            args.x2apic = "on"
        elif feat == "-x2apic":
            args.x2apic = "off"
        elif eq and name == "x2apic":
            if val not in _BOOL:
                raise BadInput(f"-cpu ...,x2apic={val}: not a boolean", args.where(feat))
            args.x2apic = _BOOL[val]


def parse_qemu_args(
    argv: Sequence[str],
    source: str = "command line",
    *,
    text: str | None = None,
    line: int | None = None,
    with_binary: bool = True,
) -> ParsedArgs:
    """Read an argument list (already split into words) without applying precedence."""
    args = ParsedArgs(source=source, text=text, line=line)
    words = list(argv)
    i = 0
    if with_binary:
        # "virsh domxml-to-native" output starts with environment assignments.
        while i < len(words) and _ENV_ASSIGNMENT.match(words[i]):
            i += 1
        if i < len(words) and not words[i].startswith("-"):
            args.binary = _binary(words[i], args)
            i += 1
    while i < len(words):
        word = words[i]
        i += 1
        if not word.startswith("-") or word == "-":
            args.positionals.append(word)
            continue
        args.options += 1
        name = word[2:] if word.startswith("--") else word[1:]
        takes_arg = name not in _FLAGS and i < len(words) and not words[i].startswith("-")
        if name in ("machine", "M", "accel", "global", "cpu", "device"):
            if i >= len(words):
                raise BadInput(f"{word} needs an argument", args.where(word))
            takes_arg = True
        value = words[i] if takes_arg else None
        i += 1 if takes_arg else 0
        if name == "enable-kvm":
            args.machine["accel"] = "kvm"
        elif name in ("machine", "M") and value is not None:
            for key, val in machine_keyval(value, args.where(value)):
                args.machine[_norm_key(key)] = val
        elif name == "accel" and value is not None:
            args.accels.append({_norm_key(k): v for k, v in _keyval(value, "accel")})
        elif name == "global" and value is not None:
            _global(value, args)
        elif name == "cpu" and value is not None:
            _cpu(value, args)
        elif name == "device" and value is not None:
            device = _device(value, args)
            args.devices.append(device)
            args.ignored.append(f"-device {_quote(device.get('driver', '?'))}")
        elif name == "readconfig":
            args.notes.append(f"-readconfig {value}: that file is not read; settings in it are unknown here")
        else:
            args.ignored.append(f"-{_quote(name)}")
    return args


def _binary(word: str, args: ParsedArgs) -> str:
    """The first word: a QEMU x86 system binary (any directory), else BadInput."""
    base = os.path.basename(word)
    if _X86_BINARIES.match(base):
        return word
    if _OTHER_QEMU.match(base):
        raise BadInput(f"{base} is not an x86 QEMU: SEOIB concerns x86 guests only "
                       "(qemu-system-x86_64, qemu-system-i386, qemu-kvm)", args.where(word))
    raise BadInput(f"not a QEMU command line: it starts with '{_quote(word)}', neither a QEMU "
                   "x86 system binary (qemu-system-x86_64, qemu-kvm, kvm) nor an option",
                   args.where(word))


def _device(value: str, args: ParsedArgs) -> dict[str, str]:
    """A -device value as {property: value}; libvirt passes JSON, people pass keyval."""
    if value.lstrip().startswith("{"):
        try:
            data = json.loads(value)
        except ValueError:
            return {}
        except RecursionError:  # nesting deeper than the interpreter's stack
            raise BadInput("-device JSON is nested too deeply to be a device (QEMU takes flat "
                           "properties)", args.where("-device")) from None
        if isinstance(data, dict):
            if data.get("driver") in _X86_IOMMUS:
                # QEMU's OnOffAuto properties take strings only: "Invalid parameter type for
                # 'intremap', expected: string".
                for key in ("intremap", "eim"):
                    if key in data and not isinstance(data[key], str):
                        raise BadInput(f"-device {data['driver']}: QEMU refuses it: \"Invalid "
                                       f"parameter type for '{key}', expected: string\"",
                                       args.where(key))
            # JSON booleans become QEMU's on/off spelling.
            return {str(k): ("on" if v is True else "off" if v is False else str(v)) for k, v in data.items()}
        return {}
    return dict(_keyval(value, "driver"))


def _accelerator(args: ParsedArgs) -> tuple[str | None, dict[str, str]]:
    """The accelerator QEMU ends up with (assuming KVM initializes) and its properties."""
    machine_accel = args.machine.get("accel")
    if args.accels and machine_accel:
        raise BadInput(
            'QEMU refuses this: the -accel and "-machine accel=" options are incompatible '
            "(-enable-kvm counts as -machine accel=kvm)",
            args.where("-accel"),
        )
    if args.accels:
        order = args.accels
    elif machine_accel:
        order = [{"accel": a} for a in machine_accel.split(":") if a]
    else:
        return None, {}
    first = order[0]
    if len(order) > 1 and any(len(a) > 1 for a in order[1:]):
        args.notes.append(
            f"QEMU uses the first accelerator that initializes ({first.get('accel')}); "
            "properties on later -accel options are never applied"
        )
    return first.get("accel"), first


def resolve(args: ParsedArgs, *, launcher_accel: str | None = None) -> tuple[dict[str, str], list[str]]:
    """Apply QEMU's precedence; return the VM spec keys determined and the notes.

    ``launcher_accel``: the accelerator a launcher (libvirt) puts on the command line
    *before* these arguments; then an extra accelerator option here is never the first
    one, so QEMU ignores its properties (or refuses -accel beside -machine accel=).
    """
    spec: dict[str, str] = {}
    if launcher_accel is None:
        accel, accel_props = _accelerator(args)
    else:
        accel, accel_props = launcher_accel, {}
        if args.accels:
            args.notes.append(
                "extra -accel ignored: libvirt passes its own accelerator first, so QEMU "
                "never applies these properties (or refuses -accel beside -machine accel=): "
                + " ".join(",".join(f"{k}={v}" for k, v in a.items()) for a in args.accels)
            )
    notes = list(args.notes)
    if "type" in args.machine:
        spec["machine"] = args.machine["type"]
    elif launcher_accel is None:
        spec["machine"] = DEFAULT_MACHINE
        notes.append(f"no -machine type: QEMU's x86 default {DEFAULT_MACHINE!r} (the alias, "
                     "resolved on the host's QEMU)")
    if accel == "kvm" and launcher_accel is None:
        _check_kvm_props(accel_props, args)
    irqchip = None
    if "kernel-irqchip" in args.machine:
        irqchip = _irqchip(args.machine["kernel-irqchip"], args, "irqchip")
    if accel == "kvm" and "kernel-irqchip" in accel_props:
        # Machine-level kernel-irqchip is sugar for a global accel property; an explicit
        # -accel property is set later and wins.
        from_accel = _irqchip(accel_props["kernel-irqchip"], args, "kernel-irqchip")
        if irqchip and irqchip != from_accel:
            notes.append(f"-accel kernel-irqchip={from_accel} overrides -machine kernel-irqchip={irqchip}")
        irqchip = from_accel
    if accel is None:
        accel = _default_accel(args.binary)
        notes.append(_default_accel_note(args.binary, accel))
    if accel != "kvm":
        notes.append(f"accelerator {accel}: no KVM LAPIC, so SEOIB does not apply (irqchip=off)")
        irqchip = "off"
    if irqchip:
        spec["irqchip"] = irqchip
    if accel == "kvm" and "seoib-policy" in accel_props:
        policy = accel_props["seoib-policy"]
        if policy not in SEOIB_POLICIES:
            raise BadInput(
                f"seoib-policy={policy!r}: expected one of {', '.join(SEOIB_POLICIES)}",
                args.where("seoib-policy"),
            )
        spec["seoib-policy"] = policy
        notes.append(
            "seoib-policy is the accel-property design's property; a QEMU build without it "
            "refuses to start with this -accel"
        )
    if args.ioapic:
        spec["ioapic"] = args.ioapic
    if args.x2apic:
        spec["x2apic"] = args.x2apic
    notes.extend(_hints(args))
    if args.positionals:
        shown = " ".join(repr(_quote(p)) for p in args.positionals[:3])
        more = f" and {len(args.positionals) - 3} more" if len(args.positionals) > 3 else ""
        args.ignored.append(f"positional {shown}{more}")
    if args.ignored:
        seen = list(dict.fromkeys(args.ignored))
        more = f" (and {len(seen) - _NOTE_ITEMS} more)" if len(seen) > _NOTE_ITEMS else ""
        notes.append("ignored (not read for SEOIB): " + " ".join(seen[:_NOTE_ITEMS]) + more)
    return spec, notes


def requirements(args: ParsedArgs) -> list[Requirement]:
    """What QEMU demands of the resolved VM for the vIOMMU on this command line.

    Measured on the installed QEMU (tests/qemu/test_qemu_refusals.py): ``-device intel-iommu``
    only on a board that takes it; ``intremap=on`` not with the in-kernel irqchip (split,
    KVM's irqchip off and TCG start: all resolve to split or off); ``eim=on`` only with
    split (TCG refuses it too).
    """
    out: list[Requirement] = []
    iommus = [d for d in args.devices if d.get("driver") in _X86_IOMMUS]
    if len(iommus) > 1:
        raise BadInput("QEMU refuses two vIOMMUs: \"QEMU does not support multiple vIOMMUs "
                       "for x86 yet.\"", args.where("iommu"))
    for dev in iommus:
        driver = dev["driver"]
        where = args.where(driver)
        for key in ("intremap", "eim"):
            if dev.get(key, "auto") not in _ON_OFF_AUTO:
                raise BadInput(f"-device {driver},{key}={_quote(dev[key])}: QEMU refuses it: "
                               f"\"Parameter '{key}' does not accept value '{_quote(dev[key])}'\"",
                               where)
        if driver != "intel-iommu":
            continue  # amd-iommu: its refusals are not modelled (the note says it is ignored)
        out.append(("device", (driver,), "-device intel-iommu: QEMU refuses it on this machine: "
                    "\"Parameter 'driver' expects a dynamic sysbus device type for the machine\"",
                    where))
        if dev.get("intremap") == "on":
            out.append(("irqchip", ("split", "off"), "-device intel-iommu,intremap=on: QEMU "
                        "refuses to start: \"Interrupt Remapping cannot work with "
                        "kernel-irqchip=on, please use 'split|off'.\"", where))
        if dev.get("eim") == "on":
            out.append(("irqchip", ("split",), "-device intel-iommu,eim=on: QEMU refuses to "
                        "start: \"eim=on requires accel=kvm,kernel-irqchip=split\"", where))
    return out


def _default_accel(binary: str | None) -> str:
    # vl.c configure_accelerators: a program name ending in "kvm" tries kvm first, any
    # other qemu-system-* uses tcg.
    return "kvm" if binary is not None and os.path.basename(binary).endswith("kvm") else "tcg"


def _default_accel_note(binary: str | None, accel: str) -> str:
    head = "no -accel, -machine accel= or -enable-kvm"
    name = os.path.basename(binary) if binary else "qemu-system-x86_64"
    if accel == "kvm":
        return f"{head}: {name} ends in 'kvm', so QEMU's default accelerator is KVM"
    return f"{head}: {name} defaults to TCG, where SEOIB does not apply"


def _check_kvm_props(props: dict[str, str], args: ParsedArgs) -> None:
    for key in props:
        if key not in _KVM_ACCEL_PROPS:
            raise BadInput(f"-accel kvm,{key}=...: the kvm accelerator has no property {key!r}; "
                           "QEMU refuses to start", args.where(key))


def _hints(args: ParsedArgs) -> list[str]:
    hints = []
    hv = [f for f in args.cpu_features if re.match(r"^[+]?hv[-_]", f)]
    if hv:
        hints.append(
            "Hyper-V enlightenments (hv-*) suggest a Windows guest but do not mean the guest "
            "runs the Hyper-V role; guest left unset"
        )
    nested = [f for f in args.cpu_features if f in ("+vmx", "vmx", "vmx=on", "+svm", "svm=on")]
    if nested:
        hints.append(
            "nested virtualization is exposed (vmx/svm): a Windows guest could enable "
            "VBS/Credential Guard; declare guest=windows-hyperv if it does"
        )
    return hints


def split_command_line(text: str, source: str = "command line") -> list[str]:
    """Split like a POSIX shell (shlex); backslash-newline continues a line."""
    joined = re.sub(r"\\\r?\n", "", text)
    try:
        return shlex.split(joined, comments=False, posix=True)
    except ValueError as err:
        line = _unclosed_quote_line(text)
        raise BadInput(
            f"cannot split the command line: {err} (a quote is never closed)",
            Location(source, line),
        ) from None


def _unclosed_quote_line(text: str) -> int | None:
    """Line where the quote that is never closed opened (POSIX quoting rules)."""
    quote: str | None = None
    opened = None
    line = 1
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\n":
            line += 1
        if quote is None:
            if c == "\\":
                i += 1
                if text[i : i + 1] == "\n":
                    line += 1
            elif c in "'\"":
                quote, opened = c, line
        elif quote == '"' and c == "\\":
            i += 1
            if text[i : i + 1] == "\n":
                line += 1
        elif c == quote:
            quote = None
        i += 1
    return opened if quote else None


def parse_qemu_cmdline(text: str, source: str = "command line") -> VMInput:
    """Read the VM spec keys a QEMU command line determines.

    >>> parse_qemu_cmdline("qemu-system-x86_64 -accel kvm -M q35,kernel-irqchip=split").spec
    {'machine': 'q35', 'irqchip': 'split'}
    """
    words = split_command_line(text, source)
    if not words:
        raise BadInput("empty QEMU command line", Location(source))
    args = parse_qemu_args(words, source, text=text)
    if not args.options:
        raise BadInput("not a QEMU command line: no option (a word starting with '-') says what "
                       "the VM is", Location(source, args.line))
    spec, notes = resolve(args)
    return VMInput(spec=spec, notes=tuple(notes), source=source, requires=tuple(requirements(args)))


def parse_qemu_cmdline_file(path: str) -> VMInput:
    """Read a file holding one QEMU command line (continuations and # comment lines allowed)."""
    data = read_limited(path, MAX_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise BadInput("not UTF-8 text", Location(path, line)) from None
    # Full-line comments only: '#' inside a word is literal in a shell.
    text = "\n".join("" if ln.lstrip().startswith("#") else ln for ln in text.split("\n"))
    return parse_qemu_cmdline(text, source=path)
