"""Promotion records (canary and shadow) and their events.

Every state change is compare-and-set on ``step``: the scheduler of any process and an API
call may act on the same promotion at once, and only the one that read the current step
writes. The partial unique index ``ux_promotions_active_series`` keeps one unfinished
promotion per series, across every API replica.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from seriesguard.core.errors import Conflict
from seriesguard.core.quality import Confusion
from seriesguard.core.rollout import (
    ArmCounts,
    CanaryConfig,
    Event,
    GateResult,
    Promotion,
    ShadowConfig,
    State,
    Strategy,
    Transition,
)
from seriesguard.store.db import SessionFactory
from seriesguard.store.tables import (
    FeedbackRow,
    FlaggedPredictionRow,
    PromotionEventRow,
    PromotionRow,
)


@dataclass(frozen=True)
class Baseline:
    """Cumulative counts of both arms when the current step began (hours >= since_hour)."""

    challenger: ArmCounts
    champion: ArmCounts
    since_hour: int

    def to_json(self) -> dict[str, Any]:
        return {
            "challenger": self.challenger.to_json(),
            "champion": self.champion.to_json(),
            "since_hour": self.since_hour,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Baseline:
        return cls(
            challenger=ArmCounts.from_json(document["challenger"]),
            champion=ArmCounts.from_json(document["champion"]),
            since_hour=int(document["since_hour"]),
        )


@dataclass(frozen=True)
class PromotionRecord:
    """A promotion as stored: the domain object plus the baseline of its current step."""

    promotion: Promotion
    baseline: Baseline | None


def _config_json(promotion: Promotion) -> dict[str, Any]:
    # The kind is stored beside the settings so a row reads back without guessing; the state
    # a pause came from is kept here too (no column of its own: it only matters while paused).
    kind = "shadow" if isinstance(promotion.config, ShadowConfig) else "canary"
    paused = promotion.paused_state.value if promotion.paused_state is not None else None
    return {"kind": kind, "settings": promotion.config.to_json(), "paused_state": paused}


def _config(document: Mapping[str, Any]) -> CanaryConfig | ShadowConfig:
    settings = document["settings"]
    if document.get("kind") == "shadow":
        return ShadowConfig.from_json(settings)
    return CanaryConfig.from_json(settings)


def _verdict(document: Mapping[str, Any] | None) -> GateResult | None:
    return None if document is None else GateResult.from_json(document)


def _to_promotion(row: PromotionRow) -> Promotion:
    paused = row.config.get("paused_state")
    return Promotion(
        id=row.id,
        series_id=row.series_id,
        version=row.version,
        champion_version=row.champion_version,
        strategy=Strategy(row.strategy),
        state=State(row.state),
        percentage=row.percentage,
        config=_config(row.config),
        step=row.step,
        step_started_at=row.step_started_at,
        next_action_at=row.next_action_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
        reason=row.reason,
        verdict=_verdict(row.verdict),
        paused_state=None if paused is None else State(paused),
        needs_baseline=row.baseline is None,
        created_by=row.created_by,
    )


def _to_record(row: PromotionRow) -> PromotionRecord:
    baseline = None if row.baseline is None else Baseline.from_json(row.baseline)
    return PromotionRecord(promotion=_to_promotion(row), baseline=baseline)


def _to_event(row: PromotionEventRow) -> Event:
    return Event(
        kind=row.kind,
        at=row.at,
        state=State(row.state),
        percentage=row.percentage,
        details=dict(row.details),
    )


def _values(promotion: Promotion) -> dict[str, Any]:
    """The columns a transition may change (everything but the id and the baseline)."""
    return {
        "series_id": promotion.series_id,
        "version": promotion.version,
        "champion_version": promotion.champion_version,
        "strategy": promotion.strategy.value,
        "state": promotion.state.value,
        "percentage": float(promotion.percentage),
        "config": _config_json(promotion),
        "verdict": None if promotion.verdict is None else promotion.verdict.to_json(),
        "step": promotion.step,
        "reason": promotion.reason,
        "created_at": promotion.created_at,
        "updated_at": promotion.updated_at,
        "step_started_at": promotion.step_started_at,
        "next_action_at": promotion.next_action_at,
        "finished_at": promotion.finished_at,
        "created_by": None if promotion.created_by is None else promotion.created_by[:256],
    }


def _json_safe(details: Mapping[str, object]) -> dict[str, Any]:
    # Event details come from the core as plain values; a tuple (reasons) becomes a list.
    return {k: list(v) if isinstance(v, tuple) else v for k, v in details.items()}


def _append_event(session: Session, promotion_id: str, event: Event) -> None:
    last = session.scalar(
        select(func.max(PromotionEventRow.seq)).where(
            PromotionEventRow.promotion_id == promotion_id
        )
    )
    session.add(
        PromotionEventRow(
            promotion_id=promotion_id,
            seq=(last or 0) + 1,
            at=event.at,
            kind=event.kind[:32],
            state=event.state.value,
            percentage=float(event.percentage),
            details=_json_safe(event.details),
        )
    )


class PromotionRepository:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    def create(self, transition: Transition, *, baseline: Baseline | None = None) -> None:
        """Insert a new promotion and its first event; Conflict when the series already has
        an unfinished one (the partial unique index decides, across every replica)."""
        promotion = transition.promotion
        try:
            with self._sessions.begin() as session:
                row = PromotionRow(id=promotion.id, **_values(promotion))
                row.baseline = None if baseline is None else baseline.to_json()
                session.add(row)
                session.flush()
                if transition.event is not None:
                    _append_event(session, promotion.id, transition.event)
        except IntegrityError as exc:
            active = self.active_for(promotion.series_id)
            named = f" ({active.id}, {active.state.value})" if active is not None else ""
            raise Conflict(
                f"series {promotion.series_id!r} already has a promotion in progress{named}; "
                "roll it back or wait for it to end",
                rule="promotion_in_progress",
                loc=("path", "series_id"),
            ) from exc

    def get(self, promotion_id: str) -> PromotionRecord | None:
        with self._sessions() as session:
            row = session.get(PromotionRow, promotion_id)
            return None if row is None else _to_record(row)

    def events(self, promotion_id: str) -> list[Event]:
        """The promotion's events, oldest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(PromotionEventRow)
                .where(PromotionEventRow.promotion_id == promotion_id)
                .order_by(PromotionEventRow.seq)
            )
            return [_to_event(r) for r in rows]

    def find(
        self,
        *,
        series_id: str | None = None,
        states: Sequence[State] = (),
        active: bool | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Promotion], int]:
        """Promotions matching every filter given, newest first, and how many match."""
        query = select(PromotionRow)
        if series_id is not None:
            query = query.where(PromotionRow.series_id == series_id)
        if states:
            query = query.where(PromotionRow.state.in_([s.value for s in states]))
        if active is not None:
            finished = PromotionRow.finished_at
            query = query.where(finished.is_(None) if active else finished.is_not(None))
        with self._sessions() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(
                query.order_by(PromotionRow.created_at.desc(), PromotionRow.id)
                .limit(limit)
                .offset(offset)
            )
            return [_to_promotion(r) for r in rows], int(total)

    def active(self, *, after_id: str = "", limit: int = 500) -> list[PromotionRecord]:
        """Unfinished promotions with an id after ``after_id``, in id order (keyset pages for
        the scheduler: a fleet may run thousands of canaries at once)."""
        with self._sessions() as session:
            rows = session.scalars(
                select(PromotionRow)
                .where(PromotionRow.finished_at.is_(None), PromotionRow.id > after_id)
                .order_by(PromotionRow.id)
                .limit(limit)
            )
            return [_to_record(r) for r in rows]

    def active_for(self, series_id: str) -> Promotion | None:
        """The series' unfinished promotion, if any."""
        with self._sessions() as session:
            row = session.scalar(
                select(PromotionRow).where(
                    PromotionRow.series_id == series_id, PromotionRow.finished_at.is_(None)
                )
            )
            return None if row is None else _to_promotion(row)

    def active_id(self, series_id: str) -> str | None:
        """The id of the series' unfinished promotion, if any (one indexed lookup)."""
        with self._sessions() as session:
            found = session.scalar(
                select(PromotionRow.id).where(
                    PromotionRow.series_id == series_id, PromotionRow.finished_at.is_(None)
                )
            )
            return None if found is None else str(found)

    def save(self, transition: Transition, *, expected_step: int) -> bool:
        """Write the transition's promotion (and append its event) only if the stored step is
        still ``expected_step``; False when another scheduler or API call moved it first.

        A promotion that needs a new baseline has its old one cleared in the same write."""
        promotion = transition.promotion
        values = _values(promotion)
        if promotion.needs_baseline:
            values["baseline"] = None
        with self._sessions.begin() as session:
            result = session.execute(
                update(PromotionRow)
                .where(PromotionRow.id == promotion.id, PromotionRow.step == expected_step)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                return False
            if transition.event is not None:
                _append_event(session, promotion.id, transition.event)
            return True

    def set_baseline(self, *, promotion_id: str, step: int, baseline: Baseline) -> bool:
        """Keep the counts the current step is measured from; False if the step moved on."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(PromotionRow)
                .where(PromotionRow.id == promotion_id, PromotionRow.step == step)
                .values(baseline=baseline.to_json())
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def prune(self, *, finished_before: float) -> int:
        """Delete promotions that ended before ``finished_before``, with their events;
        returns how many promotions went."""
        with self._sessions.begin() as session:
            old = select(PromotionRow.id).where(PromotionRow.finished_at < finished_before)
            session.execute(
                delete(PromotionEventRow).where(PromotionEventRow.promotion_id.in_(old))
            )
            result = session.execute(
                delete(PromotionRow).where(PromotionRow.finished_at < finished_before)
            )
            return int(getattr(result, "rowcount", 0))

    def labelled_quality(
        self, *, series_id: str, versions: Sequence[int], since: float, until: float
    ) -> dict[int, Confusion]:
        """Confusion counts of each of ``versions`` over the series' labels with timestamps
        in [since, until]: a label counts as flagged by a version when that version's flag
        of the point was kept. Both arms of a shadow are judged on the same labels."""
        label, flagged = FeedbackRow, FlaggedPredictionRow
        query = (
            select(label.timestamp, label.is_anomaly, flagged.version)
            .select_from(label)
            .outerjoin(
                flagged,
                and_(
                    flagged.series_id == label.series_id,
                    flagged.timestamp == label.timestamp,
                    flagged.version.in_(list(versions)),
                ),
            )
            .where(label.series_id == series_id, label.timestamp.between(since, until))
        )
        with self._sessions() as session:
            rows = session.execute(query).all()
        actual: dict[float, bool] = {}
        flags: set[tuple[float, int]] = set()
        for timestamp, is_anomaly, version in rows:
            actual[timestamp] = bool(is_anomaly)
            if version is not None:
                flags.add((timestamp, int(version)))
        return {v: _confusion(actual, flags, v) for v in versions}


def _confusion(
    actual: Mapping[float, bool], flags: set[tuple[float, int]], version: int
) -> Confusion:
    tp = fp = fn = tn = 0
    for timestamp, anomalous in actual.items():
        predicted = (timestamp, version) in flags
        if predicted and anomalous:
            tp += 1
        elif predicted:
            fp += 1
        elif anomalous:
            fn += 1
        else:
            tn += 1
    return Confusion(tp=tp, fp=fp, fn=fn, tn=tn)
