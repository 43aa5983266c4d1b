"""The gates of a rollout: does the challenger's evidence let a canary step or a shadow pass?

A gate compares two arms over the same period: the challenger (the canary or shadow
version) and the champion (the production version answering the rest). Counts are the
step's own, summed over every predictor process. Each judge answers ``pass``, ``fail`` or
``wait`` (too little traffic yet) and lists every reason, not only the first. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from seriesguard.core import sketch
from seriesguard.core.drift import _pooled_z, _two_sided_p
from seriesguard.core.quality import Confusion

PASS = "pass"
FAIL = "fail"
WAIT = "wait"

# Relative deviation is measured against at least this anomaly rate: a champion that flagged
# nothing in the step would otherwise make any single canary anomaly an infinite deviation.
ANOMALY_RATE_FLOOR = 0.001

Figures = dict[str, float | int | None]


@dataclass(frozen=True)
class CanaryPolicy:
    """Thresholds of the canary gate (settings ``canary_*``; seed: 0.5 %, 100 ms, 20 %)."""

    max_error_rate: float = 0.005
    max_p99_ms: float = 100.0
    max_anomaly_deviation: float = 0.2
    min_requests: int = 200
    alpha: float = 0.01


@dataclass(frozen=True)
class ShadowPolicy:
    """Thresholds of the shadow verdict (settings ``shadow_*`` and the canary latency cap)."""

    min_requests: int = 500
    min_agreement: float = 0.9
    max_latency_ratio: float = 1.5
    max_p99_ms: float = 100.0
    max_error_rate: float = 0.005
    max_anomaly_deviation: float = 0.2
    max_quality_drop: float = 0.05
    alpha: float = 0.01
    # fewest labelled points behind a precision (flagged) or a recall (true anomalies) of
    # each arm before the quality comparison counts (as drift.precision_drop's min_samples)
    min_labelled: int = 30


@dataclass(frozen=True)
class ArmCounts:
    """Cumulative counts of one version, summed over pods and hours.

    ``requests`` includes ``errors``; anomalies and agreements are counted over answered
    requests (requests - errors). ``latency`` is a sparse sketch (core.sketch).
    """

    requests: int = 0
    errors: int = 0
    anomalies: int = 0
    latency: Mapping[int, int] = field(default_factory=dict)
    agreements: int = 0  # shadow arm only: answers that agreed with the champion's

    @property
    def answered(self) -> int:
        return max(0, self.requests - self.errors)

    def minus(self, earlier: ArmCounts) -> ArmCounts:
        """The counts since ``earlier`` (a step's own), each clamped at 0 so that a stats
        row that went missing between the two reads cannot make a negative count."""
        requests = max(0, self.requests - earlier.requests)
        errors = min(requests, max(0, self.errors - earlier.errors))
        answered = requests - errors
        latency = {
            index: n - earlier.latency.get(index, 0)
            for index, n in self.latency.items()
            if n - earlier.latency.get(index, 0) > 0
        }
        return ArmCounts(
            requests=requests,
            errors=errors,
            anomalies=min(answered, max(0, self.anomalies - earlier.anomalies)),
            latency=latency,
            agreements=min(answered, max(0, self.agreements - earlier.agreements)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "anomalies": self.anomalies,
            "latency": sketch.to_json(self.latency),
            "agreements": self.agreements,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ArmCounts:
        return cls(
            requests=int(doc.get("requests", 0)),
            errors=int(doc.get("errors", 0)),
            anomalies=int(doc.get("anomalies", 0)),
            latency=sketch.from_json(doc.get("latency") or {}),
            agreements=int(doc.get("agreements", 0)),
        )


@dataclass(frozen=True)
class Evidence:
    """Both arms over the same period; qualities only where ground truth was joined."""

    challenger: ArmCounts
    champion: ArmCounts
    challenger_quality: Confusion | None = None
    champion_quality: Confusion | None = None


@dataclass(frozen=True)
class GateResult:
    """A gate's answer. ``checks_failed`` names the failed checks (error_rate, p99,
    anomaly_deviation, agreement, latency_ratio, precision_drop, recall_drop)."""

    outcome: str  # pass | fail | wait
    reasons: tuple[str, ...]
    figures: Figures
    checks_failed: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reasons": list(self.reasons),
            "figures": dict(self.figures),
            "checks_failed": list(self.checks_failed),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> GateResult:
        return cls(
            outcome=str(doc["outcome"]),
            reasons=tuple(str(r) for r in doc.get("reasons", ())),
            figures=dict(doc.get("figures", {})),
            checks_failed=tuple(str(c) for c in doc.get("checks_failed", ())),
        )


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f}%".replace(".00%", "%")


def _p99_ms(latency: Mapping[int, int]) -> float | None:
    value = sketch.quantile(latency, 0.99)
    return None if value is None else value * 1000.0


class _Checks:
    """Collects failures and notes while a judge runs."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.reasons: list[str] = []
        self.notes: list[str] = []

    def fail(self, check: str, reason: str) -> None:
        self.failed.append(check)
        self.reasons.append(reason)

    def result(self, figures: Figures) -> GateResult:
        if self.failed:
            return GateResult(FAIL, tuple(self.reasons), figures, tuple(self.failed))
        return GateResult(PASS, tuple(self.notes) or ("all checks passed",), figures)


