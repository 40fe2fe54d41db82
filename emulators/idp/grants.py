"""The token endpoint: authorization code + PKCE for the public client, client credentials for the service client."""

from __future__ import annotations

import base64
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .codes import AuthCode
from .provider import provider_of
from .users import CLIENTS, Client

__all__ = ["token"]

GRANT_TYPES = ("authorization_code", "client_credentials")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """An RFC 6749 §5.2 error response."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def response(self) -> JSONResponse:
        headers = dict(NO_STORE)
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="idp"'
        return JSONResponse({"error": self.error, "error_description": self.description}, self.status, headers)


async def token(request: Request) -> Response:
    try:
        params = await _form(request)
        client = _authenticate(request, params)
        grant_type = params.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is missing")
        if grant_type not in GRANT_TYPES:
            raise OAuthError("unsupported_grant_type", f"grant_type {grant_type} is not supported")
        if grant_type not in client.grant_types:
            raise OAuthError("unauthorized_client", f"this client may not use the {grant_type} grant")
        provider = provider_of(request)
        issuer = provider.issuer_for(request)
        if grant_type == "client_credentials":
            body = provider.tokens.for_client(issuer, client, params.get("scope", ""))
        else:
            body = provider.tokens.for_code(issuer, _redeem(request, params, client))
    except OAuthError as exc:
        return exc.response()
    return JSONResponse(body, headers=NO_STORE)


async def _form(request: Request) -> dict[str, str]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    items = (await request.form()).multi_items()
    if len({k for k, _ in items}) != len(items):
        raise OAuthError("invalid_request", "a parameter was sent more than once")
    return {k: v for k, v in items if isinstance(v, str)}


def _authenticate(request: Request, params: dict[str, str]) -> Client:
    """The calling client, by client_secret_basic, client_secret_post or (public client) its client_id alone."""
    client_id, secret = params.get("client_id"), params.get("client_secret")
    header = request.headers.get("authorization")
    if header is not None:
        if secret is not None:
            raise OAuthError("invalid_request", "use one client authentication method, not two")
        basic_id, secret = _basic(header)
        if client_id is not None and client_id != basic_id:
            raise OAuthError("invalid_request", "client_id differs from the authenticated client")
        client_id = basic_id
    if not client_id:
        raise OAuthError("invalid_client", "client authentication is missing", 401)
    client = CLIENTS.get(client_id)
    if client is None:
        raise OAuthError("invalid_client", "unknown client", 401)
    if client.public and secret is not None:
        raise OAuthError("invalid_client", "this public client has no secret", 401)
    if not client.public and not client.secret_matches(secret):
        raise OAuthError("invalid_client", "client authentication failed", 401)
    return client


def _basic(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    try:
        if scheme.lower() != "basic":
            raise ValueError
        client_id, sep, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        if not sep:
            raise ValueError
    except ValueError:  # binascii.Error and UnicodeDecodeError included
        raise OAuthError("invalid_client", "the Authorization header is not HTTP Basic client credentials",
                         401) from None
    # RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
    return unquote_plus(client_id), unquote_plus(secret)


def _redeem(request: Request, params: dict[str, str], client: Client) -> AuthCode:
    for name in ("code", "redirect_uri", "code_verifier"):
        if not params.get(name):
            raise OAuthError("invalid_request", f"{name} is missing")
    try:
        return provider_of(request).codes.redeem(params["code"], client_id=client.client_id,
                                                 redirect_uri=params["redirect_uri"], verifier=params["code_verifier"])
    except ValueError as exc:
        raise OAuthError("invalid_grant", str(exc)) from None
