"""Test-only crash points: a write kills its own process at a named step, as a power cut would."""

from __future__ import annotations

import os
import signal

from resolvers.context import RequestContext

# The steps of a write through, in order; the settings' `crash_at` names one of them.
STEPS = ("after_intent", "after_source_write", "after_commit", "after_delivery")


def crash_point(ctx: RequestContext, step: str) -> None:
    """Die here when the settings name this step."""
    if ctx.services.crash_at == step:
        os.kill(os.getpid(), signal.SIGKILL)
