"""seriesguard_common without a server: connection parsing and error triage."""

from __future__ import annotations

import pytest
from airflow.sdk import Connection

from seriesguard.client import SeriesguardError


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({"conn_type": "http", "host": "api", "port": 8000}, "http://api:8000"),
        ({"conn_type": "https", "host": "api.example.com"}, "https://api.example.com"),
        ({"conn_type": "http", "host": "https://api.example.com/"}, "https://api.example.com"),
        ({"conn_type": "http", "host": "api", "schema": "https"}, "https://api"),
    ],
)
def test_base_url_of_a_connection(fields: dict[str, object], url: str) -> None:
    import seriesguard_common as common

    assert common.base_url_of(Connection(conn_id="x", **fields)) == url  # type: ignore[arg-type]


def test_a_connection_without_host_is_refused() -> None:
    import seriesguard_common as common

    with pytest.raises(ValueError, match="no host"):
        common.base_url_of(Connection(conn_id="x", conn_type="http"))


@pytest.mark.parametrize(
    ("status", "rule", "reason"),
    [
        (429, "rate_limited", "rate_limited"),
        (422, "insufficient_history", "insufficient_history"),
        (404, "series_not_found", "not_found"),
        (422, "too_few_points", None),
        (503, "unavailable", None),
        (0, "unreachable", None),
    ],
)
def test_which_refusals_are_counted(status: int, rule: str, reason: str | None) -> None:
    import seriesguard_common as common

    assert common.skip_reason(SeriesguardError(status, rule, (), "x")) == reason


def test_tallies_add_up() -> None:
    import seriesguard_common as common

    first = common.BatchTally(submitted=["j1", "j2"], skipped={"rate_limited": ["a"]})
    second = common.BatchTally(
        submitted=["j3"], skipped={"rate_limited": ["b"], "not_found": ["c"]}
    )
    merged = common.merge_tallies([first.to_json(), second.to_json()])
    assert merged == {
        "batches": 2,
        "submitted": 3,
        "skipped": {"rate_limited": 2, "not_found": 1},
        "examples": {"rate_limited": ["a", "b"], "not_found": ["c"]},
    }


def test_a_batch_summary_keeps_counts_not_every_id() -> None:
    import seriesguard_common as common

    tally = common.BatchTally(submitted=[f"j{i}" for i in range(500)])
    tally.skipped["rate_limited"] = [f"s{i}" for i in range(300)]
    summary = tally.to_json()
    assert summary["submitted"] == 500
    assert summary["skipped"] == {"rate_limited": 300}
    assert summary["examples"]["rate_limited"] == [f"s{i}" for i in range(common.EXAMPLES)]
