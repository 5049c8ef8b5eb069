"""The channels: Twilio voice (IVR, queue, bridging, callbacks), SMS/WhatsApp and web chat.

``setup(app, config=…, routing=…, triage=…)`` registers everything; the routing engine is
reached only through ``router.ports.RoutingPort``.
"""

from telephony.wiring import setup

__all__ = ["setup"]
