"""OpenID Connect relying party: the authorization code flow with PKCE, state and nonce.

Authlib's protocol pieces, with aiohttp for the few HTTP calls (discovery, JWKS, the token
endpoint), so the service keeps one HTTP stack: ``authlib.oauth2.rfc6749.parameters`` builds
the authorization request, ``authlib.oauth2.rfc7636`` the S256 code challenge,
``authlib.oidc.core.CodeIDToken`` checks the ID token's claims (``iss``, ``aud``, ``exp``,
``iat``, ``nonce``, ``azp``, ``at_hash``) and joserfc (Authlib's JOSE) verifies its signature
against the provider's JWKS. Authlib's own httpx client is not used: it would bring a second
HTTP client into an aiohttp service.

A provider's discovery document (``{issuer}/.well-known/openid-configuration``) must name
the configured issuer; it and the JWKS are kept ``METADATA_TTL``, and the JWKS is fetched
again once when a token names a key it does not hold (the provider rotated its keys).
Anything wrong raises ``SignInRefused`` with words for the person signing in.
"""

from __future__ import annotations

import base64
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from base.config import OidcProviderConfig

log = logging.getLogger("expertline.oidc")

METADATA_TTL_S = 3600.0
LEEWAY_S = 60
HTTP_TIMEOUT_S = 10.0
# Asymmetric signatures only: never "none", never an HMAC keyed with the client secret.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                      "ES512", "EdDSA")


