"""Rollout states and configurations: what a promotion is in, and how it was asked to run.

Split from core/rollout.py (which re-exports all of it) to keep each module short. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from seriesguard.core.errors import InvalidInput

SECONDS_PER_HOUR = 3600.0
# A canary of more steps than this is a typo (an increment of 0.01 %), not a rollout plan.
MAX_STEPS = 1000


class Strategy(StrEnum):
    CANARY = "canary"
    SHADOW = "shadow"


class State(StrEnum):
    SHADOW = "shadow"
    CANARY = "canary"
    PAUSED = "paused"
    COMPLETING = "completing"  # decided: challenger -> Production (effects pending)
    ROLLING_BACK = "rolling_back"  # decided: challenger removed, champion serves (pending)
    REJECTING = "rejecting"  # shadow verdict failed (effects pending)
    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"
    REJECTED = "rejected"

    @property
    def is_finished(self) -> bool:
        return self in FINAL

    @property
    def is_pending(self) -> bool:
        return self in PENDING

    @property
    def is_active(self) -> bool:
        """Not finished: the promotion still holds its series (pending states included)."""
        return not self.is_finished


FINAL = frozenset({State.COMPLETED, State.ROLLED_BACK, State.REJECTED})
PENDING = frozenset({State.COMPLETING, State.ROLLING_BACK, State.REJECTING})
RUNNING = frozenset({State.SHADOW, State.CANARY})


# --- configuration ---------------------------------------------------------------------


def _number(
    raw: Mapping[str, object], key: str, default: float, loc: tuple[str | int, ...]
) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{key} must be a number", rule="number_type", loc=(*loc, key))
    return float(value)


def _mapping(raw: object, loc: tuple[str | int, ...]) -> Mapping[str, object]:
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) for k in raw):
        raise InvalidInput("must be an object", rule="object_type", loc=loc)
    return raw


def _no_unknown(raw: Mapping[str, object], known: set[str], loc: tuple[str | int, ...]) -> None:
    for key in raw:
        if key not in known:
            raise InvalidInput(f"unknown field {key!r}", rule="unknown_field", loc=(*loc, key))


@dataclass(frozen=True)
class CanaryConfig:
    initial_percentage: float = 5.0
    increment_percentage: float = 15.0
    increment_interval_seconds: float = 7200.0

    @classmethod
    def from_request(
        cls,
        raw: Mapping[str, object] | None,
        *,
        defaults: CanaryConfig,
        loc: Sequence[str | int] = ("body", "canary_config"),
    ) -> CanaryConfig:
        """The request's ``canary_config`` (seed keys; interval in hours), missing keys
        taken from ``defaults``."""
        where = tuple(loc)
        if raw is None:
            return defaults
        raw = _mapping(raw, where)
        keys = {"initial_percentage", "increment_percentage", "increment_interval_hours"}
        _no_unknown(raw, keys, where)
        initial = _number(raw, "initial_percentage", defaults.initial_percentage, where)
        increment = _number(raw, "increment_percentage", defaults.increment_percentage, where)
        hours = _number(
            raw,
            "increment_interval_hours",
            defaults.increment_interval_seconds / SECONDS_PER_HOUR,
            where,
        )
        for key, value in (("initial_percentage", initial), ("increment_percentage", increment)):
            if not (math.isfinite(value) and 0 < value <= 100):
                raise InvalidInput(
                    f"{key} must lie in (0, 100], got {value:g}",
                    rule="percentage_range",
                    loc=(*where, key),
                )
        if not (math.isfinite(hours) and hours > 0):
            raise InvalidInput(
                f"increment_interval_hours must be > 0, got {hours:g}",
                rule="interval_positive",
                loc=(*where, "increment_interval_hours"),
            )
        config = cls(initial, increment, hours * SECONDS_PER_HOUR)
        if config.step_count() > MAX_STEPS:
            raise InvalidInput(
                f"{config.step_count()} canary steps; at most {MAX_STEPS}",
                rule="too_many_steps",
                loc=(*where, "increment_percentage"),
            )
        return config

    def step_count(self) -> int:
        return 1 + max(
            0, math.ceil(round((100.0 - self.initial_percentage) / self.increment_percentage, 9))
        )

    def next_percentage(self, current: float) -> float:
        """The step after ``current``, capped at 100 (rounded so 0.1-steps do not drift)."""
        return min(100.0, round(current + self.increment_percentage, 9))

    def steps(self) -> list[float]:
        """Every percentage the canary serves, in order: 5, 20, 35, ..., 95, 100."""
        out = [min(100.0, self.initial_percentage)]
        while out[-1] < 100.0:
            out.append(self.next_percentage(out[-1]))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "initial_percentage": self.initial_percentage,
            "increment_percentage": self.increment_percentage,
            "increment_interval_seconds": self.increment_interval_seconds,
        }

    def to_request(self) -> dict[str, float]:
        """The seed's shape (interval in hours), for API answers."""
        return {
            "initial_percentage": self.initial_percentage,
            "increment_percentage": self.increment_percentage,
            "increment_interval_hours": self.increment_interval_seconds / SECONDS_PER_HOUR,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> CanaryConfig:
        return cls(
            float(doc["initial_percentage"]),
            float(doc["increment_percentage"]),
            float(doc["increment_interval_seconds"]),
        )


THEN_CHOICES = ("canary", "production")


@dataclass(frozen=True)
class ShadowConfig:
    duration_seconds: float = 172800.0
    then: str = "canary"  # what a passed shadow becomes: "canary" | "production"
    canary: CanaryConfig = CanaryConfig()  # used when then == "canary"

    @classmethod
    def from_request(
        cls,
        raw: Mapping[str, object] | None,
        *,
        defaults: ShadowConfig,
        canary_defaults: CanaryConfig,
        loc: Sequence[str | int] = ("body", "shadow_config"),
    ) -> ShadowConfig:
        """Keys: ``duration_hours``, ``then`` and ``canary_config`` (as the canary's)."""
        where = tuple(loc)
        if raw is None:
            return replace(defaults, canary=canary_defaults)
        raw = _mapping(raw, where)
        _no_unknown(raw, {"duration_hours", "then", "canary_config"}, where)
        hours = _number(raw, "duration_hours", defaults.duration_seconds / SECONDS_PER_HOUR, where)
        if not (math.isfinite(hours) and hours > 0):
            raise InvalidInput(
                f"duration_hours must be > 0, got {hours:g}",
                rule="duration_positive",
                loc=(*where, "duration_hours"),
            )
        then = raw.get("then", defaults.then)
        if then not in THEN_CHOICES:
            raise InvalidInput(
                f"then must be one of {', '.join(THEN_CHOICES)}",
                rule="shadow_then",
                loc=(*where, "then"),
            )
        canary_raw = raw.get("canary_config")
        canary = CanaryConfig.from_request(
            None if canary_raw is None else _mapping(canary_raw, (*where, "canary_config")),
            defaults=canary_defaults,
            loc=(*where, "canary_config"),
        )
        return cls(hours * SECONDS_PER_HOUR, str(then), canary)

    def to_json(self) -> dict[str, Any]:
        return {
            "duration_seconds": self.duration_seconds,
            "then": self.then,
            "canary": self.canary.to_json(),
        }

    def to_request(self) -> dict[str, Any]:
        return {
            "duration_hours": self.duration_seconds / SECONDS_PER_HOUR,
            "then": self.then,
            "canary_config": self.canary.to_request(),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ShadowConfig:
        return cls(
            float(doc["duration_seconds"]),
            str(doc["then"]),
            CanaryConfig.from_json(doc["canary"]),
        )


def config_from_json(doc: Mapping[str, Any]) -> CanaryConfig | ShadowConfig:
    """Either config from its :meth:`to_json` (a shadow's has ``duration_seconds``)."""
    if "duration_seconds" in doc:
        return ShadowConfig.from_json(doc)
    return CanaryConfig.from_json(doc)
