"""Which detectors an evaluation runs: an algorithm, optionally with hyperparameters.

On the command line a variant is ``name`` or ``name:key=value:key=value`` (values read as JSON
when they parse, else as text), e.g. ``residual:rearm_points=0`` or
``robust:target_false_alarm_rate=0.01``: so the report can show a detector beside its own
variants (what gating or calibration is worth) and a sensitivity sweep needs no code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from seriesguard.core.detectors import ALGORITHMS, detector_class
from seriesguard.core.errors import InvalidInput

# Beside every algorithm at its defaults, the default run shows what calibration is worth to
# the fixed-threshold detectors and what novelty gating is worth to the residual one.
EXTRA_VARIANTS = (
    "statistical:target_false_alarm_rate=0.01",
    "robust:target_false_alarm_rate=0.01",
    "seasonal:target_false_alarm_rate=0.01",
    "residual:rearm_points=0",
)


@dataclass(frozen=True, slots=True)
class Variant:
    algorithm: str
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        extras = "".join(f":{k}={json.dumps(v)}" for k, v in self.hyperparameters.items())
        return self.algorithm + extras


def parse_variant(spec: str) -> Variant:
    """``name[:key=value...]`` -> Variant; InvalidInput naming the option on a bad spec, an
    unknown algorithm or a hyperparameter the algorithm refuses."""
    name, *pairs = spec.strip().split(":")
    hyper: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(
                f"detector {spec!r}: {pair!r} is not key=value",
                rule="variant_syntax",
                loc=("option", "detectors"),
            )
        hyper[key] = _value(raw)
    cls = detector_class(name)  # unknown names fail before minutes of work
    cls.check_hyperparameters(hyper)
    return Variant(name, hyper)


def parse_variants(specs: Sequence[str]) -> list[Variant]:
    return [parse_variant(s) for s in specs if s.strip()]


def default_variants() -> list[Variant]:
    """Every registered algorithm once (aliases of one class, statistical/zscore, run once
    under the first name), then EXTRA_VARIANTS of those registered."""
    seen: set[type[Any]] = set()
    names: list[str] = []
    for name, cls in ALGORITHMS.items():
        if cls not in seen:
            seen.add(cls)
            names.append(name)
    extras = [s for s in EXTRA_VARIANTS if s.split(":")[0] in ALGORITHMS]
    return parse_variants([*names, *extras])


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw
