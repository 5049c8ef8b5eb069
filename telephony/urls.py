"""Every webhook path, and absolute URLs to them under the configured public URL.

State that Twilio must carry between requests (the IVR step, the language, the contact id) rides
in the query string: Twilio signs the full URL, so it cannot be altered in transit, and the
handlers stay stateless. Contact ids are opaque; no personal data ever goes into a URL.
"""

from __future__ import annotations

from urllib.parse import urlencode

VOICE = "/twilio/voice"
GATHER = "/twilio/voice/gather"
WAIT = "/twilio/voice/wait"
WAIT_KEY = "/twilio/voice/wait-key"
QUEUE_ACTION = "/twilio/voice/queue-action"
CALLBACK = "/twilio/voice/callback"
HOLD = "/twilio/voice/hold"
OOH_CALLBACK = "/twilio/voice/out-of-hours-callback"
JOIN = "/twilio/voice/join"
CONNECTING = "/twilio/voice/connecting"
EXPERT = "/twilio/voice/expert"
EXPERT_ACCEPT = "/twilio/voice/expert-accept"
STATUS = "/twilio/voice/status"
CONFERENCE_STATUS = "/twilio/voice/conference-status"
GOODBYE = "/twilio/voice/goodbye"
MESSAGING = "/twilio/messaging"
LOOPBACK_CALL = "/twilio/loopback/calls/{sid}"


class Urls:
    """``urls.to(path, c=..., lang=...)`` -> an absolute URL under the public base."""

    def __init__(self, public_url: str) -> None:
        self.base = public_url.rstrip("/")

    def to(self, path: str, **query: str | int | None) -> str:
        params = {k: str(v) for k, v in query.items() if v is not None and v != ""}
        return self.base + path + ("?" + urlencode(params) if params else "")

    def strip(self, url: str) -> str:
        """The path and query of one of our absolute URLs (for clients that follow TwiML)."""
        return url[len(self.base):] if url.startswith(self.base) else url

    def __repr__(self) -> str:
        return f"<Urls {self.base}>"