def _check_errors(checks: _Checks, arm: ArmCounts, max_rate: float, figures: Figures) -> None:
    rate = arm.errors / arm.requests if arm.requests else 0.0
    figures["error_rate"] = rate
    figures["errors"] = arm.errors
    if rate >= max_rate:
        checks.fail("error_rate", f"error rate {_pct(rate)} >= {_pct(max_rate)}")


def _check_p99(checks: _Checks, arm: ArmCounts, max_ms: float, figures: Figures) -> float | None:
    p99 = _p99_ms(arm.latency)
    figures["p99_ms"] = p99
    if p99 is None:
        checks.notes.append("p99 latency not checked: no latency recorded")
    elif p99 >= max_ms:
        checks.fail("p99", f"p99 latency {p99:.1f} ms >= {max_ms:g} ms")
    return p99


def _check_anomaly_rate(
    checks: _Checks,
    evidence: Evidence,
    *,
    max_deviation: float,
    alpha: float,
    min_champion: int,
    figures: Figures,
) -> None:
    """Fail when the challenger's anomaly rate deviates from the champion's by more than
    ``max_deviation`` (relative) AND the two-sided two-proportion z-test says so at
    ``alpha``: a 20 % deviation on a handful of anomalies is noise, not a regression.

    A champion with fewer than ``min_champion`` answers in the period (a canary at 95-100 %)
    gives no rate worth comparing: the check is skipped with a note rather than waiting on
    traffic that will never come.
    """
    c, p = evidence.challenger, evidence.champion
    rate_c = c.anomalies / c.answered if c.answered else None
    rate_p = p.anomalies / p.answered if p.answered else None
    figures.update(anomaly_rate=rate_c, champion_anomaly_rate=rate_p, champion_requests=p.requests)
    figures.update(deviation=None, p_value=None)
    if rate_c is None:
        checks.notes.append("anomaly rate not checked: no answered request")
        return
    if rate_p is None or p.answered < min_champion:
        checks.notes.append(
            f"anomaly rate not compared: production answered {p.answered} of the "
            f"{min_champion} requests a comparison needs"
        )
        return
    deviation = abs(rate_c - rate_p) / max(rate_p, ANOMALY_RATE_FLOOR)
    p_value = _two_sided_p(_pooled_z(rate_p, p.answered, rate_c, c.answered))
    figures.update(deviation=deviation, p_value=p_value)
    if deviation > max_deviation and p_value < alpha:
        sign = "+" if rate_c >= rate_p else "-"
        checks.fail(
            "anomaly_deviation",
            f"anomaly rate {_pct(rate_c)} vs {_pct(rate_p)} "
            f"({sign}{deviation * 100:.0f}%, p={p_value:.2g}) > {max_deviation * 100:g}%",
        )


def _waiting(arm: ArmCounts, min_requests: int, what: str, figures: Figures) -> GateResult:
    return GateResult(
        WAIT,
        (f"{arm.requests} of {min_requests} {what} requests needed for a verdict",),
        figures,
    )


