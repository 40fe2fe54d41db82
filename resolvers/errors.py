"""Errors a resolver raises for the whole field: the schema turns them into GraphQL errors with a code."""

from __future__ import annotations

from datasources.errors import SourceError

__all__ = ["BadInput", "ClientError", "Forbidden", "SourceError", "Unavailable"]


class ClientError(Exception):
    code = "BAD_USER_INPUT"

    def __init__(self, message: str, **extensions: str) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions


class BadInput(ClientError):
    code = "BAD_USER_INPUT"


class Forbidden(ClientError):
    code = "FORBIDDEN"


class Unavailable(ClientError):
    code = "SOURCE_UNAVAILABLE"

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source} is unavailable: {reason}", source=source)
        self.source = source
