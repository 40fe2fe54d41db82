"""The Salesforce client's JWT bearer sign-in (RFC 7523) against the CRM stand-in: the assertion it signs, a token
that works (renewed with a fresh assertion), and the refusals as typed errors that carry codes, never text."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from datasources.crm.client import CrmClient, JwtBearer, SalesforceToken
from datasources.errors import SourceRejected
from datasources.http import HttpSettings
from emulators import crm
from emulators.seed import CRM_CREDENTIALS, build_world, crm_jwt_keys
from emulators.server import EmulatorServer
from tests.conftest import reset_stats_of, stats_of

pytestmark = pytest.mark.anyio
USER = CRM_CREDENTIALS["username"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def org() -> Iterator[EmulatorServer]:
    server = EmulatorServer.for_app(crm.create_app("us", build_world(8), token_ttl_s=0.3)).start()
    yield server
    server.stop()


def _client(org: EmulatorServer, key: str | None = None, audience: str | None = None,
            client_id: str = CRM_CREDENTIALS["client_id"]) -> CrmClient:
    bearer = JwtBearer(key if key is not None else crm_jwt_keys().private_key, USER, audience)
    return CrmClient("us", org.url, client_id=client_id, bearer=bearer, settings=HttpSettings(retries=0))


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def test_the_assertion_names_app_user_and_audience_and_expires_within_three_minutes() -> None:
    token = SalesforceToken("app-id", "", None, None, JwtBearer(crm_jwt_keys().private_key, USER))
    public = serialization.load_pem_public_key(serialization.load_pem_private_key(
        crm_jwt_keys().private_key.encode(), None).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assertion = token.assertion("https://acme.my.salesforce.com")
    assert jwt.get_unverified_header(assertion)["alg"] == "RS256"
    claims = jwt.decode(assertion, public, algorithms=["RS256"], audience="https://acme.my.salesforce.com")
    assert claims["iss"] == "app-id" and claims["sub"] == USER
    assert time.time() < claims["exp"] <= time.time() + 180
    audience = SalesforceToken("app-id", "", None, None, JwtBearer(crm_jwt_keys().private_key, USER,
                                                                   "https://login.salesforce.com"))
    assert jwt.decode(audience.assertion("https://acme.my.salesforce.com"), public, algorithms=["RS256"],
                      audience="https://login.salesforce.com")["aud"] == "https://login.salesforce.com"


async def test_a_good_key_signs_in_and_a_new_assertion_renews_the_token(org: EmulatorServer) -> None:
    client = _client(org)
    try:
        first = await client.query("SELECT Id FROM Account")
        assert first
        token = (await client.credential()).token
        await asyncio.sleep(0.5)  # past the stand-in's token lifetime: the next call signs a new assertion
        assert await client.query("SELECT Id FROM Account") == first
        assert (await client.credential()).token != token
    finally:
        await client.close()


async def test_login_url_audience_is_accepted(org: EmulatorServer) -> None:
    client = _client(org, audience="https://login.salesforce.com")
    try:
        assert await client.query("SELECT Id FROM Account LIMIT 1")
    finally:
        await client.close()


@pytest.mark.parametrize(("change", "code"), [
    ({"key": "other"}, "INVALID_GRANT"),
    ({"audience": "https://test.salesforce.com"}, "INVALID_GRANT"),
    ({"client_id": "not-the-app"}, "INVALID_CLIENT_ID"),
])
async def test_refusals_are_typed_with_the_oauth_code(org: EmulatorServer, change: dict, code: str) -> None:
    if change.get("key") == "other":
        change["key"] = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    client = _client(org, **change)
    try:
        with pytest.raises(SourceRejected, match="login failed") as exc:
            await client.query("SELECT Id FROM Account")
        assert exc.value.code == code and exc.value.status == 400
        assert "assertion" not in str(exc.value) and "audience" not in str(exc.value)  # codes, not the org's text
    finally:
        await client.close()


@pytest.mark.parametrize("key", ["", "not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                                 "public"])
async def test_a_key_that_cannot_sign_is_refused_before_anything_is_sent(org: EmulatorServer, key: str) -> None:
    if key == "public":
        key = serialization.load_pem_private_key(crm_jwt_keys().private_key.encode(), None).public_key(
        ).public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    reset_stats_of(org)
    client = _client(org, key=key)
    try:
        with pytest.raises(SourceRejected, match="login failed") as exc:
            await client.query("SELECT Id FROM Account")
        assert exc.value.code == "INVALID_PRIVATE_KEY"
        assert not any("oauth2" in endpoint for endpoint in stats_of(org))
    finally:
        await client.close()

