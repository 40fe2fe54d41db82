"""Errors a resolver raises for the whole field: the schema turns them into GraphQL errors with a code."""

from __future__ import annotations

from datasources.errors import SourceError, SourceRejected

__all__ = ["BadInput", "ClientError", "Conflict", "Forbidden", "NotFound", "SourceError", "SourceRejected"]


class ClientError(Exception):
    """A problem with the request itself; its message is shown to the caller, so it never quotes a backend."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, **extensions: str) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions


class BadInput(ClientError):
    code = "BAD_USER_INPUT"


class Forbidden(ClientError):
    code = "FORBIDDEN"


class NotFound(ClientError):
    code = "NOT_FOUND"


class Conflict(ClientError):
    """The request clashes with the state of what it names (e.g. a connection whose mirrors are still pending)."""

    code = "CONFLICT"


class EventsMissed(ClientError):
    """A subscription that fell behind the changes and was ended: the client reads again and subscribes again."""

    code = "EVENTS_LOST"
