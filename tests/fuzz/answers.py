"""What every answer of the gateway must be, whatever was asked: no 5xx, a code on every error and never an
unexpected one, within the size cap (a query's: a mutation's answer is never cut), and none of a backend's text or
of our own insides."""

from __future__ import annotations

import re

import graphql
import httpx

# A backend's words (its field and object names, its query language, its error wire format), a Python traceback,
# or the name of a library the gateway is built on: none of these may reach a caller, unless the caller sent it.
LEAKS = re.compile(r"\b\w+__(?:v|c|sys|clin)\b|\w+_vod\b|\bSELECT\b|\bFROM\s+\w+|responseStatus|errorCode"
                   r"|Traceback|File \"|\bline \d+, in\b|sqlalchemy|sqlite|aiohttp|asyncpg|strawberry|graphql\.error"
                   r"|Exception\b|Error\(")


def problems(response: httpx.Response, operation: str, cap: int) -> list[str]:
    """Every way this answer breaks the rules (an empty list when it keeps them)."""
    found = []
    if response.status_code >= 500:
        found.append(f"HTTP {response.status_code}")
    if len(response.content) > cap and not _mutation(operation):  # a mutation's answer is never cut (README)
        found.append(f"{len(response.content)} bytes, over the cap of {cap}")
    try:
        body = response.json()
    except ValueError:
        return [*found, f"not JSON: {response.text[:200]!r}"]
    errors = body.get("errors") or [] if isinstance(body, dict) else []
    for error in errors:
        code = (error.get("extensions") or {}).get("code")
        if not code:
            found.append(f"an error without a code: {error}")
        elif code == "INTERNAL_SERVER_ERROR":
            found.append(f"an unexpected error at {error.get('path')}")
    said = [e.get("message", "") for e in errors] + _messages(body.get("data"))
    for text in said:
        for leak in LEAKS.findall(str(text)):
            if leak not in operation:
                found.append(f"{leak!r} in {text[:200]!r}")
    if "Traceback" in response.text or 'File "' in response.text:
        found.append("a traceback in the answer")
    return found


def _mutation(operation: str) -> bool:
    return any(isinstance(d, graphql.OperationDefinitionNode) and d.operation is graphql.OperationType.MUTATION
               for d in graphql.parse(operation).definitions)


def _messages(data: object, key: str = "") -> list[str]:
    """The messages of the user errors in the answer's data, wherever they are (other fields called `message`, as
    testConnection's verdicts for an admin, may name what they check)."""
    if isinstance(data, dict):
        own = [str(data["message"])] if key == "userErrors" and "message" in data else []
        return own + [m for k, v in data.items() for m in _messages(v, k)]
    if isinstance(data, list):
        return [m for v in data for m in _messages(v, key)]
    return []


def summary(response: httpx.Response) -> str:
    """The answer in a few words, for the tally: the status and the error codes."""
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} not JSON"
    codes = sorted({(e.get("extensions") or {}).get("code", "?") for e in body.get("errors") or []})
    return f"{response.status_code} {','.join(codes) or 'ok'}"
