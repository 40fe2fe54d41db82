"""Salesforce error values: the top-level `[{message, errorCode, fields}]` and the per-row `statusCode` shape."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SaveError", "ApiError", "ROLLED_BACK"]


@dataclass
class SaveError:
    """One reason a record could not be saved."""

    code: str
    message: str
    fields: list[str] = field(default_factory=list)

    def top_level(self) -> dict:
        return {"message": self.message, "errorCode": self.code, "fields": self.fields}

    def row(self) -> dict:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}


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
    def from_save(cls, errors: list[SaveError], status: int = 400) -> ApiError:
        """A failed save: every error carries `fields`, as the REST API writes them."""
        return cls(status, errors[0].code, errors[0].message, errors=errors)

    def body(self) -> list[dict]:
        if self.with_fields:
            return [e.top_level() for e in self.errors]
        return [{"message": e.message, "errorCode": e.code} for e in self.errors]
