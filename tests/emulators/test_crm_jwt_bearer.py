"""The CRM stand-in's OAuth 2.0 JWT bearer grant: a good assertion gets a token that works; each documented refusal
comes back as Salesforce words it (HTTP 400, `error` and `error_description`)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulators.crm import create_app
from emulators.seed import CRM_CREDENTIALS, build_world, crm_jwt_keys
from emulators.server import EmulatorServer

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
USER = CRM_CREDENTIALS["username"]


def _other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def org() -> Iterator[EmulatorServer]:
    server = EmulatorServer.for_app(create_app("us", build_world(8))).start()
    yield server
    server.stop()


def _assertion(org: EmulatorServer, *, key: object = None, algorithm: str = "RS256", **claims: object) -> str:
    body = {"iss": CRM_CREDENTIALS["client_id"], "sub": USER, "aud": org.url, "exp": int(time.time()) + 180,
            **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key if key is not None else crm_jwt_keys().private_key, algorithm=algorithm)


def _token(org: EmulatorServer, assertion: str, grant_type: str = GRANT) -> httpx.Response:
    return httpx.post(f"{org.url}/services/oauth2/token", data={"grant_type": grant_type, "assertion": assertion})


def test_a_good_assertion_gets_a_token_that_works(org: EmulatorServer) -> None:
    r = _token(org, _assertion(org))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access_token", "scope", "instance_url", "id", "token_type"}  # never a refresh token
    assert body["instance_url"] == org.url and body["token_type"] == "Bearer"
    q = httpx.get(f"{org.url}/services/data/v66.0/query", params={"q": "SELECT Id FROM Account LIMIT 1"},
                  headers={"Authorization": f"Bearer {body['access_token']}"})
    assert q.status_code == 200 and q.json()["totalSize"] == 1


def test_the_login_url_is_an_audience_too(org: EmulatorServer) -> None:
    assert _token(org, _assertion(org, aud="https://login.salesforce.com")).status_code == 200


@pytest.mark.parametrize(("claims", "error", "description"), [
    ({"key": "other"}, "invalid_grant", "invalid assertion"),
    ({"exp": -30}, "invalid_grant", "expired authorization code"),
    ({"exp": None}, "invalid_grant", "expired authorization code"),
    ({"aud": "https://test.salesforce.com"}, "invalid_grant", "audience is invalid"),
    ({"aud": "https://elsewhere.example.com"}, "invalid_grant", "audience is invalid"),
    ({"iss": "someone-else"}, "invalid_client_id", "client identifier invalid"),
    ({"sub": "nobody@crm.example.com"}, "invalid_grant", "user hasn't approved this consumer"),
    ({"algorithm": "HS256"}, "invalid_grant", "invalid assertion"),
], ids=["wrong-key", "expired", "no-exp", "sandbox-audience", "wrong-audience", "unknown-app", "unknown-user",
        "not-rs256"])
def test_each_refusal_is_the_documented_error(org: EmulatorServer, claims: dict, error: str,
                                             description: str) -> None:
    key: object = None
    if claims.pop("key", None) == "other":
        key = _other_key()
    algorithm = claims.pop("algorithm", "RS256")
    if algorithm == "HS256":
        key = "a shared secret that is long enough for HS256 at least"
    if claims.get("exp") == -30:
        claims["exp"] = int(time.time()) - 30
    r = _token(org, _assertion(org, key=key, algorithm=algorithm, **claims))
    assert r.status_code == 400, r.text
    assert r.json() == {"error": error, "error_description": description}


def test_garbage_is_an_invalid_assertion(org: EmulatorServer) -> None:
    for assertion in ("", "not.a.jwt", "a" * 50):
        r = _token(org, assertion)
        assert r.status_code == 400 and r.json()["error_description"] == "invalid assertion"


def test_a_registered_public_key_replaces_the_demo_certificate() -> None:
    key = _other_key()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    server = EmulatorServer.for_app(create_app("eu", build_world(8), jwt_certificates=[public])).start()
    try:
        assert _token(server, _assertion(server, key=key)).status_code == 200
        refused = _token(server, _assertion(server))  # the demo key is not this app's any more
        assert refused.json()["error_description"] == "invalid assertion"
    finally:
        server.stop()
