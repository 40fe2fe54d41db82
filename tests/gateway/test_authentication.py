"""Every GraphQL request is an authenticated user: each way a token can be wrong is a 401, never a 500."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from emulators import idp
from emulators.server import EmulatorServer
from gateway.auth import Authenticator, Unauthenticated
from gateway.settings import Settings
from tests.conftest import set_knobs

VIEWER = "{ viewer { name email permissions } }"
CLARA = "clara.oswald@ctms.example.com"
LEEWAY_S = 30  # Settings.oidc_leeway_s


@pytest.fixture(scope="module")
def provider():
    """An identity provider of this module's own: its keys are rotated and it is taken down here."""
    server = EmulatorServer.for_app(idp.create_app()).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(stack, provider):
    return stack.start_gateway(oidc_issuer=provider.url, worker=False)


def mint(provider: EmulatorServer, **claims: object) -> str:
    user = next(u for u in idp.DEMO_USERS if u.email == CLARA)
    body = {"claims": {**user.claims(), **claims}}
    with httpx.Client(base_url=provider.url) as http:
        r = http.post("/_admin/mint", json=body)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def rotate(provider: EmulatorServer, **body: object) -> str:
    with httpx.Client(base_url=provider.url) as http:
        r = http.post("/_admin/rotate", json=body)
    assert r.status_code == 200, r.text
    return r.json()["kid"]


