"""Salesforce errors: a row's `statusCode` shape, `ApiError` (the error array) and `OAuthError`, with renderers."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["SaveError", "ApiError", "OAuthError", "ROLLED_BACK", "api_error", "oauth_error", "not_found"]


@dataclass
class SaveError:
    """One reason a record could not be saved."""

    code: str
    message: str
    # None for an error Salesforce reports without `fields` (a body it cannot map onto the sObject's fields).
    fields: list[str] | None = field(default_factory=list)

    def top_level(self) -> dict:
        if self.fields is None:
            return {"message": self.message, "errorCode": self.code}
        return {"message": self.message, "errorCode": self.code, "fields": self.fields}

    def row(self) -> dict:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields or []}


ROLLED_BACK = SaveError("ALL_OR_NONE_OPERATION_ROLLED_BACK",
                        "Record rolled back because not all records were valid and the request was using "
                        "AllOrNone header")


class ApiError(Exception):
    """An HTTP error answered with the Salesforce error array."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None,
                 errors: list[SaveError] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or [SaveError(code, message, fields or [])]
        self.with_fields = fields is not None or errors is not None

    @classmethod
    def from_save(cls, errors: list[SaveError]) -> ApiError:
        """A failed save: every error carries `fields`; a missing or deleted record is a 404, anything else a 400."""
        status = 404 if errors[0].code in ("NOT_FOUND", "ENTITY_IS_DELETED") else 400
        return cls(status, errors[0].code, errors[0].message, errors=errors)

    def body(self) -> list[dict]:
        if self.with_fields:
            return [e.top_level() for e in self.errors]
        return [{"message": e.message, "errorCode": e.code} for e in self.errors]


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


class OAuthError(Exception):
    """A failed token grant, answered as `{"error", "error_description"}` with HTTP 400."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


async def api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def oauth_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return JSONResponse({"error": exc.error, "error_description": exc.description}, status_code=400)
