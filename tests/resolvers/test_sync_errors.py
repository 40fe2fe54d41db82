"""What `SyncStatus.lastError` says of a failed delivery: a short category naming the system and the backend's error
code, never the backend's own text."""

from __future__ import annotations

import pytest

from datasources.errors import RowError, SourceRejected, SourceUnavailable
from datasources.store.models import Mirror
from domain import SyncState
from resolvers.delivery import _outcome, sync_error


@pytest.mark.parametrize(("exc", "shown"), [
    (SourceRejected("crm:us", "request refused", code="INVALID_FIELD", status=400),
     "CRM refused the record (INVALID_FIELD)"),
    (SourceRejected("crm:eu", "Clinical Study 0ST000000000001 refused"), "CRM refused the record"),
    (SourceRejected("ctms", "request refused", code="INVALID_DATA"), "CTMS refused the record (INVALID_DATA)"),
    (SourceUnavailable("crm:us", "timed out"), "org unavailable"),
    (SourceUnavailable("ctms", "HTTP 503", status=503), "CTMS unavailable"),
], ids=["crm-refused", "crm-refused-no-code", "ctms-refused", "org-down", "ctms-down"])
def test_a_failed_delivery_is_shown_as_a_category(exc: SourceRejected | SourceUnavailable, shown: str) -> None:
    assert sync_error(exc) == shown


@pytest.mark.parametrize(("target", "shown"), [("us", "CRM refused the record (FIELD_CUSTOM_VALIDATION_EXCEPTION)"),
                                               ("ctms", "CTMS refused the record (FIELD_CUSTOM_VALIDATION_EXCEPTION)")])
def test_a_refused_row_is_failed_with_its_code_only(target: str, shown: str) -> None:
    row = Mirror(source_kind="clinical", source_id="0AC000000000001", target=target, version=3)
    outcome = _outcome(row, RowError("FIELD_CUSTOM_VALIDATION_EXCEPTION"))
    assert (outcome.state, outcome.error, outcome.delivered_version) == (SyncState.FAILED, shown, 3)
