"""Access and ID tokens: the claims each carries, signed with the key ring's current key."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .codes import AuthCode
from .keys import KeyRing
from .users import Client

__all__ = ["TokenIssuer"]


@dataclass
class TokenIssuer:
    keys: KeyRing
    audience: str
    ttl_s: int

    def defaults(self, issuer: str, now: int | None = None) -> dict[str, Any]:
        """The registered claims every access token carries."""
        now = int(time.time()) if now is None else now
        return {"iss": issuer, "aud": self.audience, "iat": now, "nbf": now, "exp": now + self.ttl_s,
                "jti": str(uuid.uuid4())}

    def for_code(self, issuer: str, grant: AuthCode) -> dict[str, Any]:
        """The token response of an authorization-code exchange: access token and ID token."""
        claims = {**self.defaults(issuer), **grant.user.claims(), "scope": grant.scope,
                  "client_id": grant.client_id, "azp": grant.client_id}
        access_token = self.keys.current.sign(claims)
        body = self._response(access_token, grant.scope)
        if "openid" in grant.scope.split():
            body["id_token"] = self.id_token(issuer, grant, access_token, claims["iat"])
        return body

    def for_client(self, issuer: str, client: Client, scope: str) -> dict[str, Any]:
        """The token response of a client-credentials grant: an access token naming the service account."""
        claims = {**self.defaults(issuer), **client.service_claims(), "scope": scope, "client_id": client.client_id}
        return self._response(self.keys.current.sign(claims), scope)

    def id_token(self, issuer: str, grant: AuthCode, access_token: str, now: int) -> str:
        claims = {**grant.user.claims(), "iss": issuer, "aud": grant.client_id, "azp": grant.client_id, "iat": now,
                  "exp": now + self.ttl_s, "auth_time": int(grant.issued_at), "at_hash": _at_hash(access_token)}
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        return self.keys.current.sign(claims)

    def mint(self, issuer: str, claims: dict[str, Any], kid: str | None, defaults: bool) -> str:
        """Any claims, for tests; with `defaults` the registered claims not given are filled in."""
        return self.keys.get(kid).sign({**self.defaults(issuer), **claims} if defaults else claims)

    def _response(self, access_token: str, scope: str) -> dict[str, Any]:
        return {"access_token": access_token, "token_type": "Bearer", "expires_in": self.ttl_s, "scope": scope}


def _at_hash(access_token: str) -> str:
    """OpenID Connect Core §3.1.3.6: the left half of the SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()