def judge_canary(evidence: Evidence, policy: CanaryPolicy) -> GateResult:
    """The canary step's gate: error rate, p99 latency and anomaly-rate deviation."""
    arm = evidence.challenger
    figures: Figures = {"requests": arm.requests, "min_requests": policy.min_requests}
    if arm.requests < policy.min_requests:
        return _waiting(arm, policy.min_requests, "canary", figures)
    checks = _Checks()
    _check_errors(checks, arm, policy.max_error_rate, figures)
    _check_p99(checks, arm, policy.max_p99_ms, figures)
    _check_anomaly_rate(
        checks,
        evidence,
        max_deviation=policy.max_anomaly_deviation,
        alpha=policy.alpha,
        min_champion=policy.min_requests,
        figures=figures,
    )
    return checks.result(figures)


def judge_shadow(evidence: Evidence, policy: ShadowPolicy) -> GateResult:
    """The shadow verdict: agreement with the champion, errors, latency (absolute and
    relative to the champion's), anomaly-rate deviation and, where ground truth exists,
    precision and recall against the champion's."""
    arm = evidence.challenger
    figures: Figures = {"requests": arm.requests, "min_requests": policy.min_requests}
    if arm.requests < policy.min_requests:
        return _waiting(arm, policy.min_requests, "shadow", figures)
    checks = _Checks()
    _check_agreement(checks, arm, policy.min_agreement, figures)
    _check_errors(checks, arm, policy.max_error_rate, figures)
    p99 = _check_p99(checks, arm, policy.max_p99_ms, figures)
    _check_latency_ratio(checks, p99, evidence.champion, policy.max_latency_ratio, figures)
    _check_anomaly_rate(
        checks,
        evidence,
        max_deviation=policy.max_anomaly_deviation,
        alpha=policy.alpha,
        min_champion=policy.min_requests,
        figures=figures,
    )
    _check_quality(checks, evidence, policy, figures)
    return checks.result(figures)


def _check_agreement(checks: _Checks, arm: ArmCounts, minimum: float, figures: Figures) -> None:
    agreement = arm.agreements / arm.answered if arm.answered else None
    figures["agreement"] = agreement
    if agreement is None:
        checks.fail("agreement", "agreement unknown: the shadow answered no request")
    elif agreement < minimum:
        checks.fail("agreement", f"agreement {_pct(agreement)} < {_pct(minimum)}")


def _check_latency_ratio(
    checks: _Checks, p99: float | None, champion: ArmCounts, max_ratio: float, figures: Figures
) -> None:
    champion_p99 = _p99_ms(champion.latency)
    figures["champion_p99_ms"] = champion_p99
    figures["latency_ratio"] = None
    if p99 is None or champion_p99 is None:
        return
    ratio = p99 / champion_p99 if champion_p99 > 0 else math.inf
    figures["latency_ratio"] = ratio if math.isfinite(ratio) else None
    if ratio > max_ratio:
        checks.fail(
            "latency_ratio",
            f"p99 latency {p99:.1f} ms > {max_ratio:g} x production's {champion_p99:.1f} ms",
        )


def _check_quality(checks: _Checks, evidence: Evidence, policy: ShadowPolicy, fig: Figures) -> None:
    """Precision and recall may fall at most ``max_quality_drop`` below the champion's,
    judged only where both arms have ``min_labelled`` points behind the figure."""
    mine, theirs = evidence.challenger_quality, evidence.champion_quality
    if mine is None or theirs is None:
        return
    for name, basis in (("precision", _flagged), ("recall", _positives)):
        ours_value, their_value = getattr(mine, name), getattr(theirs, name)
        fig[name] = ours_value
        fig[f"champion_{name}"] = their_value
        if min(basis(mine), basis(theirs)) < policy.min_labelled:
            checks.notes.append(f"{name} not compared: fewer than {policy.min_labelled} labels")
            continue
        drop = their_value - ours_value
        if drop > policy.max_quality_drop:
            checks.fail(
                f"{name}_drop",
                f"{name} {_pct(ours_value)} vs production's {_pct(their_value)} "
                f"(-{drop * 100:.1f} points) > {policy.max_quality_drop * 100:g} points",
            )


def _flagged(c: Confusion) -> int:
    return c.tp + c.fp


def _positives(c: Confusion) -> int:
    return c.tp + c.fn
