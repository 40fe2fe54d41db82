"""The OAuth 2.0 JWT bearer grant (RFC 7523), as Salesforce's "OAuth 2.0 JWT Bearer Flow for Server-to-Server
Integration" describes it: a JWT signed RS256 with the private key whose certificate the connected app holds.

What the stand-in checks, in this order, and what it answers (HTTP 400) when a check fails:

- the assertion is a JWT whose header says RS256 - else `invalid_grant` "invalid assertion";
- `iss` is the consumer key (client id) of the connected app - else `invalid_client_id` "client identifier invalid";
- the signature verifies with the certificate (or public key) registered for the app - else `invalid_grant`
  "invalid assertion";
- `aud` is https://login.salesforce.com or the org's own URL (its My Domain) - else `invalid_grant` "audience is
  invalid" (https://test.salesforce.com is a sandbox's, and this org is not one);
- `exp` is present and not past, with no leeway - else `invalid_grant` "expired authorization code";
- `sub` is the username of an active user of the org - else `invalid_grant` "user hasn't approved this consumer"
  (the demo app pre-authorizes every user, so a user it does not know is the only way to get that answer).

The token answer carries `access_token`, `scope`, `instance_url`, `id` and `token_type`; no refresh token, as the
flow never issues one.

What it does not check: that `exp` lies within the three minutes Salesforce asks for, `nbf`, `iat` and `jti` (nor
replays of one assertion), the certificate's validity dates, the app's policies (permitted users, profiles and
permission sets, IP relaxation, scopes), and Experience Cloud audiences."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .errors import OAuthError

__all__ = ["GRANT_TYPE", "LOGIN_URL", "public_keys", "verify"]

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_URL = "https://login.salesforce.com"


def public_keys(pems: Sequence[str]) -> tuple[rsa.RSAPublicKey, ...]:
    """The RSA public keys of certificates or public keys in PEM, as an app's registered certificates."""
    keys = []
    for pem in pems:
        data = pem.encode()
        key = (x509.load_pem_x509_certificate(data).public_key() if b"CERTIFICATE" in data
               else serialization.load_pem_public_key(data))
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("a connected app's certificate must hold an RSA key")
        keys.append(key)
    return tuple(keys)


def verify(assertion: str, *, client_id: str, keys: Sequence[rsa.RSAPublicKey], org_url: str) -> str:
    """The username an assertion names, once every check above has passed; raise OAuthError at the first that
    fails."""
    invalid = OAuthError("invalid_grant", "invalid assertion")
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise invalid from None
    if header.get("alg") != "RS256":
        raise invalid
    if claims.get("iss") != client_id:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if not any(_signed_by(assertion, key) for key in keys):
        raise invalid
    if claims.get("aud") not in (LOGIN_URL, org_url.rstrip("/")):
        raise OAuthError("invalid_grant", "audience is invalid")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= time.time():
        raise OAuthError("invalid_grant", "expired authorization code")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    return subject


def _signed_by(assertion: str, key: rsa.RSAPublicKey) -> bool:
    options: dict[str, Any] = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False,
                               "verify_iss": False}
    try:
        jwt.decode(assertion, key, algorithms=["RS256"], options=options)
    except jwt.PyJWTError:
        return False
    return True
