"""The identity provider stand-in over real HTTP, as a browser page, a service client and a verifier use it."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from emulators.idp import DEMO_USERS, SERVICE_CLIENT, create_app
from emulators.server import EmulatorServer
from tests.browser import offline_page

REDIRECT = "http://127.0.0.1:8000/timeline/callback"
MARTIN = next(u for u in DEMO_USERS if u.email == "martin.keller@ctms.example.com")


@pytest.fixture(scope="module")
def idp() -> Iterator[EmulatorServer]:
    server = EmulatorServer.for_app(create_app()).start()
    yield server
    server.stop()


@pytest.fixture
def http(idp: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=idp.url, timeout=10, follow_redirects=False) as client:
        yield client


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(challenge: str, **extra: str) -> dict[str, str]:
    return {"response_type": "code", "client_id": "ccgw-web", "redirect_uri": REDIRECT, "state": "st-1",
            "code_challenge": challenge, "code_challenge_method": "S256", "scope": "openid profile email", **extra}


def query_of(response: httpx.Response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def sign_in(http: httpx.Client, email: str = MARTIN.email, **extra: str) -> tuple[str, str]:
    """The code and verifier of a sign-in through the login page."""
    verifier, challenge = pkce()
    params = authorize_params(challenge, **extra)
    assert http.get("/authorize", params=params).status_code == 200
    answer = http.post("/authorize", data={**params, "email": email})
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"].startswith(REDIRECT + "?")
    return query_of(answer)["code"], verifier


def exchange(http: httpx.Client, code: str, verifier: str, **changes: str) -> httpx.Response:
    return http.post("/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                     "client_id": "ccgw-web", "code_verifier": verifier, **changes})


def verify(http: httpx.Client, token: str, audience: str = "ccgw") -> dict[str, Any]:
    """The claims, checked against the published JWKS as a resource server would check them."""
    keys = jwt.PyJWKSet.from_dict(http.get("/jwks").json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    return jwt.decode(token, key.key, algorithms=["RS256", "ES256"], audience=audience,
                      issuer=str(http.base_url).rstrip("/"))


def oauth_error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


# Discovery and keys

def test_discovery_names_the_endpoints_on_the_port_it_was_reached_at(idp: EmulatorServer,
                                                                      http: httpx.Client) -> None:
    config = http.get("/.well-known/openid-configuration").json()
    assert config["issuer"] == idp.url
    for name, path in [("authorization_endpoint", "/authorize"), ("token_endpoint", "/token"),
                       ("jwks_uri", "/jwks"), ("end_session_endpoint", "/logout")]:
        assert config[name] == idp.url + path
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["response_types_supported"] == ["code"]
    assert set(config["grant_types_supported"]) == {"authorization_code", "client_credentials"}
    assert set(config["id_token_signing_alg_values_supported"]) == {"RS256", "ES256"}
    assert {"client_secret_basic", "client_secret_post"} <= set(config["token_endpoint_auth_methods_supported"])


def test_a_fixed_issuer_is_used_everywhere() -> None:
    server = EmulatorServer.for_app(create_app(issuer="http://idp.example/", audience="other")).start()
    try:
        config = httpx.get(server.url + "/.well-known/openid-configuration").json()
        assert config["issuer"] == "http://idp.example"
        assert config["token_endpoint"] == "http://idp.example/token"
        answer = httpx.post(server.url + "/token", data={"grant_type": "client_credentials", **SERVICE_CLIENT})
        claims = jwt.decode(answer.json()["access_token"], options={"verify_signature": False})
        assert (claims["iss"], claims["aud"]) == ("http://idp.example", "other")
    finally:
        server.stop()


# Authorization code + PKCE

def test_login_page_lists_the_demo_users_as_buttons(http: httpx.Client) -> None:
    _, challenge = pkce()
    page = http.get("/authorize", params=authorize_params(challenge, state='"><script>x</script>'))
    assert page.status_code == 200
    assert "<h1>" in page.text
    for user in DEMO_USERS:
        assert re.search(rf'<button type="submit" name="email" value="{re.escape(user.email)}"[^>]*>'
                         rf"{user.name}</button>", page.text)
        assert user.role in page.text
    assert "<script>" not in page.text and "&quot;&gt;&lt;script&gt;" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp
    assert "form-action 'self' http://127.0.0.1:8000" in csp


def test_code_flow_end_to_end(http: httpx.Client) -> None:
    verifier, challenge = pkce()
    params = authorize_params(challenge, nonce="n-42")
    back = http.post("/authorize", data={**params, "email": MARTIN.email})
    assert back.status_code == 302
    returned = query_of(back)
    assert returned["state"] == "st-1" and returned["iss"] == str(http.base_url).rstrip("/")
    answer = exchange(http, returned["code"], verifier)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "openid profile email"
    assert answer.headers["cache-control"] == "no-store"
    claims = verify(http, body["access_token"])
    assert {k: claims[k] for k in ("sub", "given_name", "family_name", "email", "roles", "client_id")} == {
        "sub": MARTIN.sub, "given_name": "Martin", "family_name": "Keller", "email": MARTIN.email,
        "roles": ["cra"], "client_id": "ccgw-web"}
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"] and claims["jti"]
    id_claims = verify(http, body["id_token"], audience="ccgw-web")
    assert id_claims["nonce"] == "n-42" and id_claims["sub"] == MARTIN.sub


def test_each_user_gets_their_own_stable_subject(http: httpx.Client) -> None:
    subjects = set()
    for user in DEMO_USERS:
        code, verifier = sign_in(http, user.email)
        claims = verify(http, exchange(http, code, verifier).json()["access_token"])
        assert (claims["sub"], claims["email"], claims["roles"]) == (user.sub, user.email, [user.role])
        subjects.add(claims["sub"])
    assert len(subjects) == len(DEMO_USERS)


def test_an_unknown_email_shows_the_page_again(http: httpx.Client) -> None:
    _, challenge = pkce()
    answer = http.post("/authorize", data={**authorize_params(challenge), "email": "mallory@example.com"})
    assert answer.status_code == 400 and "location" not in answer.headers
    assert 'role="alert"' in answer.text and "Clara Oswald" in answer.text


def test_a_wrong_verifier_is_refused_and_spends_the_code(http: httpx.Client) -> None:
    code, verifier = sign_in(http)
    assert oauth_error(exchange(http, code, pkce()[0])) == (400, "invalid_grant")
    assert oauth_error(exchange(http, code, verifier)) == (400, "invalid_grant")


def test_a_code_is_single_use(http: httpx.Client) -> None:
    code, verifier = sign_in(http)
    assert exchange(http, code, verifier).status_code == 200
    refused = exchange(http, code, verifier)
    assert oauth_error(refused) == (400, "invalid_grant") and refused.json()["error_description"]


def test_a_code_expires_after_a_minute(idp: EmulatorServer, http: httpx.Client) -> None:
    codes = idp.config.app.state.provider.codes
    code, verifier = sign_in(http)
    codes.clock = lambda: time.time() + 61
    try:
        assert oauth_error(exchange(http, code, verifier)) == (400, "invalid_grant")
    finally:
        codes.clock = time.time


def test_the_redirect_uri_must_match_at_the_token_endpoint(http: httpx.Client) -> None:
    code, verifier = sign_in(http)
    answer = exchange(http, code, verifier, redirect_uri="http://127.0.0.1:8000/elsewhere")
    assert oauth_error(answer) == (400, "invalid_grant")


def test_a_missing_verifier_or_grant_type_is_an_invalid_request(http: httpx.Client) -> None:
    code, _ = sign_in(http)
    assert oauth_error(exchange(http, code, "")) == (400, "invalid_request")
    assert oauth_error(http.post("/token", data={"client_id": "ccgw-web"})) == (400, "invalid_request")
    assert oauth_error(http.post("/token", data={"client_id": "ccgw-web", "grant_type": "password"})) == (
        400, "unsupported_grant_type")
    assert oauth_error(http.post("/token", json={"grant_type": "client_credentials"})) == (400, "invalid_request")


@pytest.mark.parametrize("client_id, redirect_uri", [
    ("nobody", REDIRECT),
    ("ccgw-web", "https://evil.example/callback"),
    ("ccgw-web", "http://127.0.0.1.evil.example/callback"),
    ("ccgw-web", "http://127.0.0.1:8000/cb#fragment"),
    (SERVICE_CLIENT["client_id"], REDIRECT),
])
def test_unknown_clients_and_foreign_redirects_get_an_error_page_never_a_redirect(
        http: httpx.Client, client_id: str, redirect_uri: str) -> None:
    _, challenge = pkce()
    params = authorize_params(challenge, client_id=client_id, redirect_uri=redirect_uri)
    submitted = http.post("/authorize", data={**params, "email": MARTIN.email})
    for answer in (http.get("/authorize", params=params), submitted):
        assert answer.status_code == 400 and "location" not in answer.headers
        assert answer.headers["content-type"].startswith("text/html") and 'role="alert"' in answer.text


def test_any_loopback_port_and_path_is_a_valid_redirect(http: httpx.Client) -> None:
    _, challenge = pkce()
    for uri in ("http://localhost:51234/x/y?keep=1", "http://127.0.0.1/"):
        page = http.get("/authorize", params=authorize_params(challenge, redirect_uri=uri))
        assert page.status_code == 200, uri
    back = http.post("/authorize", data={**authorize_params(challenge, redirect_uri="http://localhost:5/cb?keep=1"),
                                         "email": MARTIN.email})
    assert back.headers["location"].startswith("http://localhost:5/cb?keep=1&code=")


@pytest.mark.parametrize("changes, error", [
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": "too-short"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
])
def test_other_authorization_errors_go_back_to_the_client(http: httpx.Client, changes: dict[str, str],
                                                          error: str) -> None:
    _, challenge = pkce()
    answer = http.get("/authorize", params={**authorize_params(challenge), **changes})
    assert answer.status_code == 302 and answer.headers["location"].startswith(REDIRECT)
    returned = query_of(answer)
    assert returned["error"] == error and returned["state"] == "st-1" and "code" not in returned


# Client credentials

def test_client_credentials_by_basic_and_by_post(http: httpx.Client) -> None:
    basic = http.post("/token", data={"grant_type": "client_credentials"},
                      auth=(SERVICE_CLIENT["client_id"], SERVICE_CLIENT["client_secret"]))
    posted = http.post("/token", data={"grant_type": "client_credentials", **SERVICE_CLIENT})
    for answer in (basic, posted):
        assert answer.status_code == 200, answer.text
        claims = verify(http, answer.json()["access_token"])
        assert claims["sub"] == claims["preferred_username"] == "service-account-ccgw-integration"
        assert claims["client_id"] == claims["azp"] == "ccgw-integration"
        assert claims["roles"] == ["integration"] and "email" not in claims


def test_client_credentials_refusals(http: httpx.Client) -> None:
    wrong = http.post("/token", data={"grant_type": "client_credentials"},
                      auth=(SERVICE_CLIENT["client_id"], "not-the-secret"))
    assert oauth_error(wrong) == (401, "invalid_client") and wrong.headers["www-authenticate"].startswith("Basic")
    posted = http.post("/token", data={"grant_type": "client_credentials", "client_id": "ccgw-integration",
                                       "client_secret": "nope"})
    assert oauth_error(posted) == (401, "invalid_client")
    assert oauth_error(http.post("/token", data={"grant_type": "client_credentials"})) == (401, "invalid_client")
    assert oauth_error(http.post("/token", data={"grant_type": "client_credentials", "client_id": "nobody"})) == (
        401, "invalid_client")
    public = http.post("/token", data={"grant_type": "client_credentials", "client_id": "ccgw-web"})
    assert oauth_error(public) == (400, "unauthorized_client")
    garbled = http.post("/token", data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic %%%"})
    assert oauth_error(garbled) == (401, "invalid_client")


# Key rotation and minting

def test_rotation_keeps_old_keys_until_told_to_drop_them(http: httpx.Client) -> None:
    before = http.post("/token", data={"grant_type": "client_credentials", **SERVICE_CLIENT}).json()["access_token"]
    old_kid = jwt.get_unverified_header(before)["kid"]
    rotated = http.post("/_admin/rotate", json={"alg": "ES256", "keep_old": True})
    assert rotated.status_code == 200
    new_kid = rotated.json()["kid"]
    keys = http.get("/jwks").json()["keys"]
    assert [k["kid"] for k in keys][:2] == [new_kid, old_kid]
    assert (keys[0]["kty"], keys[0]["alg"], keys[0]["use"]) == ("EC", "ES256", "sig")
    assert verify(http, before)["sub"] == "service-account-ccgw-integration"
    after = http.post("/token", data={"grant_type": "client_credentials", **SERVICE_CLIENT}).json()["access_token"]
    assert jwt.get_unverified_header(after) | {"typ": "JWT"} == {"alg": "ES256", "kid": new_kid, "typ": "JWT"}
    assert verify(http, after)["client_id"] == "ccgw-integration"
    latest = http.post("/_admin/rotate", json={"alg": "RS256", "keep_old": False}).json()["kid"]
    assert [k["kid"] for k in http.get("/jwks").json()["keys"]] == [latest]
    assert new_kid != latest and old_kid != latest


def test_rotate_refuses_bad_bodies(http: httpx.Client) -> None:
    assert http.post("/_admin/rotate", json={"alg": "HS256"}).status_code == 400
    assert http.post("/_admin/rotate", json={"keep_old": "no"}).status_code == 400
    assert http.post("/_admin/rotate", json=["RS256"]).status_code == 400
    assert http.post("/_admin/rotate", content=b"{", headers={"Content-Type": "application/json"}).status_code == 400


def test_mint_fills_defaults_and_signs_with_a_named_key(http: httpx.Client) -> None:
    minted = http.post("/_admin/mint", json={"claims": {"sub": "someone", "roles": ["admin"]}})
    assert minted.status_code == 200
    claims = verify(http, minted.json()["token"])
    assert claims["sub"] == "someone" and claims["roles"] == ["admin"] and claims["exp"] > time.time()
    bare = http.post("/_admin/mint", json={"claims": {"sub": "x", "aud": "elsewhere"}, "defaults": False})
    assert jwt.decode(bare.json()["token"], options={"verify_signature": False}) == {"sub": "x", "aud": "elsewhere"}
    expired = http.post("/_admin/mint", json={"claims": {"exp": int(time.time()) - 120}}).json()["token"]
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(http, expired)
    older = http.post("/_admin/rotate", json={"keep_old": True}).json()["kid"]
    http.post("/_admin/rotate", json={"alg": "ES256"})
    named = http.post("/_admin/mint", json={"claims": {}, "kid": older}).json()["token"]
    assert jwt.get_unverified_header(named)["kid"] == older and verify(http, named)["aud"] == "ccgw"
    assert http.post("/_admin/mint", json={"claims": {}, "kid": "no-such-key"}).status_code == 400
    assert http.post("/_admin/mint", json={"claims": "sub=x"}).status_code == 400


@pytest.mark.parametrize("path, method", [("/_admin/rotate", "POST"), ("/_admin/mint", "POST"),
                                          ("/_admin/knobs", "PUT")])
def test_admin_accepts_only_json(http: httpx.Client, path: str, method: str) -> None:
    form = http.request(method, path, data={"alg": "RS256"})
    assert form.status_code == 415
    plain = http.request(method, path, content=b"{}", headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415
    assert http.request(method, path, content=b"{}").status_code == 415


def test_knobs_and_stats_are_there(http: httpx.Client) -> None:
    http.delete("/_admin/stats")
    http.get("/jwks")
    assert http.get("/_admin/stats").json()["GET /jwks"] == 1
    assert http.put("/_admin/knobs", json={"outage": "503"}).status_code == 200
    try:
        assert http.get("/jwks").status_code == 503
    finally:
        http.put("/_admin/knobs", json={"outage": None})
    assert http.get("/jwks").status_code == 200


# Browsers on other loopback ports, and logout

def test_cors_answers_loopback_origins_only(http: httpx.Client) -> None:
    origin = "http://127.0.0.1:8123"
    for path in ("/.well-known/openid-configuration", "/jwks"):
        assert http.get(path, headers={"Origin": origin}).headers["access-control-allow-origin"] == origin
    token = http.post("/token", data={"grant_type": "password"}, headers={"Origin": "http://localhost:9"})
    assert token.headers["access-control-allow-origin"] == "http://localhost:9"
    preflight = http.options("/token", headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == origin
    assert "POST" in preflight.headers["access-control-allow-methods"]
    foreign = http.get("/jwks", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in foreign.headers
    assert "access-control-allow-origin" not in http.get("/authorize", headers={"Origin": origin}).headers


def test_logout_returns_to_loopback_pages_only(http: httpx.Client) -> None:
    back = http.get("/logout", params={"post_logout_redirect_uri": "http://127.0.0.1:8000/timeline",
                                       "client_id": "ccgw-web", "state": "s"})
    assert back.status_code == 302 and back.headers["location"] == "http://127.0.0.1:8000/timeline?state=s"
    refused = http.get("/logout", params={"post_logout_redirect_uri": "https://evil.example/"})
    assert refused.status_code == 400 and "location" not in refused.headers
    assert http.get("/logout").status_code == 200


# In a real browser

async def _callback(request: Request) -> PlainTextResponse:
    return PlainTextResponse("signed in")


@pytest.mark.browser
def test_signing_in_from_chromium_lands_on_the_loopback_callback(idp: EmulatorServer, http: httpx.Client) -> None:
    client_app = EmulatorServer(Starlette(routes=[Route("/cb", _callback)])).start()
    redirect = f"{client_app.url}/cb"
    verifier, challenge = pkce()
    query = httpx.QueryParams(authorize_params(challenge, redirect_uri=redirect))
    try:
        with offline_page() as browser:
            page = browser.page
            page.goto(f"{idp.url}/authorize?{query}")
            assert page.get_by_role("heading", level=1).inner_text() == "Sign in to ccgw"
            page.get_by_role("button", name="Sofia Lindgren", exact=True).click()
            page.wait_for_url(f"{redirect}?*")
            assert page.inner_text("body") == "signed in"
            browser.assert_clean()
            returned = dict(parse_qs(urlsplit(page.url).query))
    finally:
        client_app.stop()
    answer = exchange(http, returned["code"][0], verifier, redirect_uri=redirect)
    assert verify(http, answer.json()["access_token"])["email"] == "sofia.lindgren@ctms.example.com"
