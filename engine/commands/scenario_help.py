"""The scenario format as `seoib simulate --help` prints it (README.md has the same)."""

from __future__ import annotations

__all__ = ["SCENARIO_FORMAT"]

SCENARIO_FORMAT = """\
scenario format (YAML):
  name: <title>                 optional, with description: <text>
  host: {seoib: rfc-v2, x2apic-api: 0xf}       or "seoib=rfc-v2,x2apic-api=0xf"
  vm:   {irqchip: split, guest: windows-hyperv}
  steps:
    - boot
    - irqs: 8
    - expect: {outcome: ok, policy: respected}

  host keys  x2apic-api (probed KVM_CAP_X2APIC_API mask), split-irqchip, seoib
             (none|rfc-v2|machine-gated|accel-property), qemu-version (the QEMU
             release the design code runs as), machines, name; or kernel=/qemu=
             (resolved through the rules, see --rules)
  vm keys    machine, machine-version, irqchip (on|split|off), ioapic (0x11|0x20),
             ioapic-global, x2apic, guest (linux|windows|windows-hyperv|xen|any),
             seoib-policy
  steps      boot [: <host>], irqs: N, migrate: <host>, savevm, loadvm (QMP
             restore of the last savevm into the running VM), reset;
             register level: create_vm: {irqchip}, create_irqchip, create_vcpu,
             check_extension: {fd: system|vm}, enable_cap: <mask>,
             set_cpuid: {x2apic}, guest_write_svr: <v>, set_lapic: {svr: <v>},
             rte: {pin, vector, trigger, mask}, line: {pin, level}, run,
             guest_eoi, guest_eoir: <vector>
  expect     outcome, findings, running, storms, stuck_events, counters: {name: N},
             policy, kvm_flags, suppression_honored, kvm_mode, lvr_bit24,
             svr_bit12, last_result, ioapic_version, eoi_exits, remote_irr: {pin: 0|1},
             irr/isr/tmr: {vector: 0|1}, deliveries: {pin: N}, interrupts: {vector: N}

  A scenario without expect steps runs and reports what happened, and says that
  nothing was checked.

examples shipped with seoib:
  seoib simulate --example              list them
  seoib simulate --example storm        run one (its PASS/FAIL line names the file)

backends: --backend sim (default) runs every step in the simulator; --backend kvm
runs the register-level steps on /dev/kvm and refuses the high-level ones (exit 3).

exit codes: 0 every expectation holds (or none given), 2 one fails, 3 the scenario
is invalid.
"""
