"""Who a request acts for: a bearer JWT from the configured OpenID provider, verified, made into an Actor."""

from __future__ import annotations

import logging
import re
from typing import Any

import jwt

from domain.permissions import Actor, Permission
from gateway.jwks import IdentityProviderUnavailable, KeySet
from gateway.profiles import Profiles
from gateway.settings import Settings
from gateway.token_cache import VerifiedTokens

log = logging.getLogger("ccgw.auth")

ALGORITHMS = ("RS256", "ES256")
MAX_TOKEN_CHARS = 8192
_USER = re.compile(r"^\s*(?P<name>[^<]*?)\s*<(?P<email>[^>]+)>\s*$")
# The scheme alone is case-insensitive: a pattern-wide IGNORECASE costs ~20 µs on a 1.5 KB token.
_BEARER = re.compile(r"(?i:bearer) +([A-Za-z0-9_.~+/=-]+)")


class Unauthenticated(Exception):
    """The request carries no token, or one we cannot accept; `reason` is safe to show (it holds no claim values)."""

    def __init__(self, reason: str, *, error: str | None = "invalid_token") -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error  # RFC 6750 error code for WWW-Authenticate; None when no token was sent


class Authenticator:
    """Verifies bearer tokens of one issuer: signature from its JWKS, iss, aud, exp, nbf with a leeway."""

    def __init__(self, settings: Settings, profiles: Profiles | None = None) -> None:
        if not settings.oidc_issuer:
            raise ValueError("an issuer is needed to verify tokens")
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.audience = settings.oidc_audience
        self.roles_claim = settings.oidc_roles_claim
        self.leeway_s = settings.oidc_leeway_s
        self.profiles = profiles or Profiles.load(settings.profiles_file)
        self.keys = KeySet(self.issuer, cooldown_s=settings.oidc_jwks_cooldown_s)
        self.verified = VerifiedTokens(settings.oidc_token_cache_s, settings.oidc_token_cache_size)

    async def actor(self, authorization: str | None) -> Actor:
        """The acting user of an `Authorization` header value; Unauthenticated when it does not prove one."""
        return (await self.actor_until(authorization))[0]

    async def actor_until(self, authorization: str | None) -> tuple[Actor, float]:
        """actor(), and when its token expires (seconds since the epoch, without the leeway)."""
        if not authorization:
            raise Unauthenticated("an Authorization: Bearer token is required", error=None)
        match = _BEARER.fullmatch(authorization.strip())
        if match is None or len(match[1]) > MAX_TOKEN_CHARS:
            raise Unauthenticated("the Authorization header is not a bearer token", error="invalid_request")
        token = match[1]
        cached = self.verified.get(token)
        # A cached token counts only while the key that verified it is still the one published under its id.
        if cached is not None and await self.keys.key(cached.kid) is cached.key:
            return cached.actor, cached.expires
        claims, kid, key = await self.verify(token)
        if not _text(claims.get("sub")):
            raise Unauthenticated("the token has no subject")
        actor, expires = self.actor_of(claims), float(claims["exp"])
        self.verified.put(token, actor, expires, kid, key)
        return actor, expires

    async def verify(self, token: str) -> tuple[dict[str, Any], str, jwt.PyJWK]:
        """The token's claims, and the id and key whose signature held; Unauthenticated when it does not."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthenticated("the token is malformed") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise Unauthenticated("the token's algorithm is not accepted")
        if not isinstance(kid, str) or not kid or len(kid) > 200:
            raise Unauthenticated("the token names no signing key")
        key = await self.keys.key(kid)
        if key is None:
            raise Unauthenticated("the token's signing key is unknown")
        if key.algorithm_name != alg:
            raise Unauthenticated("the token's algorithm does not match its key")
        try:
            claims = jwt.decode(token, key.key, algorithms=[alg], audience=self.audience, issuer=self.issuer,
                                leeway=self.leeway_s, options={"require": ["exp", "iss", "aud", "sub"]})
            return claims, kid, key
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated("the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated("the token is from another issuer") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("the token's signature is invalid") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"the token has no {exc.claim} claim") from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("the token is invalid") from None

    def actor_of(self, claims: dict[str, Any]) -> Actor:
        """The user the verified claims describe; a client-credentials token is a service account."""
        roles = claims.get(self.roles_claim) or []
        if isinstance(roles, str):
            roles = roles.split()
        if not isinstance(roles, list):
            roles = []
        profiles, permissions = self.profiles.resolve([r for r in roles if isinstance(r, str)])
        sub = _text(claims.get("sub"))
        service = "email" not in claims and ("client_id" in claims or "azp" in claims)
        first = _text(claims.get("given_name")) or (
            _text(claims.get("preferred_username")) or _text(claims.get("client_id")) if service else "")
        return Actor(sub=sub, first_name=first, last_name=_text(claims.get("family_name")),
                     email=_text(claims.get("email")), permissions=permissions, profiles=profiles)

    async def close(self) -> None:
        await self.keys.close()


def _text(value: object, limit: int = 200) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def default_actor(settings: Settings) -> Actor:
    """The acting user of a gateway without an identity provider (development on loopback only)."""
    match = _USER.match(settings.default_user)
    if not match:
        raise SystemExit(f"CCGW_DEFAULT_USER must look like 'First Last <email>', not {settings.default_user!r}")
    first, _, last = match["name"].partition(" ")
    try:
        perms = frozenset(Permission(p.strip()) for p in settings.default_permissions.split(",") if p.strip())
    except ValueError as exc:
        raise SystemExit(f"CCGW_DEFAULT_PERMISSIONS: {exc}") from None
    return Actor(f"local:{match['email']}", first, last, match["email"], perms, ("default",))


def check_binding(settings: Settings, host: str) -> None:
    """Refuse to serve anyone but this machine without an identity provider, unless told so explicitly."""
    if settings.oidc_issuer:
        return
    loopback = host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")
    if not loopback and not settings.insecure_no_auth:
        raise SystemExit(f"refusing to listen on {host} without an identity provider: set CCGW_OIDC_ISSUER "
                         "(or pass --insecure-no-auth to let every caller act as the default user)")
    log.warning("NO AUTHENTICATION: no identity provider is configured; every request acts as the default user "
                "(CCGW_DEFAULT_USER) with %s", settings.default_permissions or "no permissions")


__all__ = ["Authenticator", "IdentityProviderUnavailable", "Unauthenticated", "check_binding", "default_actor"]