class SignInRefused(Exception):
    """The provider's answer cannot sign anyone in; the message is for the person."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """The secrets of one sign-in round trip: ``state`` travels in the URL, ``nonce`` comes
    back inside the ID token, ``verifier`` proves to the token endpoint that the code is
    ours (PKCE)."""

    state: str
    nonce: str
    verifier: str

    @classmethod
    def new(cls) -> Attempt:
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                   secrets.token_urlsafe(64))


@dataclass(slots=True)
class _Discovered:
    metadata: dict[str, Any]
    jwks: dict[str, Any] | None = None
    at: float = field(default_factory=time.monotonic)


def callback_path(provider_id: str) -> str:
    return f"/sign-in/oidc/{provider_id}/callback"


class RelyingParty:
    """Talks to the configured providers for one application (one HTTP client session)."""

    def __init__(self, http: aiohttp.ClientSession, public_url: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.http = http
        self.public_url = public_url.rstrip("/")
        self.clock = clock
        self._found: dict[str, _Discovered] = {}

    def redirect_uri(self, provider: OidcProviderConfig) -> str:
        return self.public_url + callback_path(provider.id)

    async def authorization_url(self, provider: OidcProviderConfig, attempt: Attempt) -> str:
        metadata = await self.metadata(provider)
        return str(prepare_grant_uri(
            _endpoint(metadata, "authorization_endpoint"), provider.client_id, "code",
            redirect_uri=self.redirect_uri(provider), scope=list(provider.scopes),
            state=attempt.state, nonce=attempt.nonce,
            code_challenge=create_s256_code_challenge(attempt.verifier),
            code_challenge_method="S256"))

    async def finish(self, provider: OidcProviderConfig, code: str,
                     attempt: Attempt) -> dict[str, Any]:
        """Exchange the code for tokens and return the verified ID token's claims."""
        tokens = await self._exchange(provider, code, attempt.verifier)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise SignInRefused("the identity provider sent no ID token")
        access = tokens.get("access_token")
        return await self.verify(provider, id_token, nonce=attempt.nonce,
                                 access_token=access if isinstance(access, str) else None)

    async def verify(self, provider: OidcProviderConfig, id_token: str, *, nonce: str,
                     access_token: str | None = None) -> dict[str, Any]:
        """The ID token's claims, once its signature (the provider's JWKS) and its claims
        (issuer, audience, expiry, nonce) hold."""
        metadata = await self.metadata(provider)
        algorithms = _algorithms(metadata)
        try:
            try:
                token = jwt.decode(id_token, await self._keys(provider), algorithms)
            except InvalidKeyIdError:
                token = jwt.decode(id_token, await self._keys(provider, fresh=True), algorithms)
        except JoseError as exc:
            log.info("oidc %s: ID token signature refused (%s)", provider.id, exc.error)
            raise SignInRefused("the identity provider's ID token is not signed by one of "
                                "its keys") from None
        options = {"iss": {"essential": True, "value": provider.issuer},
                   "aud": {"essential": True, "value": provider.client_id}}
        params = {"nonce": nonce, "client_id": provider.client_id}
        if access_token:
            params["access_token"] = access_token
        claims = CodeIDToken(token.claims, token.header, options, params)
        try:
            claims.validate(now=int(self.clock()), leeway=LEEWAY_S)
        except JoseError as exc:
            log.info("oidc %s: ID token claims refused (%s)", provider.id, exc.description)
            raise SignInRefused(f"the identity provider's ID token is not for this service "
                                f"or this sign-in ({_claim_problem(exc)})") from None
        if "nonce" not in claims:
            raise SignInRefused("the identity provider's ID token carries no nonce")
        return dict(claims)

    async def metadata(self, provider: OidcProviderConfig) -> dict[str, Any]:
        found = self._found.get(provider.id)
        if found is None or time.monotonic() - found.at > METADATA_TTL_S:
            url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
            document = await self._get_json(provider, url)
            if document.get("issuer") != provider.issuer:
                raise SignInRefused("the identity provider's discovery document names "
                                    "another issuer")
            found = _Discovered(document)
            self._found[provider.id] = found
        return found.metadata

    async def _keys(self, provider: OidcProviderConfig, *, fresh: bool = False) -> KeySet:
        metadata = await self.metadata(provider)
        found = self._found[provider.id]
        if found.jwks is None or fresh:
            found.jwks = await self._get_json(provider, _endpoint(metadata, "jwks_uri"))
        try:
            return KeySet.import_key_set(found.jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError):
            raise SignInRefused("the identity provider's keys cannot be read") from None

    async def _exchange(self, provider: OidcProviderConfig, code: str,
                        verifier: str) -> dict[str, Any]:
        metadata = await self.metadata(provider)
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.redirect_uri(provider), "code_verifier": verifier,
                "client_id": provider.client_id}
        headers = {"Accept": "application/json"}
        if provider.client_secret:
            methods = metadata.get("token_endpoint_auth_methods_supported",
                                   ["client_secret_basic"])
            if "client_secret_basic" in methods:
                headers["Authorization"] = basic_auth(provider.client_id,
                                                      provider.client_secret)
            else:
                form["client_secret"] = provider.client_secret
        try:
            async with self.http.post(_endpoint(metadata, "token_endpoint"), data=form,
                                      headers=headers, allow_redirects=False) as resp:
                body = await resp.json(content_type=None)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("oidc %s: token endpoint failed: %s", provider.id, exc)
            raise SignInRefused("the identity provider could not be reached") from None
        if status != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            log.info("oidc %s: token endpoint answered %s %s", provider.id, status, error)
            raise SignInRefused(f"the identity provider refused the sign-in ({error or status})")
        return body

    async def _get_json(self, provider: OidcProviderConfig, url: str) -> dict[str, Any]:
        try:
            async with self.http.get(url, headers={"Accept": "application/json"},
                                     allow_redirects=False) as resp:
                resp.raise_for_status()
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("oidc %s: %s failed: %s", provider.id, url, exc)
            raise SignInRefused("the identity provider could not be reached") from None
        if not isinstance(body, dict):
            raise SignInRefused("the identity provider's answer is not a JSON object")
        return body


def basic_auth(client_id: str, secret: str) -> str:
    """``client_secret_basic`` (RFC 6749 2.3.1): each part form-encoded, then Base64."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def _endpoint(metadata: dict[str, Any], name: str) -> str:
    value = metadata.get(name)
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise SignInRefused(f"the identity provider's discovery document has no {name}")
    return value


def _algorithms(metadata: dict[str, Any]) -> list[str]:
    """The provider's ID token algorithms that we accept (RS256 when it names none)."""
    named = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    return [alg for alg in SIGNING_ALGORITHMS if isinstance(named, list) and alg in named]


def _claim_problem(exc: JoseError) -> str:
    """Which claim failed, in a few words (``exp`` -> "it has expired")."""
    words = {"aud": "it is meant for another service", "iss": "another issuer made it",
             "nonce": "it answers another sign-in", "exp": "it has expired",
             "iat": "its issue time is wrong", "azp": "it is meant for another service"}
    name = getattr(exc, "claim", "") or ""
    if exc.error == "expired_token":
        name = "exp"
    return words.get(name, f"claim {name or exc.error}")
