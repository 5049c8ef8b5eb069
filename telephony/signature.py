"""Twilio webhook signatures, checked against the configured public URL.

Twilio signs the URL it called plus the form parameters (``X-Twilio-Signature``, HMAC-SHA1 with
the account's auth token). Behind a proxy that terminates TLS the request we receive has another
scheme and host, so the URL is rebuilt from ``server.public_url`` and the request's raw path and
query, never from the request's own scheme or host.

With no auth token configured (loopback mode) every request is accepted: loopback is for the
offline demo and tests only, never for a number reachable from the telephone network.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"


def public_url_of(public_url: str, raw_path: str) -> str:
    """The URL Twilio called: the public base plus the raw path and query.

    A public URL with a path prefix (``https://host/expertline``) works whether or not the
    proxy strips that prefix before forwarding.
    """
    base = public_url.rstrip("/")
    parts = urlsplit(base)
    prefix = parts.path
    if prefix and (raw_path == prefix or raw_path.startswith(prefix + "/")):
        return f"{parts.scheme}://{parts.netloc}{raw_path}"
    return base + raw_path


class SignatureCheck:
    """``valid(raw_path, params, signature)``: True when Twilio signed this request."""

    def __init__(self, *, public_url: str, auth_token: str) -> None:
        self.public_url = public_url
        self._validator = RequestValidator(auth_token) if auth_token else None

    @property
    def enforced(self) -> bool:
        return self._validator is not None

    def valid(self, raw_path: str, params: Mapping[str, object], signature: str | None) -> bool:
        if self._validator is None:
            return True
        if not signature:
            return False
        url = public_url_of(self.public_url, raw_path)
        return bool(self._validator.validate(url, params, signature))

    def __repr__(self) -> str:
        mode = "enforced" if self.enforced else "loopback (unchecked)"
        return f"<SignatureCheck {mode} for {self.public_url}>"


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The signature Twilio would send for ``url`` and ``params`` (for the CLI and tests)."""
    # twilio ships no types; compute_signature returns the base64 HMAC as a str
    return cast(str, RequestValidator(auth_token).compute_signature(url, dict(params)))
