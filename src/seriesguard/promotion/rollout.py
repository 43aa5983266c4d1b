"""Canary and shadow promotions (seed flow 3 and the shadow pipeline), executed.

The decisions are :mod:`seriesguard.core.rollout`'s; this service keeps them (store), feeds
them evidence (series stats, ground truth) and applies what they mean (registry aliases,
serving catalog, alerts). Order of every change: the record first, compare-and-set on its
``step`` (the one writer that wins applies), then the effects, which are idempotent: after a
crash anywhere, the next :meth:`PromotionService.advance_due` redoes whatever is missing.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from seriesguard.core.errors import Conflict, DomainError, InvalidInput, NotFound, Unavailable
from seriesguard.core.rollout import (
    CanaryConfig,
    CanaryPolicy,
    Event,
    Promotion,
    ShadowConfig,
    ShadowPolicy,
    State,
    Strategy,
    Transition,
    advance,
    baseline_taken,
    finish,
    pause,
    resume,
    rollback,
    start_canary,
    start_shadow,
)
from seriesguard.core.series import check_series_id
from seriesguard.core.stages import Stage
from seriesguard.notify.base import Notifier
from seriesguard.promotion.alerts import alert_for
from seriesguard.promotion.effects import RolloutEffects
from seriesguard.promotion.evidence import EvidenceReader
from seriesguard.registry.base import ModelRegistry
from seriesguard.store.promotions import PromotionRecord, PromotionRepository

log = logging.getLogger(__name__)

SAVE_ATTEMPTS = 3  # a user's action retried when the scheduler moved the promotion meanwhile
PAGE = 500


@dataclass(frozen=True)
class RolloutPolicy:
    """Defaults of a request's configs and the gates (settings ``canary_*``/``shadow_*``)."""

    canary_defaults: CanaryConfig = field(default_factory=CanaryConfig)
    shadow_defaults: ShadowConfig = field(default_factory=ShadowConfig)
    canary: CanaryPolicy = field(default_factory=CanaryPolicy)
    shadow: ShadowPolicy = field(default_factory=ShadowPolicy)


