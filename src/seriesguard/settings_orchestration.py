"""Settings of rollouts, the history store, scheduled jobs and alerts.

A part of the one settings tree (``Settings`` inherits it), kept in its own file so each
group stays readable; every field is still ``SERIESGUARD_<NAME>``.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from seriesguard.core.cron import CronSchedule
from seriesguard.core.errors import InvalidInput


class RolloutSettings(BaseSettings):
    """Canary and shadow promotions (seed flow 3 and the shadow pipeline)."""

    canary_initial_percentage: float = Field(
        default=5.0,
        gt=0,
        le=100,
        description="Share of a series' requests the canary answers first, when the "
        "request's canary_config does not say (seed: 5).",
    )
    canary_increment_percentage: float = Field(
        default=15.0,
        gt=0,
        le=100,
        description="Share added at each passed step (seed: 15): 5, 20, 35, ... 95, 100.",
    )
    canary_increment_interval_hours: float = Field(
        default=2.0,
        gt=0,
        description="Length of a canary step (seed: 2 h). Fractions are allowed.",
    )
    canary_max_error_rate: float = Field(
        default=0.005,
        ge=0,
        le=1,
        description="Gate: the canary's error rate in the step must stay below this (seed: 0.5%).",
    )
    canary_max_p99_ms: float = Field(
        default=100.0,
        gt=0,
        description="Gate: the canary's p99 latency in the step must stay below this "
        "(seed: 100 ms).",
    )
    canary_max_anomaly_deviation: float = Field(
        default=0.2,
        ge=0,
        description="Gate: relative deviation of the canary's anomaly rate from the production "
        "version's over the same step (seed: 20%); fails only when also significant.",
    )
    canary_min_requests: int = Field(
        default=200,
        ge=1,
        description="Fewest canary requests in a step before the gate decides; below it the "
        "step waits instead of passing or failing.",
    )
    canary_alpha: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="Significance level of the gate's anomaly-rate comparison.",
    )
    shadow_duration_hours: float = Field(
        default=48.0,
        gt=0,
        description="How long a challenger is scored in shadow before its verdict (seed: 48 h).",
    )
    shadow_min_requests: int = Field(
        default=500,
        ge=1,
        description="Fewest shadow-scored requests for a verdict; below it the shadow goes on.",
    )
    shadow_min_agreement: float = Field(
        default=0.9,
        ge=0,
        le=1,
        description="Verdict: share of requests where challenger and champion agree on "
        "anomaly / not anomaly, at least.",
    )
    shadow_max_latency_ratio: float = Field(
        default=1.5,
        gt=0,
        description="Verdict: the challenger's p99 may be at most this multiple of the "
        "champion's (and below canary_max_p99_ms).",
    )
    shadow_max_recall_drop: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Verdict, where ground truth exists: the challenger's precision and recall "
        "may fall at most this much below the champion's.",
    )
    promotion_check_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often the scheduler advances canary steps and shadow verdicts; a "
        "failing canary is rolled back within about this long of the evidence reaching the DB.",
    )


class HistorySettings(BaseSettings):
    """The history store: points the predictor saw and points sent in bulk."""

    history_enabled: bool = Field(
        default=True,
        description="Keep every point the predictor scores, so a series can be retrained on "
        "its last hours (window_hours). false: only bulk-sent points are kept.",
    )
    history_retention_days: float = Field(
        default=14.0,
        gt=0,
        description="Points older than this (by their timestamp) are deleted by the scheduler.",
    )
    history_flush_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often a predictor writes the points it saw to the history store.",
    )
    history_max_pending_points: int = Field(
        default=1_000_000,
        ge=1,
        description="Points a predictor holds while the store is unreachable; beyond, the "
        "oldest are dropped (history_points_dropped_total).",
    )


class ScheduleSettings(BaseSettings):
    """Scheduled jobs of the scheduler (inside ``serve``; its own process in production)."""

    retrain_schedule: str = Field(
        default="0 2 * * 0",
        description="Cron expression (UTC) of the weekly retraining of every series with a "
        "production model (seed: Sunday 02:00). Empty: never.",
    )
    retrain_window_hours: int = Field(
        default=168,
        ge=1,
        description="Hours of history each scheduled retraining trains on (seed: 168).",
    )
    retrain_rate_per_second: float = Field(
        default=20.0,
        gt=0,
        description="Training jobs the weekly retraining submits per second at most, so it "
        "never starves the predictor of the database (285,000 series: about 4 hours).",
    )
    retrain_batch_size: int = Field(
        default=200,
        ge=1,
        description="Series the weekly retraining submits per scheduler tick; its progress is "
        "saved after each batch, so a restart resumes where it stopped.",
    )
    retrain_priority: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Queue priority of scheduled retraining (1 lowest, 10 highest).",
    )
    drift_schedule: str = Field(
        default="0 */6 * * *",
        description="Cron expression (UTC) of the fleet drift check that retrains and alerts "
        "on drifted series (seed: every 6 h). Empty: never.",
    )
    drift_retrain_priority: int = Field(
        default=9,
        ge=1,
        le=10,
        description="Queue priority of the retraining a drift finding triggers.",
    )
    backlog_alert_threshold: int = Field(
        default=1000,
        ge=1,
        description="Queued training jobs above which a queue-backlog alert is sent (seed: 1000).",
    )
    backlog_check_seconds: float = Field(
        default=60.0, gt=0, description="How often the scheduler looks at the training backlog."
    )
    scheduler_runs_retention_days: float = Field(
        default=90.0,
        gt=0,
        description="Records of scheduled runs and finished promotions older than this are "
        "deleted.",
    )

    @field_validator("retrain_schedule", "drift_schedule")
    @classmethod
    def _cron(cls, expression: str) -> str:
        """A schedule that cannot be parsed stops the process at start, naming the field,
        rather than leaving its task silently idle."""
        if expression.strip():
            try:
                CronSchedule.parse(expression)
            except InvalidInput as exc:
                raise ValueError(exc.message) from None
        return expression


class AlertSettings(BaseSettings):
    """Where alerts go: rollback, drift, shadow rejection, queue backlog."""

    alert_webhook_url: SecretStr | None = Field(
        default=None,
        description="Incoming webhook (Slack-compatible JSON: text plus blocks) every alert is "
        "posted to. Also SERIESGUARD_ALERT_WEBHOOK_URL_FILE.",
    )
    alert_pagerduty_routing_key: SecretStr | None = Field(
        default=None,
        description="PagerDuty Events API v2 integration key; alerts of severity error and "
        "critical are sent there too. Also SERIESGUARD_ALERT_PAGERDUTY_ROUTING_KEY_FILE.",
    )
    alert_pagerduty_url: str = Field(
        default="https://events.pagerduty.com/v2/enqueue",
        description="PagerDuty Events API v2 endpoint (change it only for a proxy or a test).",
    )
    alert_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Timeout of one delivery attempt of an alert."
    )
    alert_retries: int = Field(
        default=3,
        ge=0,
        description="Further attempts of an alert whose delivery failed (backoff 1, 2, 4 s ...).",
    )
    alert_cooldown_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="A repeated alert with the same key (the same backlog, the same drifted "
        "series) is sent at most once in this long.",
    )
    alert_max_per_run: int = Field(
        default=50,
        ge=1,
        description="Per-series alerts one scheduled run sends at most; the rest are summed up "
        "in one summary alert, so a fleet-wide drift does not flood the channel.",
    )


class OrchestrationSettings(RolloutSettings, HistorySettings, ScheduleSettings, AlertSettings):
    """Every group above, for ``Settings`` to inherit."""
