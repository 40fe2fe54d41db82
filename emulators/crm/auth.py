"""OAuth2 token grants (client credentials, username-password) and bearer-token sessions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from ..seed import CRM_CREDENTIALS
from .errors import ApiError
from .store import Store

__all__ = ["Auth", "Session", "OAuthError"]


@dataclass(frozen=True)
class Session:
    token: str
    user_id: str
    expires_at: float


class OAuthError(Exception):
    """A failed grant, answered as `{"error", "error_description"}` with HTTP 400."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class Auth:
    """Issues and checks access tokens for one org; tokens live in memory for `ttl_s` seconds."""

    def __init__(self, store: Store, org_id: str, ttl_s: float, credentials: dict[str, str] | None = None) -> None:
        self.store = store
        self.org_id = org_id
        self.ttl_s = ttl_s
        self.credentials = credentials or CRM_CREDENTIALS
        self.sessions: dict[str, Session] = {}

    def grant(self, form: dict[str, str], instance_url: str) -> dict[str, str]:
        """Check a token request and return the token response body; raise OAuthError on failure."""
        grant_type = form.get("grant_type", "")
        if grant_type not in ("client_credentials", "password"):
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        if form.get("client_id") != self.credentials["client_id"]:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if form.get("client_secret") != self.credentials["client_secret"]:
            raise OAuthError("invalid_client", "invalid client credentials")
        if grant_type == "password":
            user_id = self._user(form.get("username", ""))
            if user_id is None or form.get("password") != self.credentials["password"]:
                raise OAuthError("invalid_grant", "authentication failure")
        else:
            user_id = self._user(self.credentials["username"])
            if user_id is None:
                raise OAuthError("invalid_grant", "no client credentials user enabled")
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(72)}"
        self.sessions[token] = Session(token, user_id, time.monotonic() + self.ttl_s)
        issued_at = str(int(time.time() * 1000))
        identity = f"{instance_url}/id/{self.org_id}/{user_id}"
        digest = hmac.new(self.credentials["client_secret"].encode(), (identity + issued_at).encode(),
                          hashlib.sha256).digest()
        return {"access_token": token, "instance_url": instance_url, "id": identity, "token_type": "Bearer",
                "issued_at": issued_at, "signature": base64.b64encode(digest).decode()}

    def session(self, authorization: str | None) -> Session:
        """The session of an `Authorization: Bearer` (or `OAuth`) header; raise 401 INVALID_SESSION_ID if none."""
        scheme, _, token = (authorization or "").partition(" ")
        found = self.sessions.get(token.strip()) if scheme.lower() in ("bearer", "oauth") else None
        if found is None or found.expires_at < time.monotonic():
            if found is not None:
                self.sessions.pop(found.token, None)
            raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        return found

    def _user(self, username: str) -> str | None:
        ids = self.store.live_ids("User", "Username", username, limit=1) if username else []
        return ids[0] if ids else None
