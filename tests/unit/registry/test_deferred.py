"""The deferred registry makes the real one on first use, once, and not for /health."""

from __future__ import annotations

import time

from seriesguard.core.breaker import BreakerPolicy
from seriesguard.registry.base import ModelRegistry
from seriesguard.registry.deferred import DeferredRegistry
from seriesguard.registry.memory import MemoryRegistry


def test_made_on_first_call_only() -> None:
    made: list[ModelRegistry] = []

    def make() -> ModelRegistry:
        made.append(MemoryRegistry())
        return made[-1]

    breaker = BreakerPolicy().make("mlflow", clock=time.monotonic)
    registry = DeferredRegistry(make, breaker=breaker)
    assert registry.breaker is breaker and made == []
    registry.close()
    assert made == []
    assert registry.get_by_alias(series_id="s1", alias="production") is None
    assert registry.list_versions(series_id="s1") == []
    assert len(made) == 1
