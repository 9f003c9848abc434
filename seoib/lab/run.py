"""Run a lab: check the host, build the native parts, observe every run, judge each.

Contract: :func:`run_lab` needs a usable /dev/kvm (else
:class:`~seoib.lab.toolchain.LabSetupError`, exit 3), compiles the shim and the
guest into a private temporary directory (removed afterwards), describes the one
or two binaries, plans (:mod:`seoib.lab.plan`), runs the observations ``jobs`` at
a time and judges each against the engine, in plan order. The
:class:`~seoib.lab.report.LabReport` it returns holds everything, including the
host's load before and after (the lab's timings depend on it).
"""

from __future__ import annotations

import datetime
import errno
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import Location
from ..inputs.probe import KVM_CAP_X2APIC_API, check_extension
from ..kvmhost.host import detect
from ..query.api import Engine
from ..rules.ruleset import RuleSet
from .binary import describe_binary
from .context import LabContext
from .judge import judge
from .observation import Observation
from .plan import make_plan
from .report import LabReport
from .toolchain import LabSetupError, build_native

__all__ = ["run_lab"]


def _kvm_mask(kvm_path: str) -> int:
    try:
        fd = os.open(kvm_path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as err:
        raise LabSetupError(f"{kvm_path}: {err.strerror or err}: the lab starts real VMs and needs "
                            "a usable KVM device", Location("seoib lab")) from None
    try:
        return check_extension(fd, KVM_CAP_X2APIC_API)
    except OSError as err:
        why = "not a KVM device" if err.errno == errno.ENOTTY else (err.strerror or str(err))
        raise LabSetupError(f"{kvm_path}: {why}", Location("seoib lab")) from None
    finally:
        os.close(fd)


def run_lab(qemu: Sequence[str], *, machines: Sequence[str] = (), jobs: int = 2,
            timeout: float = 20.0, rules: RuleSet | None = None, kvm_path: str = "/dev/kvm",
            progress: Callable[[int, int, Observation], None] | None = None) -> LabReport:
    started = time.monotonic()
    load_before = os.getloadavg()
    real_mask = _kvm_mask(kvm_path)
    binaries = [describe_binary(path) for path in dict.fromkeys(qemu)]
    plan = make_plan(binaries, machines)
    for b in binaries:
        if not plan.machines[b.label]:
            what = f"matches {', '.join(machines)}" if machines else "can be started on KVM"
            raise LabSetupError(f"no machine type of {b.path} {what}", Location("--machines"))
    engine = Engine(rules)
    with tempfile.TemporaryDirectory(prefix="seoib-lab-") as tmp:
        rundir = Path(tmp)
        # Which KVM answers and when it processes a guest's EOI: the probe's and
        # `simulate --backend kvm`'s one reading (measured on a scratch VM).
        ctx = LabContext(rundir, build_native(rundir), platform.release(), real_mask,
                         detect(kvm_path), timeout=timeout)
        pool = ThreadPoolExecutor(max_workers=max(1, jobs))
        try:
            futures = [pool.submit(r.observe, ctx, *r.args) for r in plan.runs]
            results = []
            for n, future in enumerate(futures, 1):
                obs = future.result()
                obs.cmdline = obs.cmdline.replace(str(rundir), "$LAB")
                results.append((obs, judge(engine, obs)))
                if progress:
                    progress(n, len(futures), obs)
        finally:
            # Ctrl-C or a bug: the runs not started are dropped, the running ones end
            # (each kills its QEMU), and only then is the run directory removed.
            pool.shutdown(wait=True, cancel_futures=True)
        native = ctx.native.as_json()
    return LabReport(
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        host={"kernel": platform.release(), "x2apic_api": f"0x{real_mask:x}",
              "kvm": ctx.kvm.as_json(), "machine": platform.machine(), "cpus": os.cpu_count()},
        native=native, binaries=binaries, notes=plan.notes, results=results,
        seconds=time.monotonic() - started, jobs=jobs,
        load={"before": [round(x, 2) for x in load_before],
              "after": [round(x, 2) for x in os.getloadavg()]})
