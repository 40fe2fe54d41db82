"""A pytest plugin: every log line the run writes (the gateways, the worker, the stand-ins; the test clients' own
`httpx` lines aside) is captured as the gateway formats it (JSON), and scanned at the end of the session for what must
never be logged: the demo users' and the seeded people's names and emails, the stand-ins' credentials, and any bearer
token (a JWT). A line found fails the run, with the term and the logger named.

Loaded by tests/conftest.py (`pytest_plugins`); tests/gateway/test_log_scan.py scans one workload the same way."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import pytest

from emulators.idp.users import DEMO_USERS, SERVICE_CLIENT
from emulators.seed import CRM_CREDENTIALS, CTMS_CREDENTIALS, build_world
from gateway.logs import JsonFormatter

# The test clients log the requests the tests send (query strings included): not the gateway's lines.
CLIENT_LOGGERS = ("httpx", "httpcore")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


class LogCapture(logging.Handler):
    """Every record, formatted as the gateway's JSON lines."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[tuple[str, str]] = []  # (logger, line)

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in CLIENT_LOGGERS:
            return
        try:
            self.lines.append((record.name, self.format(record)))
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is reported by logging itself
            self.handleError(record)


def personal_terms(people: int = 40) -> list[str]:
    """What must not be in a log line: the demo users' and the seeded people's names and emails, the stand-ins'
    credentials."""
    terms: set[str] = set()
    for user in DEMO_USERS:
        terms.update({user.given_name, user.family_name, user.name, user.email})
    for person in build_world(people).ctms["person__sys"]:
        first, last = person["first_name__sys"], person["last_name__sys"]
        terms.update({first, last, f"{first} {last}", person["email__sys"]})
    terms.update({CTMS_CREDENTIALS["password"], CRM_CREDENTIALS["client_secret"], CRM_CREDENTIALS["password"],
                  SERVICE_CLIENT["client_secret"]})
    return sorted(terms)


def _pattern(term: str, any_case: bool = False) -> re.Pattern[str]:
    """A whole word; a single name as it is written ("Ito", not the "ito" of a word in a traceback), a full name or
    an email in any case."""
    flags = re.IGNORECASE if any_case or " " in term or "@" in term else 0
    return re.compile(rf"(?<![\w@.]){re.escape(term)}(?![\w@])", flags)


def leaks(lines: Iterable[tuple[str, str]], terms: Iterable[str],
          any_case: Iterable[str] = ()) -> list[tuple[str, str, str]]:
    """(term, logger, line) for every line holding a term (`any_case`: in any case, such as what a user typed) or
    a JWT."""
    patterns = [(term, _pattern(term)) for term in terms] + [(term, _pattern(term, True)) for term in any_case]
    found: list[tuple[str, str, str]] = []
    for logger, line in lines:
        for term, pattern in patterns:
            if pattern.search(line):
                found.append((term, logger, line))
        if JWT.search(line):
            found.append(("a bearer token (JWT)", logger, line))
    return found


_capture = LogCapture()


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_capture)
    logging.getLogger("ccgw").setLevel(logging.INFO)  # the request lines and the one-line errors are INFO


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    logging.getLogger().removeHandler(_capture)
    found = leaks(_capture.lines, personal_terms())
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(f"log scan: {len(_capture.lines)} log lines of the run scanned, {len(found)} leaking")
        for term, logger, line in found[:20]:
            reporter.write_line(f"  {term!r} in a line of {logger}: {line[:300]}", red=True)
    if found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
