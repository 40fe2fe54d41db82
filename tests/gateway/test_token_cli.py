"""`ccgw token` and `ccgw emulate idp`: getting an access token from the identity provider, as scripts do."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from typer.testing import CliRunner

from emulators.idp import DEMO_USERS, SERVICE_CLIENT, DemoUser, create_app
from emulators.server import EmulatorServer
from gateway.cli import app

CCGW = str(Path(sys.executable).with_name("ccgw"))
runner = CliRunner()


@pytest.fixture(scope="module")
def idp() -> Iterator[EmulatorServer]:
    server = EmulatorServer.for_app(create_app()).start()
    yield server
    server.stop()


def verified(idp_url: str, token: str) -> dict[str, Any]:
    keys = jwt.PyJWKClient(f"{idp_url}/jwks")
    return jwt.decode(token, keys.get_signing_key_from_jwt(token).key, algorithms=["RS256", "ES256"],
                      audience="ccgw", issuer=idp_url)


@pytest.mark.parametrize("user", DEMO_USERS[:2], ids=lambda u: u.role)
def test_token_for_a_demo_user_names_that_user(idp: EmulatorServer, user: DemoUser) -> None:
    result = runner.invoke(app, ["token", "--idp", idp.url, "--user", user.email])
    assert result.exit_code == 0, result.output
    claims = verified(idp.url, result.stdout.strip().splitlines()[-1])
    assert (claims["email"], claims["given_name"], claims["family_name"]) == (user.email, user.given_name,
                                                                              user.family_name)
    assert claims["roles"] == [user.role] and claims["client_id"] == "ccgw-web"


def test_token_for_the_service_client(idp: EmulatorServer) -> None:
    result = runner.invoke(app, ["token", "--idp", idp.url, "--client-id", SERVICE_CLIENT["client_id"],
                                 "--client-secret", SERVICE_CLIENT["client_secret"]])
    assert result.exit_code == 0, result.output
    claims = verified(idp.url, result.stdout.strip().splitlines()[-1])
    assert claims["sub"] == "service-account-ccgw-integration" and claims["roles"] == ["integration"]


@pytest.mark.parametrize("args, message", [
    (["--user", "mallory@example.com"], "mallory@example.com is not among the users"),
    (["--user", "clara.oswald@ctms.example.com", "--client-id", "nobody"], "refused the sign-in request"),
    (["--client-id", "ccgw-integration", "--client-secret", "wrong"], "invalid_client"),
    ([], "give --user EMAIL"),
    (["--user", "clara.oswald@ctms.example.com", "--client-secret", "x"], "not both"),
])
def test_refusals_exit_2_with_the_reason_on_stderr(idp: EmulatorServer, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["token", "--idp", idp.url, *args])
    assert result.exit_code == 2
    assert message in result.stderr and result.stdout == ""


def test_an_unreachable_provider_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = runner.invoke(app, ["token", "--idp", f"http://127.0.0.1:{port}", "--user", DEMO_USERS[0].email])
    assert result.exit_code == 2 and "cannot reach" in result.stderr


@pytest.mark.slow
def test_emulate_idp_then_token_from_the_shell() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([CCGW, "emulate", "idp", "--port", str(port), "--token-ttl-s", "600"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = proc.stdout.readline() if proc.stdout else ""
        assert banner.strip() == f"Identity provider on http://127.0.0.1:{port}"
        url = f"http://127.0.0.1:{port}"
        done = subprocess.run([CCGW, "token", "--idp", url, "--user", "sofia.lindgren@ctms.example.com"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        claims = verified(url, done.stdout.strip().splitlines()[-1])
        assert claims["email"] == "sofia.lindgren@ctms.example.com" and claims["exp"] - claims["iat"] == 600
    finally:
        proc.terminate()
        proc.wait(timeout=10)
