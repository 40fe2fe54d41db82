"""The CTMS and CRM sources implement their protocols member for member, with the protocols' parameters."""

from __future__ import annotations

import inspect

import pytest

from datasources.backends import Backends
from datasources.crm.source import OrgSource
from datasources.ctms.source import CtmsSource
from datasources.sources import ClinicalSource, CrmSource, Sources


def _members(protocol: type) -> dict[str, object]:
    return {name: value for name, value in vars(protocol).items()
            if not name.startswith("_") and (callable(value) or isinstance(value, property))}


@pytest.mark.parametrize(("protocol", "implementation"), [
    (ClinicalSource, CtmsSource), (CrmSource, OrgSource), (Sources, Backends)])
def test_every_member_is_implemented_alike(protocol: type, implementation: type) -> None:
    members = _members(protocol)
    assert members, protocol
    for name, wanted in members.items():
        assert hasattr(implementation, name) or name in getattr(implementation, "__dataclass_fields__", {}), name
        if isinstance(wanted, property):
            continue
        got = getattr(implementation, name)
        assert inspect.iscoroutinefunction(got) == inspect.iscoroutinefunction(wanted), name
        assert list(inspect.signature(got).parameters) == list(inspect.signature(wanted).parameters), name
