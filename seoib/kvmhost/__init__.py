"""Register-level simulator steps on the real Linux KVM (/dev/kvm), from Python.

``abi`` (ioctl numbers and structs), ``device`` (system, VM and vCPU fds),
``guest`` (the hand-assembled real-mode guest), ``machine`` (one VM and its run
loop), ``backend`` (the ``kvm`` backend of ``seoib simulate``), ``modetable`` (the
behaviour measurement ``seoib probe`` reports). It uses the simulator's IOAPIC
model and errors, never the rules or the solver.
"""

from .device import KvmUnavailable, usable

__all__ = ["KvmUnavailable", "usable"]
