"""Single-use authorization codes bound to a client, a redirect URI and a PKCE S256 challenge."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from .users import DemoUser

__all__ = ["AuthCode", "CodeStore", "s256", "VERIFIER_RE", "CHALLENGE_RE"]

CODE_TTL_S = 60.0
MAX_OUTSTANDING = 10_000
# RFC 7636 §4.1 and §4.2: 43-128 unreserved characters; an S256 challenge is 43 base64url characters.
VERIFIER_RE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
CHALLENGE_RE = re.compile(r"[A-Za-z0-9\-_]{43}")


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass(frozen=True)
class AuthCode:
    client_id: str
    redirect_uri: str
    challenge: str
    user: DemoUser
    scope: str
    nonce: str | None
    issued_at: float
    expires_at: float


class CodeStore:
    """Codes waiting to be exchanged; a code leaves the store on its first exchange, right or wrong."""

    def __init__(self, ttl_s: float = CODE_TTL_S, clock: Callable[[], float] = time.time) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._codes: dict[str, AuthCode] = {}

    def issue(self, *, client_id: str, redirect_uri: str, challenge: str, user: DemoUser, scope: str,
              nonce: str | None) -> str:
        now = self.clock()
        self._codes = {c: v for c, v in self._codes.items() if v.expires_at > now}
        while len(self._codes) >= MAX_OUTSTANDING:
            self._codes.pop(next(iter(self._codes)))
        code = secrets.token_urlsafe(32)
        self._codes[code] = AuthCode(client_id, redirect_uri, challenge, user, scope, nonce, now, now + self.ttl_s)
        return code

    def redeem(self, code: str, *, client_id: str, redirect_uri: str, verifier: str) -> AuthCode:
        """The code's grant, or ValueError saying why it cannot be exchanged (RFC 6749 `invalid_grant`)."""
        grant = self._codes.pop(code, None)
        if grant is None or grant.expires_at <= self.clock():
            raise ValueError("the code is unknown, expired or already used")
        if grant.client_id != client_id:
            raise ValueError("the code was issued to another client")
        if grant.redirect_uri != redirect_uri:
            raise ValueError("redirect_uri does not match the one the code was issued for")
        if not VERIFIER_RE.fullmatch(verifier) or not secrets.compare_digest(s256(verifier), grant.challenge):
            raise ValueError("code_verifier does not match the code_challenge")
        return grant
