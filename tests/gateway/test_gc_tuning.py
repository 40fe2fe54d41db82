"""What start-up leaves to garbage collection: its objects frozen out of every collection, the young generation
collected less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from gateway.gc_tuning import GEN0_THRESHOLD, freeze_startup_objects


@pytest.fixture
def restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_start_up_objects_are_frozen_and_young_collections_rarer(restored: None) -> None:
    kept = object.__new__(type("Kept", (), {}))  # a container alive at start-up
    freeze_startup_objects()
    assert gc.get_freeze_count() > 0
    assert not gc.is_finalized(kept) and not any(o is kept for o in gc.get_objects())  # no collection walks it
    assert gc.get_threshold()[0] == GEN0_THRESHOLD > 700
