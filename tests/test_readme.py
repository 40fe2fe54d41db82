"""The README's worked example runs as written against the gateway and its stand-ins."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _graphql_blocks() -> list[str]:
    return re.findall(r"```graphql\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_every_operation_of_the_worked_example_runs(stack) -> None:  # noqa: ANN001 - the shared e2e fixture
    [document] = _graphql_blocks()
    names = re.findall(r"^(?:query|mutation) (\w+)", document, flags=re.M)
    assert names == ["Timeline", "Create"]
    answers = {}
    token = stack.token("clara.oswald@ctms.example.com")  # the README signs in as her
    for name in names:
        answers[name] = stack.gateway.client.post("/graphql", json={"query": document, "operationName": name},
                                                  headers={"Authorization": f"Bearer {token}"}).json()
        assert "errors" not in answers[name], (name, answers[name])
    [person] = answers["Timeline"]["data"]["people"]["edges"]
    assert person["node"]["firstName"] == "Aiko" and person["node"]["timeline"]["edges"]
    created = answers["Create"]["data"]["createClinicalActivity"]
    assert created["userErrors"] == [] and {s["state"] for s in created["activity"]["sync"]} == {"SYNCED"}
