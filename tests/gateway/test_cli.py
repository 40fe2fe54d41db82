"""`ccgw connections`: how an operator configures the orgs of a production gateway."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"CCGW_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.db'}"}


def _add(env: dict[str, str], name: str, *extra: str):  # noqa: ANN202
    return runner.invoke(app, ["connections", "add", name, "--crm-url", f"https://{name}.my.salesforce.com/",
                               "--client-id-env", "ORG_ID", "--client-secret-env", "ORG_SECRET",
                               "--ctms-field", "npi_number__c", "--crm-field", "NPI_Number__c", *extra], env=env)


def test_add_and_list_connections(env: dict[str, str]) -> None:
    added = _add(env, "us")
    assert added.exit_code == 0, added.output
    assert "connection us: https://us.my.salesforce.com (npi_number__c <-> NPI_Number__c, enabled)" in added.output
    assert _add(env, "eu", "--disabled").exit_code == 0
    listed = runner.invoke(app, ["connections", "list"], env=env)
    lines = listed.output.strip().splitlines()
    assert [line.split("\t")[:2] for line in lines] == [["eu", "disabled"], ["us", "enabled"]]
    assert "npi_number__c (CUSTOM) <-> NPI_Number__c (CUSTOM)" in lines[1]


def test_bad_values_are_refused_and_nothing_is_saved(env: dict[str, str]) -> None:
    bad = runner.invoke(app, ["connections", "add", "Bad Name", "--crm-url", "ftp://x", "--client-id-env", "A B",
                              "--client-secret-env", "S", "--ctms-field", "x;y", "--crm-field", "Y"], env=env)
    assert bad.exit_code == 2
    assert "not an http(s) URL" in bad.output and "not a field API name" in bad.output
    assert runner.invoke(app, ["connections", "list"], env=env).output.strip() == ""


@pytest.mark.slow  # ten connections added one CLI run at a time
def test_at_most_ten_connections(env: dict[str, str]) -> None:
    for i in range(10):
        assert _add(env, f"org{i}").exit_code == 0
    refused = _add(env, "org10")
    assert refused.exit_code == 2 and "at most 10 connections" in refused.output
    assert _add(env, "org3").exit_code == 0  # replacing one of the ten is fine
