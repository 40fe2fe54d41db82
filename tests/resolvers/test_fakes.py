"""The in-memory fakes implement the source protocols member for member (so they cannot drift from them), and their
knobs do what the tests rely on."""

from __future__ import annotations

import inspect
from datetime import date

import pytest

from datasources.crm.mapping import EXTERNAL_ID
from datasources.errors import SourceRejected, SourceUnavailable
from datasources.sources import ClinicalSource, CrmSource, Sources
from datasources.window import Window
from domain import ActivityKind, Channel
from domain.timeline import TimelineFilter
from tests.resolvers.fakes import Crash, FakeClinical, FakeCrm, FakeSources
from tests.resolvers.world import connection

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _members(cls: type) -> dict[str, object]:
    return {name: value for name, value in vars(cls).items()
            if not name.startswith("_") and (callable(value) or isinstance(value, property))}


@pytest.mark.parametrize(("protocol", "fake"), [
    (ClinicalSource, FakeClinical()), (CrmSource, FakeCrm("us")), (Sources, FakeSources())],
    ids=["ClinicalSource", "CrmSource", "Sources"])
def test_every_member_is_implemented_alike(protocol: type, fake: object) -> None:
    members = _members(protocol)
    assert members, protocol
    for name, wanted in members.items():
        assert hasattr(fake, name), name
        if isinstance(wanted, property):
            continue
        # The instance's own member (an attribute of the same name would hide the method).
        assert inspect.ismethod(getattr(fake, name)), name
        got = getattr(type(fake), name)
        assert inspect.iscoroutinefunction(got) == inspect.iscoroutinefunction(wanted), name
        assert inspect.signature(got).parameters.keys() == inspect.signature(wanted).parameters.keys(), name
        kinds = [p.kind for p in inspect.signature(got).parameters.values()]
        assert kinds == [p.kind for p in inspect.signature(wanted).parameters.values()], name


def test_an_org_is_made_once_per_connection_and_follows_its_identifier_field() -> None:
    sources = FakeSources()
    first = sources.org(connection("us", "ctms_field", "One__c"))
    again = sources.org(connection("us", "ctms_field", "Other__c"))
    assert first.crm is again.crm and again.crm.label == "crm:us" and again.source == "crm:us"
    assert (again.ctms_field, again.crm_field, sources.crm("us").identifier) == ("ctms_field", "Other__c", "Other__c")


async def test_knobs_fail_count_and_heal() -> None:
    crm = FakeCrm("us")
    crm.fail("accounts_with", times=2)
    for _ in range(2):
        with pytest.raises(SourceUnavailable) as raised:
            await crm.accounts_with(["X"])
        assert raised.value.source == "crm:us" and raised.value.retryable
    assert await crm.accounts_with(["X"]) == []
    crm.fail("accounts_with", SourceRejected, code="INVALID_FIELD")
    with pytest.raises(SourceRejected) as refused:
        await crm.accounts_with(["X"])
    assert (refused.value.code, refused.value.retryable) == ("INVALID_FIELD", False)
    crm.heal()
    assert await crm.accounts_with(["X"]) == []
    assert crm.counts["accounts_with"] == 5
    with pytest.raises(AttributeError):
        crm.fail("no_such_method")


async def test_a_crash_after_the_write_leaves_the_write_done() -> None:
    crm = FakeCrm("us")
    account = crm.add_account("A", **{EXTERNAL_ID: "E1"})
    crm.crash("log_call", after_write=True)
    with pytest.raises(Crash):
        await crm.log_call(marker="m1", account_id=account, day=date(2026, 1, 2), channel=Channel.PHONE,
                           completed=True, subject=None, send_to_clinical=False)
    assert await crm.call_logged_by("m1") is not None
    crm.crash("log_call", after_write=False)
    with pytest.raises(Crash):
        await crm.log_call(marker="m2", account_id=account, day=date(2026, 1, 2), channel=Channel.PHONE,
                           completed=True, subject=None, send_to_clinical=False)
    assert await crm.call_logged_by("m2") is None


async def test_a_filter_wanting_no_medical_activity_reads_no_call() -> None:
    crm = FakeCrm("us")
    account = crm.add_account("A", **{EXTERNAL_ID: "E1"})
    crm.add_call(account, date(2026, 1, 2))
    clinical_only = Window(TimelineFilter(kinds=frozenset({ActivityKind.CLINICAL})), None, 10)
    assert await crm.activities_for(["E1"], clinical_only) == {}
    assert [len(v) for v in (await crm.activities_for(["E1"], Window(TimelineFilter(), None, 10))).values()] == [1]
