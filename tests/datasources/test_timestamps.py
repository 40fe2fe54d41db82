"""Each wire's date-time helper: what the backends write reads back to the same instant, what we write they read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from datasources.crm.client import CrmClient
from datasources.ctms.client import CtmsClient
from datasources.http import HttpSettings
from datasources.query import Select
from datasources.timestamps import SALESFORCE_TIME, VAULT_TIME, WireTime
from emulators import crm, ctms
from emulators.seed import CRM_CREDENTIALS, CTMS_CREDENTIALS, build_world
from emulators.server import EmulatorServer

INSTANT = datetime(2026, 11, 26, 15, 23, 51, 123000, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize(("wire", "text"), [(VAULT_TIME, "2026-11-26T15:23:51.123Z"),
                                            (SALESFORCE_TIME, "2026-11-26T15:23:51.123+00:00")])
def test_what_we_write_reads_back_unchanged(wire: WireTime, text: str) -> None:
    assert wire.format(INSTANT) == text
    assert wire.parse(text) == INSTANT and wire.format(wire.parse(text)) == text


@pytest.mark.parametrize("wire", [VAULT_TIME, SALESFORCE_TIME])
@pytest.mark.parametrize("text", ["2026-11-26T15:23:51.123Z", "2026-11-26T15:23:51.123+0000",
                                  "2026-11-26T15:23:51.123+00:00", "2026-11-26T16:23:51.123+01:00",
                                  "2026-11-26T10:23:51.1230-05:00", "2026-11-26T15:23:51.123"])
def test_every_form_the_backends_write_is_the_same_instant(wire: WireTime, text: str) -> None:
    parsed = wire.parse(text)
    assert parsed == INSTANT and parsed.tzinfo == UTC


def test_other_offsets_and_naive_datetimes_are_written_in_utc() -> None:
    assert VAULT_TIME.format(INSTANT.astimezone(timezone(timedelta(hours=-5)))) == "2026-11-26T15:23:51.123Z"
    assert SALESFORCE_TIME.format(INSTANT.replace(tzinfo=None)) == "2026-11-26T15:23:51.123+00:00"
    assert VAULT_TIME.format(INSTANT.replace(microsecond=999999)) == "2026-11-26T15:23:51.999Z"  # truncated


@pytest.mark.parametrize("wire", [VAULT_TIME, SALESFORCE_TIME])
@pytest.mark.parametrize("text", ["2026-11-26", "yesterday", "", "2026-13-01T00:00:00Z", "T"])
def test_text_that_is_not_a_date_time_is_refused(wire: WireTime, text: str) -> None:
    with pytest.raises(ValueError, match="date-time"):
        wire.parse(text)


def test_empty_fields_are_no_time() -> None:
    assert VAULT_TIME.parse_optional(None) is None and SALESFORCE_TIME.parse_optional("") is None
    assert VAULT_TIME.parse_optional("2026-11-26T15:23:51.123Z") == INSTANT


@pytest.fixture(scope="module")
def stand_ins() -> Iterator[tuple[EmulatorServer, EmulatorServer]]:
    world = build_world(5)
    vault, org = EmulatorServer(ctms.create_app(world)).start(), EmulatorServer(crm.create_app("us", world)).start()
    yield vault, org
    vault.stop()
    org.stop()


@pytest.mark.anyio
async def test_the_stand_ins_timestamps_round_trip(stand_ins: tuple[EmulatorServer, EmulatorServer]) -> None:
    vault_server, org_server = stand_ins
    vault = CtmsClient(vault_server.url, CTMS_CREDENTIALS["username"], CTMS_CREDENTIALS["password"],
                       settings=HttpSettings(retries=0))
    org = CrmClient("us", org_server.url, client_id=CRM_CREDENTIALS["client_id"],
                    client_secret=CRM_CREDENTIALS["client_secret"], settings=HttpSettings(retries=0))
    try:
        [person] = await vault.query(Select("person__sys", ["modified_date__v"], limit=1))
        [account] = await org.query(Select("Account", ["SystemModstamp"], limit=1))
        now = datetime.now(UTC)
        _, covered = await org.updated_ids("Account", now - timedelta(days=1), now)
    finally:
        await vault.close()
        await org.close()
    stamp = person["modified_date__v"]
    assert VAULT_TIME.format(VAULT_TIME.parse(stamp)) == stamp
    modstamp = SALESFORCE_TIME.parse(account["SystemModstamp"])
    assert SALESFORCE_TIME.parse(SALESFORCE_TIME.format(modstamp)) == modstamp
    # The org read the window we wrote: the latest date it covers lies inside it.
    assert covered is not None and now - timedelta(days=1) <= SALESFORCE_TIME.parse(covered) <= now
