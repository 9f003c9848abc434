"""A level-triggered device: its line stays asserted until the guest services it.

The device is also where storms are observed: it counts how often the IOAPIC
delivered its pin between raising an event and being serviced.
"""

from __future__ import annotations

from .ioapic import Ioapic

__all__ = ["STORM_DELIVERIES", "DeviceState", "LevelDevice"]

# One delivery per event is normal; a second could in principle be a benign race,
# a third means the IOAPIC keeps re-delivering an event the guest has not serviced.
STORM_DELIVERIES = 3

# (event pending, deliveries of the pending event so far)
DeviceState = tuple[bool, int]


class LevelDevice:
    """A device on an IOAPIC pin, programmed by the guest with ``vector``."""

    __slots__ = (
        "events",
        "ioapic",
        "mark",
        "pending",
        "pin",
        "redeliveries",
        "serviced",
        "storms",
        "vector",
    )

    def __init__(self, ioapic: Ioapic, pin: int, vector: int) -> None:
        self.ioapic = ioapic
        self.pin = pin
        self.vector = vector
        self.pending = False
        self.mark = 0
        self.events = 0
        self.serviced = 0
        self.storms = 0
        self.redeliveries = 0

    def raise_event(self) -> None:
        """New work: assert the line (work already pending just merges)."""
        self.events += 1
        if not self.pending:
            self.pending = True
            self.mark = self.ioapic.delivered[self.pin]
            self.ioapic.set_line(self.pin, 1)

    def service(self) -> None:
        """The guest's handler reads the device status: the line de-asserts."""
        if not self.pending:
            return
        seen = self.ioapic.delivered[self.pin] - self.mark
        if seen > 1:
            self.redeliveries += seen - 1
        if seen >= STORM_DELIVERIES:
            self.storms += 1
        self.pending = False
        self.serviced += 1
        self.ioapic.set_line(self.pin, 0)

    def get_state(self) -> DeviceState:
        """What migrates: the pending work and how often it was delivered so far."""
        return (self.pending, self.ioapic.delivered[self.pin] - self.mark)

    def set_state(self, state: DeviceState) -> None:
        """Restore the device; the line level itself comes with the IOAPIC state."""
        self.pending, seen = state
        self.mark = self.ioapic.delivered[self.pin] - seen
