"""One signed-in Vault call: its context, the version and session checks before it, and the SUCCESS envelope."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .errors import ApiError
from .objects import OBJECTS, ObjectDef
from .sessions import Session
from .vault import VAULT_ID, Vault

__all__ = ["Call", "api", "ok", "object_in_path", "vault_of", "versioned_base"]

VERSION_RE = re.compile(r"^v\d+\.\d+$")


@dataclass
class Call:
    """One signed-in API call: the vault, the caller's session, and `/api/{version}`."""

    vault: Vault
    session: Session
    base: str

    @property
    def user(self) -> str:
        return self.session.user_id


Handler = Callable[[Request, Call], Awaitable[Response]]


def ok(payload: dict | None = None, **extra: Any) -> JSONResponse:
    """A successful Vault reply: `responseStatus: SUCCESS` and the payload's keys."""
    return JSONResponse({"responseStatus": "SUCCESS", **(payload or {}), **extra})


def object_in_path(request: Request) -> ObjectDef:
    """The object a path names, or INVALID_DATA."""
    name = request.path_params["object"]
    if name not in OBJECTS:
        raise ApiError("INVALID_DATA", f"Object [{name}] does not exist")
    return OBJECTS[name]


def vault_of(request: Request) -> Vault:
    return request.app.state.vault


def versioned_base(request: Request) -> str:
    """`/api/{version}` of a call, or MALFORMED_URL when the version is not `vNN.N`."""
    version = request.path_params.get("version", "")
    if not VERSION_RE.match(version):
        raise ApiError("MALFORMED_URL", f"Invalid API version in [{request.url.path}]")
    return f"/api/{version}"


def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Check the version and the session before the handler runs; name the user and vault on the reply."""

    async def endpoint(request: Request) -> Response:
        vault = vault_of(request)
        base = versioned_base(request)
        session = vault.sessions.lookup(request.headers.get("authorization"))
        if session is None:
            raise ApiError("INVALID_SESSION_ID", "Invalid or expired session ID.")
        request.state.vault_headers = {"X-VaultAPI-UserId": session.user_id, "X-VaultAPI-VaultId": str(VAULT_ID)}
        response = await handler(request, Call(vault, session, base))
        response.headers.update(request.state.vault_headers)
        return response

    return endpoint
