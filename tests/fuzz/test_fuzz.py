"""Generated operations against a real gateway over the stand-ins, as an admin and as a read-only user.

hypothesis-graphql builds queries and mutations (with generated arguments) from the schema the gateway serves; each
goes over HTTP. For every one: no 5xx, a code on every error and no unexpected one (nor an ERROR logged), the answer
within the size cap, none of a backend's text or a traceback; the stand-ins' records change only through mutations
that answered success, and those hold what they answered (ledger.py).

`CCGW_FUZZ_EXAMPLES` operations per user (default 100; `make fuzz` runs 5,000 each), from the seed
`CCGW_FUZZ_SEED` (default 12): the same seed gives the same operations.
"""

from __future__ import annotations

import os
import time
from collections import Counter, deque

import graphql
import pytest
from hypothesis import HealthCheck, Phase, given, note, seed, settings

from tests.conftest import ADMIN, Gateway, SalesforceApi, Stack, VaultApi
from tests.fuzz.answers import problems, summary
from tests.fuzz.conftest import FUZZ_MAX_RESPONSE_BYTES, ErrorLog
from tests.fuzz.ledger import Ledger
from tests.fuzz.operations import Pools, operations
from tests.fuzz.records import Snapshot, WriteRequests

EXAMPLES = int(os.environ.get("CCGW_FUZZ_EXAMPLES", "100"))
SEED = int(os.environ.get("CCGW_FUZZ_SEED", "12"))
AMIR = "amir.haddad@ctms.example.com"  # read_only: no permission at all
CURSORS = """{ people(first: 3) { edges { cursor node { timeline(first: 2) { edges { cursor } } } } }
  studies(first: 2) { edges { cursor } } }"""


def _cursors(gateway: Gateway) -> list[str]:
    body = gateway.gql(CURSORS)
    assert "errors" not in body, body
    people = body["data"]["people"]["edges"]
    return ([e["cursor"] for e in people] + [e["cursor"] for e in body["data"]["studies"]["edges"]]
            + [t["cursor"] for p in people for t in p["node"]["timeline"]["edges"]])


@pytest.mark.slow
# graphql-core leaves the coroutines of sibling fields un-awaited when an error nulls the whole answer (an operation
# mixing a forbidden connection detail with other root fields): they never started, so nothing ran; only noise.
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
# The gateway's threads draw from `random` (backoff jitter) while hypothesis generates; its strategies here do not.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@pytest.mark.parametrize("user", [ADMIN, AMIR], ids=["admin", "read-only"])
def test_generated_operations_keep_every_rule(fuzz_stack: Stack, fuzz_apis: tuple[VaultApi, dict[str, SalesforceApi]],
                                             observer: Gateway, live_schema: graphql.GraphQLSchema,
                                             error_log: ErrorLog, user: str) -> None:
    client = fuzz_stack.as_user(user)
    pools = Pools.of(fuzz_stack.world, _cursors(observer))
    vault, orgs = fuzz_apis
    tally: Counter[str] = Counter()
    sizes: list[int] = []
    spent: Counter[str] = Counter()  # seconds: answering (the gateway), reading and settling records (the ledger)
    recent: deque[str] = deque(maxlen=4)  # the operations before this one, with their answers: a failure's context

    counter = WriteRequests(fuzz_stack.servers())
    ledger = Ledger(lambda: Snapshot.read(vault, orgs), counter, observer.gql)

    @seed(SEED)
    # No shrinking: the records carry over from one operation to the next, so the first failing one is the finding.
    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(operation=operations(live_schema, pools))
    def run(operation: str) -> None:
        note(operation)
        for earlier in recent:
            note(f"after: {earlier}")
        error_log.take()
        t0 = time.monotonic()
        response = client.post(operation)
        spent["gateway"] += time.monotonic() - t0
        tally[summary(response)] += 1
        sizes.append(len(response.content))
        found = problems(response, operation, FUZZ_MAX_RESPONSE_BYTES)
        found += [f"logged: {line}" for line in error_log.take()]
        assert not found, f"{found}\nanswer: {response.text[:2000]}"
        data = response.json().get("data")
        recent.append(f"{operation}\n-> {response.text[:1500]}")
        t0 = time.monotonic()
        broken = ledger.account(operation, data)
        spent["records"] += time.monotonic() - t0
        assert not broken, f"{broken}\nanswer: {response.text[:2000]}"

    started = time.monotonic()
    ledger.start()
    try:
        run()
    finally:
        counter.close()
    took = time.monotonic() - started
    print(f"\nfuzz {user}: {sum(tally.values())} operations in {took:.1f} s ({spent['gateway']:.1f} s answering, "
          f"{spent['records']:.1f} s on {ledger.readings} readings of the records), seed {SEED}; largest answer "
          f"{max(sizes)} bytes (cap {FUZZ_MAX_RESPONSE_BYTES}), median {sorted(sizes)[len(sizes) // 2]}; answers: "
          f"{dict(tally.most_common())}; mutations that answered success: {dict(ledger.successes) or 'none'}; "
          f"user errors: {dict(ledger.user_errors.most_common())}")
    if user != ADMIN:
        assert not ledger.successes, ledger.successes
