"""Typed errors that say which source failed and why, in words of our own: never the backend's text."""

from __future__ import annotations

import re
from typing import Any

_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


def error_code(value: Any) -> str | None:
    """A backend's error code when it looks like one (`INVALID_FIELD`); anything else is dropped, not echoed."""
    return value if isinstance(value, str) and _CODE.fullmatch(value) else None


class SourceError(Exception):
    """A backend could not answer: down, too slow, throttled, or it answered something we cannot use.

    `reason` is a short phrase of ours ("timed out", "request refused"), safe to log and to show an admin;
    the backend's own message is never kept, as it can quote the query. `code` is the backend's error code."""

    def __init__(self, source: str, reason: str, *, retryable: bool = True, status: int | None = None,
                 code: str | None = None) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason
        self.retryable = retryable
        self.status = status
        self.code = code

    @classmethod
    def unexpected(cls, source: str, exc: BaseException) -> SourceError:
        """A failure of ours while reading a source: reported as that source's, logged with its traceback."""
        error = cls(source, "unexpected failure")
        error.__cause__ = exc
        return error


class SourceUnavailable(SourceError):
    """Connection refused, timeout, 5xx, throttling: worth retrying later."""


class SourceRejected(SourceError):
    """The backend refused the request itself (bad query, bad credentials, validation): retrying will not help."""

    def __init__(self, source: str, reason: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(source, reason, retryable=False, status=status, code=code)


class RowError(Exception):
    """One record of a batch write was refused (by its error code); the others may have been written."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
