"""The evidence a promotion's current step is judged on, read from the per-series stats.

The stats are cumulative per (series, version, hour) and summed over every predictor
process, so a step's own counts are "the totals now minus the totals when the step began"
(the baseline kept on the promotion row). Totals start at the hour the promotion was created:
older hours hold nothing of the challenger, and bound the read for the champion.
"""

from __future__ import annotations

from seriesguard.core.monitoring import hour_of
from seriesguard.core.rollout import ArmCounts, Evidence, Promotion, State
from seriesguard.store.promotions import Baseline, PromotionRepository
from seriesguard.store.stats import SeriesStatsRepository


class EvidenceReader:
    def __init__(self, *, stats: SeriesStatsRepository, promotions: PromotionRepository) -> None:
        self._stats = stats
        self._promotions = promotions

    def baseline(self, p: Promotion) -> Baseline:
        """The cumulative counts of both arms now: where the current step starts from."""
        challenger, champion = self._totals(p)
        return Baseline(challenger=challenger, champion=champion, since_hour=hour_of(p.created_at))

    def evidence(self, p: Promotion, baseline: Baseline, *, now: float) -> Evidence:
        """The current step's own counts; for a shadow, also both arms' detection quality
        on the ground truth labelled for points since the promotion began."""
        challenger, champion = self._totals(p, since_hour=baseline.since_hour)
        evidence = Evidence(
            challenger=challenger.minus(baseline.challenger),
            champion=champion.minus(baseline.champion),
        )
        if p.state is not State.SHADOW or p.champion_version is None:
            return evidence
        quality = self._promotions.labelled_quality(
            series_id=p.series_id,
            versions=(p.version, p.champion_version),
            since=p.created_at,
            until=now,
        )
        mine, theirs = quality[p.version], quality[p.champion_version]
        if mine.labelled == 0:  # no ground truth: the verdict does without it
            return evidence
        return Evidence(
            challenger=evidence.challenger,
            champion=evidence.champion,
            challenger_quality=mine,
            champion_quality=theirs,
        )

    def _totals(
        self, p: Promotion, *, since_hour: int | None = None
    ) -> tuple[ArmCounts, ArmCounts]:
        since = hour_of(p.created_at) if since_hour is None else since_hour
        versions = [p.version] if p.champion_version is None else [p.version, p.champion_version]
        totals = self._stats.version_totals(
            series_id=p.series_id, versions=versions, since_hour=since
        )
        champion = ArmCounts() if p.champion_version is None else totals[p.champion_version]
        return totals[p.version], champion
