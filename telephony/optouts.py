"""SMS/WhatsApp addresses that asked for no more messages (STOP), until they opt back in."""

from __future__ import annotations


class OptOuts:
    """Addresses (``+44…`` or ``whatsapp:+44…``) that asked for no more messages."""

    def __init__(self) -> None:
        self._addresses: set[str] = set()

    def __contains__(self, address: str) -> bool:
        return address in self._addresses

    def add(self, address: str) -> None:
        self._addresses.add(address)

    def discard(self, address: str) -> None:
        self._addresses.discard(address)

    def __repr__(self) -> str:
        return f"<OptOuts {len(self._addresses)}>"
