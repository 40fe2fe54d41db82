"""The provider's signing keys: RS256 or ES256, rotated on demand, published as a JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

__all__ = ["SigningKey", "KeyRing", "ALGORITHMS", "UnknownKey"]

ALGORITHMS = ("RS256", "ES256")
# RFC 7638: the members a JWK thumbprint is computed over.
THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}


class UnknownKey(LookupError):
    """A key id the ring does not hold."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls, alg: str) -> SigningKey:
        if alg == "RS256":
            private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = rsa.generate_private_key(65537, 2048)
        elif alg == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        else:
            raise ValueError(f"alg must be one of {', '.join(ALGORITHMS)}")
        return cls(_thumbprint(_public_jwk(private)), alg, private)

    def jwk(self) -> dict[str, Any]:
        return {**_public_jwk(self.private_key), "kid": self.kid, "use": "sig", "alg": self.alg}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private_key, algorithm=self.alg, headers={"kid": self.kid})


class KeyRing:
    """The current signing key first, then the keys kept from earlier rotations."""

    def __init__(self, alg: str = "RS256") -> None:
        self.keys: list[SigningKey] = [SigningKey.generate(alg)]

    @property
    def current(self) -> SigningKey:
        return self.keys[0]

    def rotate(self, alg: str = "RS256", keep_old: bool = True) -> SigningKey:
        key = SigningKey.generate(alg)
        self.keys = [key, *self.keys] if keep_old else [key]
        return key

    def get(self, kid: str | None) -> SigningKey:
        if kid is None:
            return self.current
        for key in self.keys:
            if key.kid == kid:
                return key
        raise UnknownKey(kid)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.jwk() for key in self.keys]}


def _public_jwk(private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    if isinstance(private, rsa.RSAPrivateKey):
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    jwk.pop("key_ops", None)  # `use` says the same; RFC 7517 advises against both
    return jwk


def _thumbprint(jwk: dict[str, Any]) -> str:
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
