"""OAuth2 token grants (client credentials, username-password, JWT bearer): `POST /services/oauth2/token`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulators.seed import CRM_CREDENTIALS

from . import jwt_bearer
from .context import org_of
from .errors import OAuthError
from .org import Org

__all__ = ["token"]


async def token(request: Request) -> Response:
    """Grant a token for the form's (or the query's) parameters; client credentials may come as Basic auth."""
    form = dict(request.query_params)
    form.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":  # client_secret_basic: the client id and secret in the header
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            client_id, secret = "", ""
        form.setdefault("client_id", unquote(client_id))
        form.setdefault("client_secret", unquote(secret))
    return JSONResponse(grant(org_of(request), form, f"{request.url.scheme}://{request.url.netloc}"))


def grant(org: Org, form: dict[str, str], instance_url: str) -> dict[str, str]:
    """Check a token request and return the token response body; raise OAuthError on failure."""
    if form.get("grant_type") == jwt_bearer.GRANT_TYPE:
        return _jwt_bearer(org, form, instance_url)
    user_id = _grant_user(org, form)
    session = org.sessions.open(user_id)
    issued_at = str(int(time.time() * 1000))
    identity = f"{instance_url}/id/{org.org_id}/{user_id}"
    digest = hmac.new(CRM_CREDENTIALS["client_secret"].encode(), (identity + issued_at).encode(),
                      hashlib.sha256).digest()
    return {"access_token": session.id, "instance_url": instance_url, "id": identity, "token_type": "Bearer",
            "issued_at": issued_at, "signature": base64.b64encode(digest).decode()}


def _grant_user(org: Org, form: dict[str, str]) -> str:
    """The user a grant signs in: the named user (password grant) or the integration user."""
    grant_type = form.get("grant_type", "")
    if grant_type not in ("client_credentials", "password"):
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    if form.get("client_id") != CRM_CREDENTIALS["client_id"]:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if form.get("client_secret") != CRM_CREDENTIALS["client_secret"]:
        raise OAuthError("invalid_client", "invalid client credentials")
    if grant_type == "password":
        user_id = _user(org, form.get("username", ""))
        if user_id is None or form.get("password") != CRM_CREDENTIALS["password"]:
            raise OAuthError("invalid_grant", "authentication failure")
        return user_id
    user_id = _user(org, CRM_CREDENTIALS["username"])
    if user_id is None:
        raise OAuthError("invalid_grant", "no client credentials user enabled")
    return user_id


def _jwt_bearer(org: Org, form: dict[str, str], instance_url: str) -> dict[str, str]:
    """The JWT bearer grant (see jwt_bearer for what is checked); it never issues a refresh token."""
    username = jwt_bearer.verify(form.get("assertion", ""), client_id=CRM_CREDENTIALS["client_id"],
                                 keys=org.jwt_keys, org_url=instance_url)
    user_id = _user(org, username)
    if user_id is None:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    session = org.sessions.open(user_id)
    return {"access_token": session.id, "scope": "api", "instance_url": instance_url,
            "id": f"{instance_url}/id/{org.org_id}/{user_id}", "token_type": "Bearer"}


def _user(org: Org, username: str) -> str | None:
    ids = org.store.live_ids("User", "Username", username, limit=1) if username else []
    return ids[0] if ids else None
