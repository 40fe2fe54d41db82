"""No N+1: the calls the stand-ins count for a page of people with their accounts and timelines do not grow with the
page size."""

from __future__ import annotations

import pytest

QUERY = """query($n: Int) { people(first: $n) { edges { node { ctmsId accounts { accountId }
  timeline(first: 10) { edges { node { id kind date } } } } } } }"""


@pytest.fixture(scope="module")
def quiet(stack):
    """A gateway of its own with no worker, so only the requests under test reach the stand-ins."""
    return stack.start_gateway(worker=False)


def _calls(stack, stats, reset_stats, gateway, n: int) -> dict[str, dict[str, int]]:  # noqa: ANN001
    for server in stack.servers():
        reset_stats(server)
    body = gateway.gql(QUERY, {"n": n})
    assert "errors" not in body, body
    assert len(body["data"]["people"]["edges"]) == min(n, len(stack.world.ctms["person__sys"]))
    names = {"ctms": stack.ctms, **{f"crm:{k}": v for k, v in stack.orgs.items()}}
    return {name: stats(server) for name, server in names.items()}


def test_same_backend_calls_for_5_and_50_people(stack, stats, reset_stats, quiet) -> None:
    quiet.gql(QUERY, {"n": 2})  # log in to every source first
    small = _calls(stack, stats, reset_stats, quiet, 5)
    large = _calls(stack, stats, reset_stats, quiet, 50)
    assert small == large
    # people, then the CTMS activities, and per org the accounts and the timeline's calls (two queries, one
    # Composite call), whatever the page size.
    assert small["ctms"].get("requests") == 2, small
    assert small["crm:us"] == small["crm:eu"] == {"requests": 1, "POST /services/data/v66.0/composite": 1}, small
