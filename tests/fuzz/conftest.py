"""The fuzzed gateway: stand-ins of its own (the session's identity provider shared), and the live schema it serves.

Generated writes may delete seeded activities or turn a connection off, and ten thousand operations exceed an org's
daily API allowance: so each fuzz test gets a CTMS, two orgs and a gateway of its own, in a `Stack` like the
session's, starting from the seeded world and leaving the data the rest of the suite reads alone. The gateway's
answers are capped small (`FUZZ_MAX_RESPONSE_BYTES`: a few percent of generated operations ask for more), so that
the size cap is reached.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import graphql
import pytest

from emulators import crm, ctms
from emulators.seed import ORGS, build_world
from emulators.server import EmulatorServer
from tests.conftest import ADMIN, Gateway, SalesforceApi, Stack, VaultApi, _serve_gateway

FUZZ_MAX_RESPONSE_BYTES = 1_000
DAILY_API_CALLS = 10_000_000


class ErrorLog(logging.Handler):
    """Keeps the gateway's ERROR records (an unexpected exception is logged with its traceback, whatever the
    answer became: even one replaced by RESPONSE_TOO_LARGE)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        lines = [f"{r.name}: {r.getMessage()}" + (f" ({r.exc_info[1]!r})" if r.exc_info else "")
                 for r in self.records]
        self.records.clear()
        return lines


@pytest.fixture
def fuzz_stack(stack: Stack) -> Iterator[Stack]:
    from gateway.demo import configure

    world = build_world(40)
    own_ctms = EmulatorServer.for_app(ctms.create_app(world)).start()
    orgs = {org: EmulatorServer.for_app(crm.create_app(org, world, daily_limit=DAILY_API_CALLS)).start()
            for org in ORGS}
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='ccgw-fuzz-')) / 'gateway.db'}"
    configure(url, orgs)
    settings = replace(stack.settings, database_url=url, ctms_url=own_ctms.url, ctms_timeout_s=5.0,
                       crm_timeout_s=5.0, request_timeout_s=10.0, max_response_bytes=FUZZ_MAX_RESPONSE_BYTES)
    fuzz = Stack(own_ctms, orgs, stack.idp, world, settings, None)  # type: ignore[arg-type]
    fuzz._tokens = stack._tokens  # the same provider: the same tokens
    fuzz.gateway = _serve_gateway(settings, stack.token(ADMIN))
    try:
        yield fuzz
    finally:
        for gw in [*fuzz._extra, fuzz.gateway]:
            gw.stop()
        for server in fuzz.servers():
            server.stop()


@pytest.fixture
def observer(fuzz_stack: Stack) -> Gateway:
    """Another gateway over the fuzzed stand-ins and store, uncapped and with no worker: the test reads sync states
    and jobs through it, as an admin."""
    return fuzz_stack.start_gateway(max_response_bytes=0, worker=False)


@pytest.fixture
def fuzz_apis(fuzz_stack: Stack) -> tuple[VaultApi, dict[str, SalesforceApi]]:
    """Direct REST clients of the fuzzed stand-ins."""
    return VaultApi(fuzz_stack.ctms), {name: SalesforceApi(server) for name, server in fuzz_stack.orgs.items()}


@pytest.fixture
def live_schema(stack: Stack) -> graphql.GraphQLSchema:
    """The schema as a running gateway serves it, read by introspection (an admin's right), from the session's
    gateway: the fuzzed one's answers are capped below the size of the schema."""
    body = stack.gql(graphql.get_introspection_query())
    assert "errors" not in body, body
    return graphql.build_client_schema(body["data"])


@pytest.fixture(scope="module")
def error_log() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    logger = logging.getLogger("ccgw")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
