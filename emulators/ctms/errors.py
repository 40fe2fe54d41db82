"""Vault errors: one row's `{type, message}`, and `ApiError`, answered HTTP 200 with `responseStatus: FAILURE`.

Types used: an unknown route or a malformed version -> `MALFORMED_URL`; a wrong method on a known route ->
`METHOD_NOT_SUPPORTED`; a missing, unknown or idle-expired session -> `INVALID_SESSION_ID`; an unknown object (in a
path or in VQL), an unknown field or a bad value -> `INVALID_DATA`; malformed VQL -> `INCORRECT_QUERY_SYNTAX_ERROR`; a
missing parameter or required field -> `PARAMETER_REQUIRED`; the `/auth` burst used up -> `API_LIMIT_EXCEEDED` (the
general burst limit only delays answers). A request that fails as a whole answers JSON even under `Accept: text/csv`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["SaveError", "ApiError", "api_error"]


@dataclass
class SaveError:
    """One reason a record could not be written."""

    type: str
    message: str

    def json(self) -> dict:
        return {"type": self.type, "message": self.message}


class ApiError(Exception):
    """A call Vault refuses; `extra` adds top-level keys after `errors` (as `errorType` on a failed log-in)."""

    def __init__(self, type_: str, message: str, *, errors: list[SaveError] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.errors = errors or [SaveError(type_, message)]
        self.extra = extra

    @classmethod
    def from_save(cls, errors: list[SaveError]) -> ApiError:
        """A failed write: every reason, in order."""
        return cls(errors[0].type, errors[0].message, errors=errors)

    @property
    def type(self) -> str:
        return self.errors[0].type

    def body(self) -> dict:
        return {"responseStatus": "FAILURE", "errors": [e.json() for e in self.errors], **self.extra}


async def api_error(request: Request, exc: Exception) -> Response:
    """Render an `ApiError`; a signed-in call's failure still names its user and vault, as Vault's do."""
    assert isinstance(exc, ApiError)
    response = JSONResponse(exc.body())
    response.headers.update(getattr(request.state, "vault_headers", {}))
    return response
