"""Shadow -> canary -> production for one challenger version (triggered by hand or webhook).

deploy_shadow -> wait_for_verdict -> analyze_verdict. The platform does the work the seed gave
to kubectl, Istio and Prometheus: a shadow promotion makes the predictor score every request
of the series with the challenger too (answers still come from the champion), and the
platform's scheduler judges the challenger after ``duration_hours`` (agreement, latency,
precision/recall against ground truth) and, when it passes, moves on to a canary by itself.
Airflow starts the promotion, waits for the verdict without holding a worker slot
(reschedule mode), and fails the run, with an alert, when the challenger is rejected.

Trigger with conf, e.g. ``{"series_id": "sensor_001_radial", "version": "7"}``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, PokeReturnValue, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from seriesguard_common import api_client, send_alert

from seriesguard.client import SeriesguardClient, SeriesguardError

log = logging.getLogger(__name__)

PASSED = frozenset({"canary", "completing", "completed"})
FAILED = frozenset({"rejecting", "rejected", "rolling_back", "rolled_back"})
# The sensor's own backstop; the real deadline is the verdict time plus verdict_grace_hours.
SENSOR_TIMEOUT = timedelta(days=14)


def _same_version(a: object, b: object) -> bool:
    return str(a).lstrip("vV") == str(b).lstrip("vV")


def start_shadow(
    client: SeriesguardClient,
    *,
    series_id: str,
    version: str,
    duration_hours: float,
    canary_config: dict[str, Any] | None,
) -> dict[str, Any]:
    """Start the shadow promotion, or adopt the one an earlier try of this task started."""
    shadow_config: dict[str, Any] = {"duration_hours": duration_hours, "then": "canary"}
    if canary_config:
        shadow_config["canary_config"] = canary_config
    try:
        return client.promote(series_id, version, strategy="shadow", shadow_config=shadow_config)
    except SeriesguardError as exc:
        if exc.status_code != 409 or exc.rule != "promotion_in_progress":
            raise
        active = client.promotions(series_id=series_id, active=True).get("items") or []
        for promotion in active:
            if promotion.get("strategy") == "shadow" and _same_version(
                promotion.get("version"), version
            ):
                log.info("adopting promotion %s started earlier", promotion.get("promotion_id"))
                return dict(promotion)
        raise


def verdict_reached(promotion: dict[str, Any]) -> bool:
    """The shadow phase is over. The state tells, not ``last_gate``: while the challenger has
    too few requests the last gate says "wait" and the promotion stays in shadow (or paused,
    when an operator paused it)."""
    state = promotion.get("state")
    return state in PASSED or state in FAILED


def _deadline(deployment: dict[str, Any], grace_hours: float) -> datetime | None:
    verdict_at = deployment.get("verdict_at")
    if not verdict_at:
        return None
    when = datetime.fromisoformat(str(verdict_at).replace("Z", "+00:00"))
    return when + timedelta(hours=grace_hours)


@dag(
    dag_id="shadow_deployment_pipeline",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["seriesguard", "promotion"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    params={
        "series_id": Param(type="string", minLength=1, maxLength=128),
        "version": Param(type=["string", "integer"], description="Challenger (Staging)."),
        "duration_hours": Param(48, type="number", exclusiveMinimum=0),
        "canary_config": Param(
            None,
            type=["object", "null"],
            description="initial_percentage, increment_percentage, increment_interval_hours.",
        ),
        "verdict_grace_hours": Param(
            24,
            type="number",
            minimum=0,
            description="How long past the verdict time to wait (the shadow goes on until it "
            "has scored enough requests) before failing the run.",
        ),
    },
    doc_md=__doc__,
)
def shadow_deployment_pipeline() -> None:
    @task
    def deploy_shadow() -> dict[str, Any]:
        params = get_current_context()["params"]
        with api_client() as client:
            promotion = start_shadow(
                client,
                series_id=str(params["series_id"]),
                version=str(params["version"]),
                duration_hours=float(params["duration_hours"]),
                canary_config=params.get("canary_config"),
            )
        log.info("shadow promotion %s: %s", promotion.get("promotion_id"), promotion)
        return {
            "promotion_id": str(promotion["promotion_id"]),
            "verdict_at": promotion.get("verdict_at"),
        }

    @task.sensor(poke_interval=300, timeout=SENSOR_TIMEOUT.total_seconds(), mode="reschedule")
    def wait_for_verdict(deployment: dict[str, Any]) -> PokeReturnValue:
        params = get_current_context()["params"]
        with api_client() as client:
            promotion = client.promotion(deployment["promotion_id"])
        state = promotion.get("state")
        if verdict_reached(promotion):
            outcome = {
                "promotion_id": deployment["promotion_id"],
                "state": state,
                "reason": promotion.get("reason"),
                "last_gate": promotion.get("last_gate"),
            }
            return PokeReturnValue(is_done=True, xcom_value=outcome)
        deadline = _deadline(deployment, float(params["verdict_grace_hours"]))
        if deadline is not None and pendulum.now("UTC") > deadline:
            raise AirflowFailException(
                f"promotion {deployment['promotion_id']} still {state!r} after {deadline}"
            )
        log.info("promotion %s is %s", deployment["promotion_id"], state)
        return PokeReturnValue(is_done=False)

    @task
    def analyze_verdict(outcome: dict[str, Any]) -> dict[str, Any]:
        params = get_current_context()["params"]
        name = f"{params['series_id']} v{str(params['version']).lstrip('vV')}"
        if outcome["state"] in FAILED:
            reason = outcome.get("reason") or (outcome.get("last_gate") or {}).get("reasons")
            send_alert(
                f"{name} did not pass its rollout: {outcome['state']} ({reason})", severity="error"
            )
            raise AirflowFailException(f"{name} was {outcome['state']}")
        log.info("%s passed shadow validation; promotion is %s", name, outcome["state"])
        return outcome

    # TaskFlow calls take XComArgs where the functions declare their values: Airflow's typing.
    analyze_verdict(wait_for_verdict(deploy_shadow()))  # type: ignore[arg-type]


shadow_deployment_pipeline()
