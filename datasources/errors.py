"""Typed errors that say which source failed and why."""

from __future__ import annotations


class SourceError(Exception):
    """A backend could not answer: down, too slow, throttled, or it answered something we cannot use."""

    def __init__(self, source: str, reason: str, *, retryable: bool = True, status: int | None = None) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason
        self.retryable = retryable
        self.status = status


class SourceUnavailable(SourceError):
    """Connection refused, timeout, 5xx, throttling: worth retrying later."""


class SourceRejected(SourceError):
    """The backend refused the request itself (bad query, bad credentials, validation): retrying will not help."""

    def __init__(self, source: str, reason: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(source, reason, retryable=False, status=status)
        self.code = code


class RowError(Exception):
    """One record of a batch write was refused; the others may have been written."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
