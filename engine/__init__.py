"""seoib-engine: x2APIC Suppress-EOI-Broadcast policy and migration safety for KVM/QEMU."""

__version__ = "0.1.0"
