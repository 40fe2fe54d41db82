"""Logging for every entry point (serve, worker, demo): JSON lines (`log_format = "json"`) or readable text
(`"text"`), one handler on the root logger, uvicorn's loggers through it and its access log off (the gateway's own
request line replaces it: uvicorn's names the query string, which can hold a search).

Every line written while a request runs carries its request id (REQUEST_ID, set by gateway.request_log, stamped on
each record as it is made: see stamp_request_ids). A line holds ids, codes, counts and durations; never a token, a
secret, a search string or a person's name or email (tests/gateway/test_log_scan.py scans a workload for them)."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

FORMATS = ("json", "text")
# The request the current task works for (inherited by the tasks it starts, inline deliveries included).
REQUEST_ID: ContextVar[str | None] = ContextVar("ccgw_request_id", default=None)
# A record's structured fields: `log.info("...", extra={FIELDS: {...}})`.
FIELDS = "fields"
_STAMP = "ccgw_request_id"
_HANDLER_NAME = "ccgw"
# orjson writes these its own way; passed through, they become `str(value)` as json.dumps(default=str) makes them.
_AS_JSON_DOES = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def stamp_request_ids() -> None:
    """Make every log record carry the id of the request under way when it is made (a handler may format it later,
    elsewhere); idempotent."""
    current = logging.getLogRecordFactory()
    if getattr(current, _STAMP, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        setattr(record, _STAMP, REQUEST_ID.get())
        return record

    setattr(factory, _STAMP, True)
    logging.setLogRecordFactory(factory)


@functools.lru_cache(maxsize=1024)
def pseudonym(sub: str | None) -> str | None:
    """A subject as logs show it: as it is when opaque, a hash when it holds an email (some providers, and the
    development user without a provider, use one as the subject)."""
    if not sub or "@" not in sub:
        return sub
    return "sha256:" + hashlib.sha256(sub.encode()).hexdigest()[:16]


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = dict(getattr(record, FIELDS, None) or {})
    rid = getattr(record, _STAMP, None)
    if rid and "request_id" not in fields:
        fields = {"request_id": rid, **fields}
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the structured fields, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        try:
            return orjson.dumps(line, default=str, option=_AS_JSON_DOES).decode()
        except TypeError:  # what orjson refuses outright (an integer beyond 64 bits, a key that is not a string)
            return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time level logger message key=value ...`, for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = _fields(record)
        if not fields:
            return text
        head, newline, rest = text.partition("\n")  # a traceback stays below the line
        pairs = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None and v != "")
        return f"{head} [{pairs}]{newline}{rest}"


def formatter(log_format: str) -> logging.Formatter:
    if log_format not in FORMATS:
        raise SystemExit(f"CCGW_LOG_FORMAT must be json or text, not {log_format!r}")
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(log_format: str, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Send every log line to `stream` (stderr) in `log_format`; called once by each entry point."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_log = logging.getLogger(name)
        uvicorn_log.handlers.clear()
        uvicorn_log.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