def refused(gateway, token: str | None, header: str | None = None) -> dict:
    headers = {"Accept": "application/json"}
    if header is not None:
        headers["Authorization"] = header
    r = gateway.post(VIEWER, token=token, headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith("Bearer")
    [error] = r.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in r.json()
    return error


def accepted(gateway, token: str) -> dict:
    r = gateway.post(VIEWER, token=token)
    assert r.status_code == 200, r.text
    return r.json()["data"]["viewer"]


def _foreign_token(kid: str, **claims: object) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def test_a_demo_user_signed_in_through_the_provider_is_the_viewer(stack) -> None:
    viewer = stack.as_user(CLARA).gql(VIEWER)["data"]["viewer"]
    assert viewer == {"name": "Clara Oswald", "email": CLARA, "permissions": [
        "CLINICAL_ACTIVITY_CREATE", "CLINICAL_ACTIVITY_EDIT", "MEDICAL_ACTIVITY_VIEW"]}


def test_no_token_is_401_with_a_bearer_challenge(gateway) -> None:
    error = refused(gateway, None)
    assert "Bearer" in error["message"]


@pytest.mark.parametrize("header", ["Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer", "Bearer not.a.jwt", "Bearer a b",
                                    "Bearer " + "x" * 9000])
def test_a_malformed_header_or_token_is_401(gateway, header) -> None:
    refused(gateway, None, header)


def test_the_scheme_is_case_insensitive_and_the_token_is_not(gateway, provider) -> None:
    token = mint(provider)
    for scheme in ("bearer", "BEARER", "BeArEr"):
        r = gateway.post(VIEWER, token=None, headers={"Authorization": f"{scheme}  {token}"})
        assert r.status_code == 200 and r.json()["data"]["viewer"]["email"] == CLARA, r.text
    refused(gateway, None, f"Bearer {token.swapcase()}")


def test_expired_and_not_yet_valid_tokens_are_401(gateway, provider) -> None:
    now = int(time.time())
    assert "expired" in refused(gateway, mint(provider, exp=now - LEEWAY_S - 5))["message"]
    assert "not valid yet" in refused(gateway, mint(provider, nbf=now + LEEWAY_S + 30))["message"]


def test_clock_skew_within_the_leeway_is_accepted(gateway, provider) -> None:
    now = int(time.time())
    assert accepted(gateway, mint(provider, exp=now - LEEWAY_S + 5))["email"] == CLARA
    assert accepted(gateway, mint(provider, nbf=now + LEEWAY_S - 5, iat=now))["email"] == CLARA


def test_wrong_audience_and_wrong_issuer_are_401(gateway, provider) -> None:
    assert "audience" in refused(gateway, mint(provider, aud="another-api"))["message"]
    assert "issuer" in refused(gateway, mint(provider, iss="http://127.0.0.1:1/evil"))["message"]


def test_unknown_key_and_bad_signature_are_401(gateway, provider) -> None:
    now = int(time.time())
    claims = {"iss": provider.url, "aud": "ccgw", "sub": "x", "exp": now + 300, "iat": now}
    assert "unknown" in refused(gateway, _foreign_token("no-such-key", **claims))["message"]
    published = jwt.get_unverified_header(mint(provider))["kid"]
    assert "signature" in refused(gateway, _foreign_token(published, **claims))["message"]
    good = mint(provider)
    head, body, sig = good.split(".")
    tampered_body = jwt.utils.base64url_encode(b'{"sub":"someone-else","aud":"ccgw"}').decode()
    refused(gateway, f"{head}.{tampered_body}.{sig}")


def test_unsigned_and_symmetric_tokens_are_401(gateway, provider) -> None:
    claims = jwt.decode(mint(provider), options={"verify_signature": False})
    assert "algorithm" in refused(gateway, jwt.encode(claims, None, algorithm="none"))["message"]
    assert "algorithm" in refused(gateway, jwt.encode(claims, "secret" * 8, algorithm="HS256"))["message"]


def test_a_token_without_subject_is_401(gateway, provider) -> None:
    refused(gateway, mint(provider, sub=""))


@pytest.mark.slow  # waits for real time to pass (the key cache cooling down)
def test_key_rotation_needs_no_restart(gateway, provider) -> None:
    before = mint(provider)
    accepted(gateway, before)
    for alg in ("ES256", "RS256"):
        kid = rotate(provider, alg=alg)
        after = mint(provider)
        assert jwt.get_unverified_header(after)["kid"] == kid and jwt.get_unverified_header(after)["alg"] == alg
        time.sleep(0.3)  # the test gateway's refetch cooldown
        assert accepted(gateway, after)["email"] == CLARA
    assert accepted(gateway, before)["email"] == CLARA  # the old key was kept


def test_provider_down_does_not_fail_requests_with_cached_keys(stack, gateway, provider) -> None:
    token = mint(provider)
    accepted(gateway, token)
    set_knobs(provider, outage="refuse")
    try:
        started = time.monotonic()
        for _ in range(3):
            assert accepted(gateway, token)["email"] == CLARA
        assert time.monotonic() - started < 3
        # A gateway that never saw the keys cannot verify anything: 503, not 401 and not 500.
        fresh = stack.start_gateway(oidc_issuer=provider.url, worker=False)
        r = fresh.post(VIEWER, token=token)
        assert r.status_code == 503 and r.json()["errors"][0]["extensions"]["code"] == "IDENTITY_PROVIDER_UNAVAILABLE"
    finally:
        set_knobs(provider, outage=None)


def test_unknown_roles_give_no_permission(gateway, provider) -> None:
    viewer = accepted(gateway, mint(provider, roles=["superuser", "ADMIN"], sub=f"u-{uuid.uuid4().hex}"))
    assert viewer["permissions"] == []


def test_the_roles_claim_name_is_configurable(stack, provider) -> None:
    gw = stack.start_gateway(oidc_issuer=provider.url, oidc_roles_claim="groups", worker=False)
    viewer = accepted(gw, mint(provider, roles=[], groups=["admin"]))
    assert "CONNECTION_ADMIN" in viewer["permissions"]


def test_a_service_account_is_a_user_with_its_own_profile(stack) -> None:
    from gateway.tokens import fetch_service_token

    token = fetch_service_token(stack.idp.url, idp.SERVICE_CLIENT["client_id"], idp.SERVICE_CLIENT["client_secret"])
    viewer = stack.gateway.with_token(token).gql(VIEWER)["data"]["viewer"]
    assert viewer == {"name": "service-account-ccgw-integration", "email": "",
                      "permissions": ["CLINICAL_ACTIVITY_CREATE", "CLINICAL_ACTIVITY_EDIT"]}


def test_health_is_open_and_readiness_shows_details_to_admins_only(stack) -> None:
    with httpx.Client(base_url=stack.url) as http:
        assert http.get("/healthz").json() == {"status": "alive"}
        anonymous = http.get("/readyz")
        assert anonymous.json() == {"status": "ready"}
        clara = http.get("/readyz", headers={"Authorization": f"Bearer {stack.token(CLARA)}"})
        assert clara.json() == {"status": "ready"}
        admin = http.get("/readyz", headers={"Authorization": f"Bearer {stack.gateway.token}"})
        assert {s["name"] for s in admin.json()["sources"]} == {"ctms", "crm:us", "crm:eu"}


def _actor(authenticator: Authenticator, token: str):
    return asyncio.run(_actor_of(authenticator, token))


async def _actor_of(authenticator: Authenticator, token: str):
    try:
        return await authenticator.actor(f"Bearer {token}")
    finally:
        await authenticator.keys.close()  # each asyncio.run has its own loop: a new session next time


def test_a_cached_token_is_verified_again_once_its_key_is_replaced(provider) -> None:
    authenticator = Authenticator(Settings(oidc_issuer=provider.url))
    token = mint(provider)
    assert _actor(authenticator, token).email == CLARA
    assert len(authenticator.verified) == 1
    kid = jwt.get_unverified_header(token)["kid"]
    other = jwt.PyJWK.from_json(jwt.algorithms.RSAAlgorithm.to_jwk(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()))
    authenticator.keys._keys[kid] = other  # as a refetch publishing another key under the same id would
    with pytest.raises(Unauthenticated, match="signature"):
        _actor(authenticator, token)


def test_ttl_zero_verifies_every_request(provider) -> None:
    authenticator = Authenticator(Settings(oidc_issuer=provider.url, oidc_token_cache_s=0))
    token = mint(provider)
    for _ in range(2):
        assert _actor(authenticator, token).email == CLARA
    assert len(authenticator.verified) == 0


@pytest.mark.slow  # waits for real time to pass the token's exp
def test_a_cached_token_still_expires_at_its_exp(provider) -> None:
    authenticator = Authenticator(Settings(oidc_issuer=provider.url, oidc_leeway_s=0))
    token = mint(provider, exp=int(time.time()) + 2)
    assert _actor(authenticator, token).email == CLARA
    assert authenticator.verified.get(token) is not None
    while time.time() < jwt.decode(token, options={"verify_signature": False})["exp"]:
        time.sleep(0.2)
    with pytest.raises(Unauthenticated, match="expired"):
        _actor(authenticator, token)
