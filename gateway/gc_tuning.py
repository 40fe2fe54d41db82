"""Garbage collection tuned for a long-running server: what start-up built is frozen out of every collection."""

from __future__ import annotations

import gc

# Young-generation threshold: a request allocates thousands of short-lived objects (GraphQL results, backend
# records); collecting every 700 allocations (CPython's default) walks them many times per request. Higher would
# collect less often still, but keeps more cyclic garbage (and what it holds) alive in between: memory.
GEN0_THRESHOLD = 10_000


def freeze_startup_objects() -> None:
    """Collect once, then move every object alive now (modules, the schema, the clients) to the permanent
    generation, so later collections never scan them again; and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
