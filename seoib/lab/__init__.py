"""The lab: verdicts observed on real QEMU binaries, a real guest and this host's KVM.

``seoib lab`` starts the machine types of one or two QEMU binaries on /dev/kvm -
paused, with a guest of our own, and across migrations - and holds every
observation to the engine's verdict for the same command line. Which KVM answers
is seoib.kvmhost's ``detect()``, shared with the probe. Modules, one job each:
``toolchain`` (compile the KVM shim and the guest from ``native/``), ``binary`` (a
QEMU binary's identity), ``kernels`` (the shim's views of the kernel), ``vm``
(command lines), ``qemu_run`` (one QEMU process and its monitor), ``shimlog`` (what
QEMU asked of KVM), ``poweron``, ``guestrun`` and ``migration`` (the three
observers), ``observation`` (their records), ``judge`` (the engine's side), ``plan``
(which runs), ``run`` (all of it) and ``report`` (text, JSON and evidence files).
"""

from __future__ import annotations

__all__: list[str] = []
