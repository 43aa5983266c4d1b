"""PromotionService: canary steps, gate rollbacks, shadow verdicts, user actions and crashes,
on a SQLite metadata DB, the in-memory registry and a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.promotion.rig import HOUR, Rig, build_rig

from seriesguard.core.errors import Conflict, InvalidInput, NotFound
from seriesguard.core.rollout import State
from seriesguard.core.stages import Stage
from seriesguard.notify.base import Severity


@pytest.fixture()
def rig(tmp_path: Path) -> Rig:
    return build_rig(tmp_path)


def _good_step(rig: Rig, series: str, challenger: int, champion: int) -> None:
    rig.traffic(series, challenger, requests=300, anomalies=3)
    rig.traffic(series, champion, requests=3000, anomalies=30)


def _state(rig: Rig, promotion_id: str) -> tuple[State, float]:
    record = rig.store.get(promotion_id)
    assert record is not None
    return record.promotion.state, record.promotion.percentage


def test_a_canary_splits_traffic_at_once_and_walks_every_step_to_production(rig: Rig) -> None:
    champion = rig.production("s1")
    challenger = rig.version("s1", level=10.5)
    started = rig.service.start(
        series_id="s1", version=challenger, strategy="canary", created_by="eve"
    )
    assert (started.state, started.percentage) == (State.CANARY, 5.0)
    summary = rig.catalog.get_series("s1")
    assert summary is not None
    assert (summary.canary_version, summary.canary_percentage) == (challenger, 5.0)
    assert rig.alias("s1", "canary") == challenger
    assert "s1" in rig.reloaded

    seen = [started.percentage]
    for _ in range(12):
        _good_step(rig, "s1", challenger, champion)
        rig.clock.advance(601)
        rig.service.advance_due()
        state, percentage = _state(rig, started.id)
        if state is State.COMPLETED:
            break
        seen.append(percentage)
        current = rig.catalog.get_series("s1")
        assert current is not None and current.canary_percentage == percentage
    assert seen == [5.0, 20.0, 35.0, 50.0, 65.0, 80.0, 95.0, 100.0]
    assert _state(rig, started.id) == (State.COMPLETED, 100.0)
    assert rig.stages("s1") == {champion: Stage.ARCHIVED, challenger: Stage.PRODUCTION}
    assert rig.alias("s1", "canary") is None and rig.alias("s1", "production") == challenger
    final = rig.catalog.get_series("s1")
    assert final is not None
    assert (final.production_version, final.canary_version) == (challenger, None)
    (alert,) = rig.notifier.alerts
    assert (alert.kind, alert.severity) == ("promotion_completed", Severity.INFO)
    _, events = rig.service.get(started.id)
    kinds = [e.kind for e in events]
    assert kinds[0] == "started" and kinds[-2:] == ["completing", "completed"]
    assert kinds.count("step_passed") == 7


def test_too_little_traffic_waits_instead_of_passing(rig: Rig) -> None:
    champion = rig.production("s1")
    challenger = rig.version("s1")
    started = rig.service.start(series_id="s1", version=challenger, strategy="canary")
    rig.traffic("s1", challenger, requests=50)
    rig.traffic("s1", champion, requests=900)
    rig.clock.advance(601)
    rig.service.advance_due()
    rig.service.advance_due()
    assert _state(rig, started.id) == (State.CANARY, 5.0)
    _, events = rig.service.get(started.id)
    assert [e.kind for e in events] == ["started", "waiting"]  # one event, not one per look
    _good_step(rig, "s1", challenger, champion)
    rig.service.advance_due()
    assert _state(rig, started.id) == (State.CANARY, 20.0)


@pytest.mark.parametrize(
    ("errors", "anomalies", "latency_ms", "named"),
    [
        (10, 3, 2.0, "error rate"),
        (0, 45, 2.0, "anomaly rate"),
        (0, 3, 250.0, "p99 latency"),
    ],
)
def test_a_failing_canary_is_rolled_back_before_its_step_ends(
    rig: Rig, errors: int, anomalies: int, latency_ms: float, named: str
) -> None:
    champion = rig.production("s1")
    challenger = rig.version("s1", sigma=1.0)
    started = rig.service.start(series_id="s1", version=challenger, strategy="canary")
    rig.traffic(
        "s1", challenger, requests=300, errors=errors, anomalies=anomalies, latency_ms=latency_ms
    )
    rig.traffic("s1", champion, requests=3000, anomalies=30)
    counts = rig.service.advance_due()  # no clock advance: the gate acts at once

    assert counts["finished"] == 1
    promotion, events = rig.service.get(started.id)
    assert (promotion.state, promotion.percentage) == (State.ROLLED_BACK, 0.0)
    assert promotion.reason is not None and named in promotion.reason
    assert [e.kind for e in events] == ["started", "gate_failed", "rolled_back"]
    assert rig.stages("s1") == {champion: Stage.PRODUCTION, challenger: Stage.ARCHIVED}
    summary = rig.catalog.get_series("s1")
    assert summary is not None
    assert (summary.production_version, summary.canary_version) == (champion, None)
    assert rig.alias("s1", "canary") is None
    (alert,) = rig.notifier.alerts
    assert (alert.kind, alert.severity, alert.series_id) == (
        "canary_rolled_back",
        Severity.ERROR,
        "s1",
    )
    assert named in alert.summary
    assert alert.details["verdict"]["outcome"] == "fail"  # type: ignore[index]


def test_a_shadow_scores_unseen_then_passes_on_to_a_canary(rig: Rig) -> None:
    champion = rig.production("s1")
    challenger = rig.version("s1")
    started = rig.service.start(
        series_id="s1",
        version=challenger,
        strategy="shadow",
        shadow_config={"duration_hours": 1, "then": "canary"},
    )
    assert (started.state, started.percentage) == (State.SHADOW, 0.0)
    summary = rig.catalog.get_series("s1")
    assert summary is not None
    assert (summary.shadow_version, summary.canary_version) == (challenger, None)
    assert rig.alias("s1", "shadow") == challenger

    rig.traffic("s1", champion, requests=400, anomalies=4)
    rig.traffic("s1", challenger, requests=400, anomalies=4, agreements=396)
    rig.service.advance_due()
    assert _state(rig, started.id) == (State.SHADOW, 0.0)  # the verdict waits for its time
    rig.clock.advance(HOUR + 1)
    rig.service.advance_due()

    promotion, events = rig.service.get(started.id)
    assert (promotion.state, promotion.percentage) == (State.CANARY, 5.0)
    assert promotion.verdict is not None and promotion.verdict.figures["agreement"] == 0.99
    assert events[-1].kind == "shadow_passed"
    after = rig.catalog.get_series("s1")
    assert after is not None
    assert (after.shadow_version, after.canary_version, after.canary_percentage) == (
        None,
        challenger,
        5.0,
    )
    assert (rig.alias("s1", "shadow"), rig.alias("s1", "canary")) == (None, challenger)


def test_a_shadow_that_disagrees_is_rejected_with_an_alert(rig: Rig) -> None:
    champion = rig.production("s1")
    challenger = rig.version("s1")
    started = rig.service.start(series_id="s1", version=challenger, strategy="shadow")
    rig.traffic("s1", champion, requests=400, anomalies=4)
    rig.traffic("s1", challenger, requests=400, anomalies=4, agreements=200)
    rig.clock.advance(HOUR + 1)
    rig.service.advance_due()
    promotion, _ = rig.service.get(started.id)
    assert promotion.state is State.REJECTED
    assert rig.stages("s1") == {champion: Stage.PRODUCTION, challenger: Stage.ARCHIVED}
    summary = rig.catalog.get_series("s1")
    assert summary is not None and summary.shadow_version is None
    (alert,) = rig.notifier.alerts
    assert (alert.kind, alert.severity) == ("shadow_rejected", Severity.ERROR)
    assert "agreement" in alert.summary


def test_a_shadow_then_production_completes_without_a_canary(rig: Rig) -> None:
    champion = rig.production("s1")
    challenger = rig.version("s1")
    started = rig.service.start(
        series_id="s1",
        version=challenger,
        strategy="shadow",
        shadow_config={"duration_hours": 0.5, "then": "production"},
    )
    rig.traffic("s1", champion, requests=400, anomalies=4)
    rig.traffic("s1", challenger, requests=400, anomalies=4, agreements=400)
    rig.clock.advance(HOUR / 2 + 1)
    rig.service.advance_due()
    assert _state(rig, started.id) == (State.COMPLETED, 100.0)
    assert rig.stages("s1") == {champion: Stage.ARCHIVED, challenger: Stage.PRODUCTION}
    assert rig.alias("s1", "shadow") is None


def test_pause_holds_the_split_and_resume_restarts_the_step(rig: Rig) -> None:
    champion = rig.production("s1")
    challenger = rig.version("s1")
    started = rig.service.start(series_id="s1", version=challenger, strategy="canary")
    paused = rig.service.pause(promotion_id=started.id, by="eve")
    assert paused.state is State.PAUSED
    _good_step(rig, "s1", challenger, champion)
    rig.clock.advance(601)
    rig.service.advance_due()
    assert _state(rig, started.id) == (State.PAUSED, 5.0)
    summary = rig.catalog.get_series("s1")
    assert summary is not None and summary.canary_percentage == 5.0  # still serving
    with pytest.raises(Conflict) as refused:
        rig.service.pause(promotion_id=started.id, by="eve")
    assert refused.value.rule == "promotion_not_running"

    resumed = rig.service.resume(promotion_id=started.id, by="eve")
    assert resumed.state is State.CANARY and not resumed.needs_baseline
    assert resumed.next_action_at == rig.clock.now + 600
    rig.service.advance_due()  # the paused step's traffic is not this step's evidence
    assert _state(rig, started.id) == (State.CANARY, 5.0)
    _good_step(rig, "s1", challenger, champion)
    rig.clock.advance(601)
    rig.service.advance_due()
    assert _state(rig, started.id) == (State.CANARY, 20.0)


@pytest.mark.parametrize("strategy", ["canary", "shadow"])
def test_a_users_rollback_withdraws_the_challenger_at_once(rig: Rig, strategy: str) -> None:
    champion = rig.production("s1")
    challenger = rig.version("s1")
    started = rig.service.start(series_id="s1", version=challenger, strategy=strategy)
    ended = rig.service.rollback(promotion_id=started.id, by="eve", reason="bad feeling")
    assert (ended.state, ended.reason) == (State.ROLLED_BACK, "bad feeling")
    assert rig.stages("s1") == {champion: Stage.PRODUCTION, challenger: Stage.ARCHIVED}
    summary = rig.catalog.get_series("s1")
    assert summary is not None
    assert (summary.canary_version, summary.shadow_version) == (None, None)
    (alert,) = rig.notifier.alerts
    assert (alert.kind, alert.severity) == ("promotion_rolled_back", Severity.WARNING)
    with pytest.raises(Conflict) as again:
        rig.service.rollback(promotion_id=started.id, by="eve")
    assert again.value.rule == "promotion_finished"


def test_start_refuses_what_cannot_be_rolled_out(rig: Rig) -> None:
    lonely = rig.version("alone")
    with pytest.raises(Conflict) as no_champion:
        rig.service.start(series_id="alone", version=lonely, strategy="canary")
    assert (no_champion.value.rule, no_champion.value.loc) == (
        "no_production_version",
        ("path", "series_id"),
    )
    champion = rig.production("s1")
    with pytest.raises(Conflict) as not_staging:
        rig.service.start(series_id="s1", version=champion, strategy="canary")
    assert not_staging.value.rule == "version_not_in_staging"
    with pytest.raises(NotFound) as missing:
        rig.service.start(series_id="s1", version=9, strategy="canary")
    assert missing.value.rule == "version_not_found"
    challenger = rig.version("s1")
    with pytest.raises(InvalidInput) as bad:
        rig.service.start(
            series_id="s1",
            version=challenger,
            strategy="canary",
            canary_config={"initial_percentage": 0},
        )
    assert bad.value.loc == ("body", "canary_config", "initial_percentage")
    with pytest.raises(InvalidInput) as crossed:
        rig.service.start(series_id="s1", version=challenger, strategy="canary", shadow_config={})
    assert crossed.value.rule == "config_not_for_strategy"
    first = rig.service.start(series_id="s1", version=challenger, strategy="canary")
    other = rig.version("s1")
    with pytest.raises(Conflict) as busy:
        rig.service.start(series_id="s1", version=other, strategy="shadow")
    assert busy.value.rule == "promotion_in_progress" and first.id in busy.value.message


def test_direct_promotion_and_rollback_are_refused_during_a_rollout(rig: Rig) -> None:
    rig.production("s1")
    rig.production("s1")  # v1 Archived, v2 Production: a rollback target exists
    challenger = rig.version("s1")
    started = rig.service.start(series_id="s1", version=challenger, strategy="canary")
    for attempt in (
        lambda: rig.models.promote(
            series_id="s1", version=challenger, strategy="direct", archive_existing=True
        ),
        lambda: rig.models.rollback(series_id="s1"),
    ):
        with pytest.raises(Conflict) as refused:
            attempt()
        assert refused.value.rule == "promotion_in_progress" and started.id in refused.value.message
    rig.service.rollback(promotion_id=started.id, by="eve")
    assert rig.models.rollback(series_id="s1").version == 1  # allowed again once it ended


def test_effects_lost_in_a_crash_after_the_save_are_redone_on_the_next_tick(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    champion = rig.production("s1")
    challenger = rig.version("s1")
    started = rig.service.start(series_id="s1", version=challenger, strategy="canary")
    _good_step(rig, "s1", challenger, champion)
    rig.clock.advance(601)
    apply = rig.effects.apply

    def crash(_promotion: object) -> None:
        raise RuntimeError("process killed after the record was saved")

    monkeypatch.setattr(rig.effects, "apply", crash)
    assert rig.service.advance_due()["failed"] == 1
    record = rig.store.get(started.id)
    assert record is not None
    assert (record.promotion.percentage, record.baseline) == (20.0, None)  # saved, not applied
    summary = rig.catalog.get_series("s1")
    assert summary is not None and summary.canary_percentage == 5.0

    monkeypatch.setattr(rig.effects, "apply", apply)
    rig.service.advance_due()
    summary = rig.catalog.get_series("s1")
    assert summary is not None and summary.canary_percentage == 20.0
    record = rig.store.get(started.id)
    assert record is not None and record.baseline is not None
    assert _state(rig, started.id) == (State.CANARY, 20.0)  # the repair took no step


@pytest.mark.parametrize("effects_applied", [False, True])
def test_a_decision_left_pending_by_a_crash_is_finished_once(
    rig: Rig, effects_applied: bool
) -> None:
    from seriesguard.core.rollout import rollback

    champion = rig.production("s1")
    challenger = rig.version("s1")
    started = rig.service.start(series_id="s1", version=challenger, strategy="canary")
    decided = rollback(started, now=rig.clock.now, by="eve", reason="crash test")
    assert rig.store.save(decided, expected_step=started.step)
    if effects_applied:  # killed after the effects, before the finish was saved
        rig.effects.apply(decided.promotion)
    assert rig.service.advance_due()["finished"] == 1
    assert rig.service.advance_due()["checked"] == 0  # finished: nothing left to look at
    promotion, events = rig.service.get(started.id)
    assert promotion.state is State.ROLLED_BACK
    assert [e.kind for e in events] == ["started", "rolled_back_by_user", "rolled_back"]
    assert rig.stages("s1") == {champion: Stage.PRODUCTION, challenger: Stage.ARCHIVED}


def test_a_registry_outage_leaves_the_decision_pending_and_the_catalog_untouched(
    rig: Rig,
) -> None:
    champion = rig.production("s1")
    challenger = rig.version("s1")
    started = rig.service.start(series_id="s1", version=challenger, strategy="canary")
    rig.registry.available = False
    ended = rig.service.rollback(promotion_id=started.id, by="eve")
    assert ended.state is State.ROLLING_BACK
    assert rig.service.advance_due()["failed"] == 1
    summary = rig.catalog.get_series("s1")
    assert summary is not None and summary.canary_version == challenger  # no half state

    rig.registry.available = True
    rig.service.advance_due()
    assert _state(rig, started.id) == (State.ROLLED_BACK, 0.0)
    assert rig.stages("s1") == {champion: Stage.PRODUCTION, challenger: Stage.ARCHIVED}


def test_finished_promotions_are_pruned_after_the_retention(rig: Rig) -> None:
    rig.production("s1")
    challenger = rig.version("s1")
    started = rig.service.start(series_id="s1", version=challenger, strategy="canary")
    rig.service.rollback(promotion_id=started.id, by="eve")
    assert rig.service.prune(older_than_seconds=HOUR) == 0
    rig.clock.advance(HOUR + 1)
    assert rig.service.prune(older_than_seconds=HOUR) == 1
    assert rig.store.get(started.id) is None and rig.store.events(started.id) == []
