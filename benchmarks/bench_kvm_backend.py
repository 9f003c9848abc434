"""Time the kvm backend: every scenario case of tests/cases/sim on /dev/kvm.

A script, not a test: ``python benchmarks/bench_kvm_backend.py``. Prints how many
cases ran on the real kernel, how many were refused (high-level steps, or a host
spec for another kernel), the wall time of the kvm runs and of the same cases on
the simulator, and whether the kernel processed the LAPIC EOI at delivery.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baseline import Baseline

from seoib.errors import BadInput
from seoib.kvmhost import usable
from seoib.kvmhost.backend import KvmBackend
from seoib.kvmhost.host import detect
from seoib.sim.scenario import run_scenario
from seoib.yamlio import load_yaml

CASES = Path(__file__).resolve().parents[1] / "tests" / "cases" / "sim"
FAMILIES = (
    "kvm_table", "selftest", "check_extension", "enable_cap", "ioapic", "scenarios", "measured_kernel"
)


def main() -> int:
    reason = usable()
    if reason is not None:
        print(f"no usable /dev/kvm: {reason}")
        return 1
    cases = [(str(CASES / f"{f}.yaml"), c) for f in FAMILIES for c in load_yaml(CASES / f"{f}.yaml")["cases"]]
    base = Baseline.measure()
    print(base.line())
    backend = KvmBackend()
    ran, refused = [], {"high-level": 0, "another kernel": 0}
    start = time.perf_counter()
    for source, case in cases:
        try:
            run_scenario(case, source, backend=backend)
        except BadInput as err:
            refused["another kernel" if "kernel's" in err.message or "split-irqchip" in err.message
                    else "high-level"] += 1
            continue
        ran.append((source, case))
    kvm_time = time.perf_counter() - start
    start = time.perf_counter()
    for source, case in ran:
        run_scenario(case, source)
    sim_time = time.perf_counter() - start
    print(f"cases: {len(cases)}; ran on both backends: {len(ran)}; refused on kvm: {refused}")
    per_case = kvm_time / max(len(ran), 1) * 1000
    print(f"kvm backend: {kvm_time:.2f} s for all {len(cases)} ({per_case:.1f} ms per case it ran)")
    print(f"simulator: {sim_time:.3f} s for the {len(ran)} cases that ran on both "
          f"(the kvm backend takes {kvm_time / max(sim_time, 1e-9):.1f}x the simulator's time; "
          f"{base.of_loop(sim_time * 1e6 / max(len(ran), 1))} per case simulated)")
    print(f"kernel processed the LAPIC EOI at delivery: {backend.eoi_at_delivery}")
    print(f"KVM: {detect().describe()}")
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
