"""Vault log-in and session routes: `POST /auth` (username and password), keep-alive and log-out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulators.seed import CTMS_CREDENTIALS

from .context import Call, api, ok, vault_of, versioned_base
from .errors import ApiError
from .vault import VAULT_ID, VAULT_NAME

__all__ = ["login", "keep_alive", "logout"]

FAILED = {"errorType": "AUTHENTICATION_FAILED"}


async def login(request: Request) -> Response:
    """Open a session for a known, active user with the demo password."""
    versioned_base(request)
    form = await request.form()
    username = str(form.get("username") or request.query_params.get("username") or "")
    password = str(form.get("password") or request.query_params.get("password") or "")
    if not password:
        raise ApiError("NO_PASSWORD_PROVIDED", "No password was provided for the login call.", **FAILED)
    vault = vault_of(request)
    user = vault.store.user_named(username)
    if user is None or password != CTMS_CREDENTIALS["password"]:
        raise ApiError("USERNAME_OR_PASSWORD_INCORRECT", "Authentication failed for user: " + username, **FAILED)
    if user["status__v"] == "inactive__v":
        raise ApiError("INACTIVE_USER", "User is inactive or not found.", **FAILED)
    session = vault.sessions.open(user["id"], user["username__sys"])
    described = {"id": VAULT_ID, "name": VAULT_NAME, "url": str(request.base_url).rstrip("/") + "/api"}
    return ok(sessionId=session.id, userId=int(user["id"]), vaultIds=[described], vaultId=VAULT_ID)


@api
async def keep_alive(_request: Request, _call: Call) -> Response:
    return ok()


@api
async def logout(_request: Request, call: Call) -> Response:
    call.vault.sessions.close(call.session.id)
    return ok()
