"""``none``: upstream QEMU without SEOIB support.

Every VM stays QUIRKED (KVM's initial mode); the build registers no
``x86-seoib-state`` section, so a stream that carries one is refused, and it has
no ``-accel kvm,seoib-policy`` property, so asking for one stops QEMU at start.
Source: QEMU upstream, no SEOIB change merged as of the stored archives.
"""

from __future__ import annotations

from .base import QemuDesign

__all__ = ["NoSeoib"]


class NoSeoib(QemuDesign):
    """Upstream QEMU: the base behaviour, named."""

    name = "none"