class PromotionService:
    def __init__(
        self,
        *,
        promotions: PromotionRepository,
        evidence: EvidenceReader,
        effects: RolloutEffects,
        registry: ModelRegistry,
        notifier: Notifier,
        policy: RolloutPolicy | None = None,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._store = promotions
        self._evidence = evidence
        self._effects = effects
        self._registry = registry
        self._notifier = notifier
        self.policy = policy or RolloutPolicy()
        self._clock = clock
        self._new_id = new_id

    # -- starting ----------------------------------------------------------------------

    def start(
        self,
        *,
        series_id: str,
        version: int,
        strategy: str,
        canary_config: Mapping[str, object] | None = None,
        shadow_config: Mapping[str, object] | None = None,
        created_by: str | None = None,
    ) -> Promotion:
        """Record a canary or shadow promotion of ``version`` and split the traffic at once
        (a registry outage leaves the split to the next scheduler tick: the record stands)."""
        check_series_id(series_id)
        config = self._config(strategy, canary_config, shadow_config)
        champion = self._check_candidates(series_id, version)
        active = self._store.active_for(series_id)
        if active is not None:
            raise _in_progress(series_id, active)
        begin = start_shadow if isinstance(config, ShadowConfig) else start_canary
        transition = begin(
            promotion_id=self._new_id(),
            series_id=series_id,
            version=version,
            champion_version=champion,
            config=config,  # type: ignore[arg-type]  # matched to ``begin`` just above
            now=self._clock(),
            created_by=created_by,
        )
        baseline = self._evidence.baseline(transition.promotion)
        self._store.create(transition, baseline=baseline)
        promotion = baseline_taken(transition.promotion)
        self._apply(promotion)
        return promotion

    def _config(
        self,
        strategy: str,
        canary_raw: Mapping[str, object] | None,
        shadow_raw: Mapping[str, object] | None,
    ) -> CanaryConfig | ShadowConfig:
        policy = self.policy
        if strategy == Strategy.CANARY:
            if shadow_raw is not None:
                raise InvalidInput(
                    "shadow_config goes with strategy 'shadow'; a canary takes canary_config",
                    rule="config_not_for_strategy",
                    loc=("body", "shadow_config"),
                )
            return CanaryConfig.from_request(
                canary_raw, defaults=policy.canary_defaults, loc=("body", "canary_config")
            )
        if strategy == Strategy.SHADOW:
            if canary_raw is not None:
                raise InvalidInput(
                    "a shadow's canary settings go in shadow_config.canary_config",
                    rule="config_not_for_strategy",
                    loc=("body", "canary_config"),
                )
            return ShadowConfig.from_request(
                shadow_raw,
                defaults=policy.shadow_defaults,
                canary_defaults=policy.canary_defaults,
                loc=("body", "shadow_config"),
            )
        raise InvalidInput(
            f"strategy {strategy!r} is not a rollout; use canary or shadow",
            rule="strategy_not_rollout",
            loc=("body", "strategy"),
        )

    def _check_candidates(self, series_id: str, version: int) -> int:
        """The challenger must be in Staging and a champion in Production; returns the
        champion's version."""
        target = self._registry.get_version(series_id=series_id, version=version)
        if target is None:
            raise NotFound(
                f"{series_id} has no version {version}",
                rule="version_not_found",
                loc=("path", "version"),
            )
        if target.stage is not Stage.STAGING:
            raise Conflict(
                f"version {version} of {series_id} is in stage {target.stage.value}; only a "
                "Staging version can be rolled out",
                rule="version_not_in_staging",
                loc=("path", "version"),
            )
        champion = self._registry.get_by_alias(series_id=series_id, alias="production")
        if champion is None:
            raise Conflict(
                f"{series_id} has no Production version to compare a canary or shadow with; "
                "promote directly first (strategy 'direct')",
                rule="no_production_version",
                loc=("path", "series_id"),
            )
        return champion.version

    # -- reading -----------------------------------------------------------------------

    def get(self, promotion_id: str) -> tuple[Promotion, list[Event]]:
        record = self._record(promotion_id)
        return record.promotion, self._store.events(promotion_id)

    def list(
        self,
        *,
        series_id: str | None = None,
        state: str | None = None,
        active: bool | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Promotion], int]:
        if series_id is not None:
            check_series_id(series_id, loc=("query", "series_id"))
        states: tuple[State, ...] = ()
        if state is not None:
            try:
                states = (State(state),)
            except ValueError:
                raise InvalidInput(
                    f"unknown state {state!r}; one of {', '.join(s.value for s in State)}",
                    rule="promotion_state",
                    loc=("query", "state"),
                ) from None
        return self._store.find(
            series_id=series_id, states=states, active=active, limit=limit, offset=offset
        )

    def active_id(self, series_id: str) -> str | None:
        """The id of the series' unfinished promotion, if any."""
        return self._store.active_id(series_id)

    def _record(self, promotion_id: str) -> PromotionRecord:
        record = self._store.get(promotion_id)
        if record is None:
            raise NotFound(
                f"no promotion {promotion_id!r}",
                rule="promotion_not_found",
                loc=("path", "promotion_id"),
            )
        return record

    # -- a user's actions --------------------------------------------------------------

    def pause(self, *, promotion_id: str, by: str | None, reason: str | None = None) -> Promotion:
        """Freeze the steps where they are; the current split keeps serving."""
        return self._act(promotion_id, lambda p, now: pause(p, now=now, by=by))

    def resume(self, *, promotion_id: str, by: str | None, reason: str | None = None) -> Promotion:
        """Go on from a pause; the current step starts over (new baseline, full interval)."""
        promotion = self._act(promotion_id, lambda p, now: resume(p, now=now, by=by))
        return self._take_baseline(promotion)

    def rollback(
        self, *, promotion_id: str, by: str | None, reason: str | None = None
    ) -> Promotion:
        """The champion alone serves again, at once; the challenger is Archived."""
        promotion = self._act(
            promotion_id, lambda p, now: rollback(p, now=now, by=by, reason=reason)
        )
        return self._settle(promotion)

    def _act(
        self, promotion_id: str, decide: Callable[[Promotion, float], Transition]
    ) -> Promotion:
        """Decide on the stored promotion and save; when the scheduler saved a step between
        our read and our write, decide again on what it wrote."""
        for _ in range(SAVE_ATTEMPTS):
            current = self._record(promotion_id).promotion
            transition = decide(current, self._clock())
            if transition.event is None:
                return current
            if self._store.save(transition, expected_step=current.step):
                self._alert(transition)
                return transition.promotion
        raise Conflict(
            f"promotion {promotion_id} kept changing under this request; try again",
            rule="promotion_busy",
            loc=("path", "promotion_id"),
        )

    # -- the scheduler's task ----------------------------------------------------------

    def advance_due(self, *, now: float | None = None) -> dict[str, int]:
        """One look at every unfinished promotion: finish decided ones, repair effects a
        crash left half-done, take missing baselines, judge the step's evidence and move on.
        One promotion's failure (registry down) never stops the others."""
        counts = {"checked": 0, "moved": 0, "finished": 0, "failed": 0}
        after = ""
        while True:
            page = self._store.active(after_id=after, limit=PAGE)
            if not page:
                return counts
            for record in page:
                counts["checked"] += 1
                try:
                    self._tick(record, now=self._clock() if now is None else now, counts=counts)
                except Exception as exc:  # one promotion must not stop the rest
                    counts["failed"] += 1
                    log.warning(
                        "promotion %s (%s): retried next tick: %s",
                        record.promotion.id,
                        record.promotion.series_id,
                        exc,
                        exc_info=not isinstance(exc, DomainError),
                    )
            after = page[-1].promotion.id

    def _tick(self, record: PromotionRecord, *, now: float, counts: dict[str, int]) -> None:
        p = record.promotion
        if p.state.is_pending:
            self._finish_counted(p, counts)
            return
        if not self._effects.in_place(p):
            self._effects.apply(p)
        if p.state is State.PAUSED:
            return
        if record.baseline is None or p.needs_baseline:
            self._take_baseline(p)
            return  # the step's evidence starts now
        evidence = self._evidence.evidence(p, record.baseline, now=now)
        transition = advance(
            p, now=now, evidence=evidence, canary=self.policy.canary, shadow=self.policy.shadow
        )
        if transition.event is None or not self._store.save(transition, expected_step=p.step):
            return
        counts["moved"] += 1
        self._alert(transition)
        moved = transition.promotion
        if moved.state.is_pending:
            self._finish_counted(moved, counts)
            return
        self._apply(moved)
        self._take_baseline(moved)

    def _finish_counted(self, p: Promotion, counts: dict[str, int]) -> None:
        ended = self._settle(p).state.is_finished
        counts["finished" if ended else "failed"] += 1

    def prune(self, *, older_than_seconds: float, now: float | None = None) -> int:
        """Delete promotions finished more than ``older_than_seconds`` ago (with events)."""
        moment = self._clock() if now is None else now
        return self._store.prune(finished_before=moment - older_than_seconds)

    # -- effects -----------------------------------------------------------------------

    def _apply(self, p: Promotion) -> None:
        try:
            self._effects.apply(p)
        except Unavailable as exc:
            log.warning(
                "promotion %s (%s): registry unavailable, traffic follows on the next tick: %s",
                p.id,
                p.series_id,
                exc.message,
            )

    def _settle(self, p: Promotion) -> Promotion:
        """Apply a decided (pending) state and record it finished. A registry outage leaves
        it pending: the scheduler finishes it on a later tick."""
        if not p.state.is_pending:
            return p
        try:
            self._effects.apply(p)
        except Unavailable as exc:
            log.warning("promotion %s: %s; finishing on the next tick", p.id, exc.message)
            return p
        transition = finish(p, now=self._clock())
        if not self._store.save(transition, expected_step=p.step):
            return p  # another process finished it: its effects are the same
        self._alert(transition)
        return transition.promotion

    def _take_baseline(self, p: Promotion) -> Promotion:
        if not p.needs_baseline or p.state not in (State.CANARY, State.SHADOW):
            return p
        baseline = self._evidence.baseline(p)
        if self._store.set_baseline(promotion_id=p.id, step=p.step, baseline=baseline):
            return baseline_taken(p)
        return p

    # -- alerts ------------------------------------------------------------------------

    def _alert(self, transition: Transition) -> None:
        alert = alert_for(transition)
        if alert is not None:
            self._notifier.notify(alert)


def _in_progress(series_id: str, active: Promotion) -> Conflict:
    return Conflict(
        f"series {series_id!r} already has a promotion in progress ({active.id}, "
        f"{active.state.value}); roll it back or wait for it to end",
        rule="promotion_in_progress",
        loc=("path", "series_id"),
    )
