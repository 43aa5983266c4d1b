"""PromotionRepository and the promotion reads of the stats and feedback tables, on SQLite
and PostgreSQL (the ``sessions`` fixture runs every test on both)."""

from __future__ import annotations

import pytest

from seriesguard.core.errors import Conflict
from seriesguard.core.monitoring import (
    REFERENCE_BINS,
    FlaggedPrediction,
    LabelledPoint,
    StatsRow,
)
from seriesguard.core.quality import Confusion
from seriesguard.core.rollout import (
    ArmCounts,
    CanaryConfig,
    ShadowConfig,
    State,
    Transition,
    pause,
    rollback,
    start_canary,
    start_shadow,
)
from seriesguard.store.db import SessionFactory
from seriesguard.store.feedback import FeedbackRepository, FlaggedRepository
from seriesguard.store.promotions import Baseline, PromotionRepository
from seriesguard.store.stats import SeriesStatsRepository

NOW = 1_800_000_000.0


def _canary(promotion_id: str, series_id: str = "s1", *, now: float = NOW) -> Transition:
    return start_canary(
        promotion_id=promotion_id,
        series_id=series_id,
        version=2,
        champion_version=1,
        config=CanaryConfig(),
        now=now,
        created_by="eve",
    )


def _baseline() -> Baseline:
    return Baseline(
        challenger=ArmCounts(requests=10, latency={40: 10}),
        champion=ArmCounts(requests=90, anomalies=1, latency={41: 90}),
        since_hour=500_000,
    )


def test_a_promotion_reads_back_as_it_was_written(sessions: SessionFactory) -> None:
    store = PromotionRepository(sessions)
    started = start_shadow(
        promotion_id="p1",
        series_id="s1",
        version=3,
        champion_version=2,
        config=ShadowConfig(duration_seconds=7200.0, then="production"),
        now=NOW,
        created_by="eve",
    )
    store.create(started, baseline=_baseline())
    record = store.get("p1")
    assert record is not None
    assert record.promotion == started.promotion.__class__(
        **{**started.promotion.__dict__, "needs_baseline": False}
    )
    assert record.baseline == _baseline()
    (event,) = store.events("p1")
    assert (event.kind, event.state, event.details["by"]) == ("started", State.SHADOW, "eve")
    assert store.get("nope") is None


def test_one_unfinished_promotion_per_series(sessions: SessionFactory) -> None:
    store = PromotionRepository(sessions)
    store.create(_canary("p1"))
    with pytest.raises(Conflict) as refused:
        store.create(_canary("p2"))
    assert refused.value.rule == "promotion_in_progress" and "p1" in refused.value.message
    assert refused.value.loc == ("path", "series_id")
    store.create(_canary("p3", "s2"))  # another series is free
    assert store.active_id("s1") == "p1" and store.active_id("s9") is None


def test_save_is_compare_and_set_on_the_step(sessions: SessionFactory) -> None:
    store = PromotionRepository(sessions)
    first = _canary("p1")
    store.create(first, baseline=_baseline())
    stored = store.get("p1")
    assert stored is not None and not stored.promotion.needs_baseline
    p = stored.promotion
    paused = pause(p, now=NOW + 1, by="eve")
    ended = rollback(p, now=NOW + 1, by="bob", reason="no")
    assert store.save(paused, expected_step=p.step)
    assert not store.save(ended, expected_step=p.step)  # the other writer lost
    record = store.get("p1")
    assert record is not None
    assert record.promotion.state is State.PAUSED
    assert record.promotion.paused_state is State.CANARY
    assert record.baseline == _baseline()  # a pause keeps the step's baseline
    assert [e.kind for e in store.events("p1")] == ["started", "paused"]
    assert not store.set_baseline(promotion_id="p1", step=p.step, baseline=_baseline())
    assert store.set_baseline(promotion_id="p1", step=p.step + 1, baseline=_baseline())


def test_a_transition_to_a_new_step_clears_the_baseline(sessions: SessionFactory) -> None:
    from seriesguard.core.rollout import resume

    store = PromotionRepository(sessions)
    first = _canary("p1")
    store.create(first, baseline=_baseline())
    paused = pause(first.promotion, now=NOW + 1, by=None)
    store.save(paused, expected_step=0)
    resumed = resume(paused.promotion, now=NOW + 2, by=None)
    assert store.save(resumed, expected_step=1)
    record = store.get("p1")
    assert record is not None and record.baseline is None and record.promotion.needs_baseline


