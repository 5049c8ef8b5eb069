"""The channels: Twilio voice (IVR, queue, bridging, callbacks), SMS/WhatsApp and web chat.

Public surface: ``telephony.wiring`` (``setup(app, config=…, routing=…, triage=…)`` registers
everything; ``telephony_of(app)``). The routing engine is reached only through
``router.ports.RoutingPort``.
"""
