"""A real OpenID Connect provider for the tests, built with Authlib's server side and served
by aiohttp on 127.0.0.1: a discovery document, a JWKS, an authorization endpoint that
approves ``provider.user`` at once (no login form: the test is the user), and a token
endpoint that checks the client secret and the PKCE verifier and issues an RS256-signed ID
token. Its knobs make it misbehave as a broken or hostile provider would: sign with another
key, name another audience, return another nonce.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from joserfc.jwk import RSAKey

CLIENT_ID = "expertline-test"
CLIENT_SECRET = "s3cret-for-tests-only"


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    redirect_uri: str

    def get_client_id(self) -> str:
        return CLIENT_ID

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in ("openid", "email", "profile"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, CLIENT_SECRET)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint != "token" or method == "client_secret_basic"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    redirect_uri: str
    scope: str
    nonce: str | None
    challenge: str
    challenge_method: str
    user: dict[str, Any]
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


class Request(OAuth2Request):  # type: ignore[misc]
    """An aiohttp request, its query and form already read, as Authlib wants it."""

    def __init__(self, request: web.Request, form: dict[str, str]) -> None:
        super().__init__(request.method, str(request.url), headers=dict(request.headers))
        self._args = dict(request.query)
        self._form = form
        self.payload = BasicOAuth2Payload({**self._args, **form})

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class Provider:
    """The provider: ``start()`` serves it; ``user`` is whoever it signs in next."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-1", "use": "sig"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "test-1", "use": "sig"})
        self.user: dict[str, Any] = {"sub": "u-1", "email": "ann@nhs-a.example"}
        self.sign_with_other_key = False
        self.audience: str | None = None  # None: the client's id
        self.nonce: str | None = None  # None: the one the client sent
        self.codes: dict[str, Code] = {}
        self.server: TestServer | None = None
        self.redirect_uri = ""

    @property
    def issuer(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def start(self, make_server: Callable[..., Awaitable[TestServer]],
                    redirect_uri: str) -> None:
        self.redirect_uri = redirect_uri
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self.discovery)
        app.router.add_get("/jwks", self.jwks)
        app.router.add_get("/authorize", self.authorize)
        app.router.add_post("/token", self.token)
        self.server = await make_server(app, host="127.0.0.1")
        self.authlib = self._authorization_server()

    def _authorization_server(self) -> AuthorizationServer:
        provider = self
        client = Client(self.redirect_uri)

        class Server(AuthorizationServer):  # type: ignore[misc]
            def query_client(self, client_id: str) -> Client | None:
                return client if client_id == CLIENT_ID else None

            def save_token(self, token: dict[str, Any], request: Request) -> None:
                pass

            def create_oauth2_request(self, request: Request) -> Request:
                return request

            def handle_response(self, status: int, body: Any,
                                headers: list[tuple[str, str]]) -> web.Response:
                text = json.dumps(body) if isinstance(body, dict) else body or ""
                return web.Response(status=status, text=text, headers=dict(headers))

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                pass

        class Grant(AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

            def save_authorization_code(self, code: str, request: Request) -> None:
                data = request.payload.data
                provider.codes[code] = Code(
                    code, data["redirect_uri"], data.get("scope", ""), data.get("nonce"),
                    data.get("code_challenge", ""), data.get("code_challenge_method", ""),
                    request.user)

            def query_authorization_code(self, code: str, client: Client) -> Code | None:
                return provider.codes.get(code)

            def delete_authorization_code(self, authorization_code: Code) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: Code) -> dict[str, Any]:
                return authorization_code.user

        class Pkce(CodeChallenge):  # type: ignore[misc]
            SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

            def get_authorization_code_challenge(self, authorization_code: Code) -> str:
                return authorization_code.challenge

            def get_authorization_code_challenge_method(self, authorization_code: Code) -> str:
                return authorization_code.challenge_method

        class OpenID(OpenIDCode):  # type: ignore[misc]
            def exists_nonce(self, nonce: str, request: Request) -> bool:
                return any(c.nonce == nonce for c in provider.codes.values())

            def resolve_client_private_key(self, client: Client) -> RSAKey:
                return provider.other_key if provider.sign_with_other_key else provider.key

            def get_encode_header(self, client: Client) -> dict[str, str]:
                return {"alg": "RS256", "kid": "test-1"}

            def get_client_claims(self, client: Client) -> dict[str, Any]:
                return {"iss": provider.issuer, "aud": [provider.audience or CLIENT_ID]}

            def get_authorization_code_claims(self, authorization_code: Code) -> dict[str, Any]:
                claims: dict[str, Any] = super().get_authorization_code_claims(
                    authorization_code)
                if provider.nonce is not None:
                    claims["nonce"] = provider.nonce
                return claims

            def generate_user_info(self, user: dict[str, Any], scope: str) -> UserInfo:
                return UserInfo(user)

        server = Server(scopes_supported=["openid", "email", "profile"])
        server.register_token_generator("default", BearerTokenGenerator(
            lambda **_: secrets.token_urlsafe(24)))
        server.register_grant(Grant, [Pkce(required=True), OpenID(require_nonce=True)])
        return server

    async def discovery(self, _request: web.Request) -> web.Response:
        base = self.issuer
        return web.json_response({
            "issuer": base, "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token", "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "scopes_supported": ["openid", "email", "profile"]})

    async def jwks(self, _request: web.Request) -> web.Response:
        return web.json_response({"keys": [self.key.as_dict(private=False)]})

    async def authorize(self, request: web.Request) -> web.Response:
        oauth = Request(request, {})
        grant = self.authlib.get_consent_grant(oauth, end_user=self.user)
        response: web.Response = self.authlib.create_authorization_response(
            oauth, grant_user=self.user, grant=grant)
        return response

    async def token(self, request: web.Request) -> web.Response:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        response: web.Response = self.authlib.create_token_response(Request(request, form))
        return response