def test_find_filters_pages_and_counts(sessions: SessionFactory) -> None:
    store = PromotionRepository(sessions)
    for i in range(5):
        store.create(_canary(f"p{i}", f"s{i}", now=NOW + i))
    done = store.get("p0")
    assert done is not None
    store.save(rollback(done.promotion, now=NOW + 9, by=None, reason=None), expected_step=0)
    items, total = store.find(limit=2)
    assert total == 5 and [p.id for p in items] == ["p4", "p3"]  # newest first
    items, total = store.find(limit=2, offset=4)
    assert [p.id for p in items] == ["p0"]
    assert store.find(series_id="s2")[1] == 1
    assert [p.id for p in store.find(states=[State.ROLLING_BACK])[0]] == ["p0"]
    assert store.find(active=True)[1] == 5  # rolling_back is not finished yet
    assert store.find(active=False)[1] == 0


def test_active_pages_by_id_and_prune_removes_old_finished_ones(
    sessions: SessionFactory,
) -> None:
    store = PromotionRepository(sessions)
    for i in range(5):
        store.create(_canary(f"p{i}", f"s{i}"))
    first = store.active(limit=3)
    rest = store.active(after_id=first[-1].promotion.id, limit=3)
    assert [r.promotion.id for r in first + rest] == ["p0", "p1", "p2", "p3", "p4"]
    record = store.get("p1")
    assert record is not None
    from seriesguard.core.rollout import finish

    ending = rollback(record.promotion, now=NOW + 5, by=None, reason=None)
    store.save(ending, expected_step=0)
    store.save(finish(ending.promotion, now=NOW + 10), expected_step=1)
    assert "p1" not in [r.promotion.id for r in store.active()]
    assert store.prune(finished_before=NOW + 10) == 0
    assert store.prune(finished_before=NOW + 11) == 1
    assert store.get("p1") is None and store.events("p1") == []
    assert store.get("p2") is not None


def _row(version: int, hour: int, source: str, **counts: int) -> StatsRow:
    latency = {40 + version: counts.get("requests", 0)}
    return StatsRow(
        series_id="s1",
        version=version,
        hour=hour,
        source=source,
        requests=counts.get("requests", 0),
        errors=counts.get("errors", 0),
        anomalies=counts.get("anomalies", 0),
        latency=latency,
        bins=(0,) * REFERENCE_BINS,
        agreements=counts.get("agreements", 0),
    )


def test_version_totals_sum_every_source_and_hour_since(sessions: SessionFactory) -> None:
    stats = SeriesStatsRepository(sessions)
    stats.upsert(
        [
            _row(2, 99, "a", requests=1000),  # before the promotion: left out
            _row(2, 100, "a", requests=10, errors=1, anomalies=2, agreements=7),
            _row(2, 100, "b", requests=5, anomalies=1, agreements=4),
            _row(2, 101, "a", requests=20),
            _row(1, 101, "a", requests=50, anomalies=5),
        ]
    )
    totals = stats.version_totals(series_id="s1", versions=[2, 1, 7], since_hour=100)
    assert totals[2] == ArmCounts(
        requests=35, errors=1, anomalies=3, latency={42: 35}, agreements=11
    )
    assert totals[1] == ArmCounts(requests=50, anomalies=5, latency={41: 50})
    assert totals[7] == ArmCounts()  # no row: zero


def test_labelled_quality_judges_both_versions_on_the_same_labels(
    sessions: SessionFactory,
) -> None:
    flagged = FlaggedRepository(sessions)
    flagged.add_flagged(
        [
            FlaggedPrediction("s1", 10.0, 2, 4.0, NOW),  # only the challenger flagged 10
            FlaggedPrediction("s1", 20.0, 1, 4.0, NOW),  # both flagged 20
            FlaggedPrediction("s1", 20.0, 2, 4.0, NOW),
            FlaggedPrediction("s1", 30.0, 1, 4.0, NOW),  # only the champion flagged 30
        ]
    )
    FeedbackRepository(sessions).upsert(
        series_id="s1",
        points=[
            LabelledPoint(10.0, False),
            LabelledPoint(20.0, True),
            LabelledPoint(30.0, True),
            LabelledPoint(40.0, False),
            LabelledPoint(99.0, True),  # outside the window
        ],
        version=1,
        submitted_by="eve",
        now=NOW,
    )
    quality = PromotionRepository(sessions).labelled_quality(
        series_id="s1", versions=(2, 1), since=0.0, until=50.0
    )
    assert quality[2] == Confusion(tp=1, fp=1, fn=1, tn=1)
    assert quality[1] == Confusion(tp=2, fp=0, fn=0, tn=2)
