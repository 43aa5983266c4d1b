"""The rules of an import record: every error names the line and the field."""

from __future__ import annotations

import math

import pytest

from seriesguard.core.errors import InvalidInput
from seriesguard.core.model_import import parse_record, parse_stage
from seriesguard.core.stages import Stage

GOOD = {"series_id": "s1", "params": {"mean": 1.0, "std": 2.0, "threshold_sigma": 3.0}}


def parse(document: object, line: int = 7):  # type: ignore[no-untyped-def]
    return parse_record(document, line=line, default_algorithm="statistical")


def test_good_record_builds_the_detector_and_a_stable_import_id() -> None:
    record = parse(GOOD)
    assert record.series_id == "s1" and record.detector.threshold == 3.0
    assert record.job_id == parse(dict(GOOD)).job_id and len(record.job_id) <= 36
    other = parse({**GOOD, "params": {"mean": 1.5, "std": 2.0}})
    assert other.job_id != record.job_id


@pytest.mark.parametrize(
    ("document", "rule", "loc"),
    [
        ([1, 2], "record_type", ("line", 7)),
        ({**GOOD, "extra": 1}, "unknown_field", ("line", 7, "extra")),
        ({"params": GOOD["params"]}, "missing_field", ("line", 7, "series_id")),
        ({**GOOD, "series_id": "no spaces"}, "series_id_pattern", ("line", 7, "series_id")),
        ({"series_id": "s1"}, "missing_field", ("line", 7, "params")),
        ({**GOOD, "algorithm": "nope"}, "unknown_algorithm", ("line", 7, "algorithm")),
        ({**GOOD, "params": {"mean": 1.0}}, "model_params", ("line", 7, "params")),
        ({**GOOD, "params": {"mean": 1.0, "std": 0.0}}, "model_params", ("line", 7, "params")),
        (
            {**GOOD, "params": {"mean": math.inf, "std": 1.0}},
            "model_params",
            ("line", 7, "params", "mean"),
        ),
        ({**GOOD, "metrics": {"f1": "high"}}, "field_type", ("line", 7, "metrics", "f1")),
    ],
)
def test_bad_records_name_rule_and_place(document: object, rule: str, loc: tuple) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInput) as caught:
        parse(document)
    assert (caught.value.rule, caught.value.loc) == (rule, loc)


def test_stage_is_production_or_staging() -> None:
    assert parse_stage("Production") is Stage.PRODUCTION
    assert parse_stage("staging") is Stage.STAGING
    with pytest.raises(InvalidInput, match="not 'archived'"):
        parse_stage("archived")


REFERENCE = {"edges": [-1.0, 1.0], "counts": [10, 80, 10], "n_points": 100, "anomaly_rate": 0.02}


def test_a_record_may_bring_its_training_histogram() -> None:
    record = parse({"series_id": "s1", "params": {"mean": 0, "std": 1}, "reference": REFERENCE})
    assert record.reference is not None
    assert (record.reference.edges, record.reference.counts) == ((-1.0, 1.0), (10, 80, 10))
    assert parse({"series_id": "s1", "params": {"mean": 0, "std": 1}}).reference is None


@pytest.mark.parametrize(
    "reference",
    [
        [1, 2],
        {**REFERENCE, "edges": [1.0, -1.0]},  # not ascending
        {**REFERENCE, "counts": [10, 80]},  # one count per bin: len(edges) + 1
        {**REFERENCE, "anomaly_rate": 1.5},
        {**REFERENCE, "counts": [10, -1, 10]},
        {key: value for key, value in REFERENCE.items() if key != "n_points"},
    ],
)
def test_a_bad_reference_names_its_line_and_field(reference: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse({"series_id": "s1", "params": {"mean": 0, "std": 1}, "reference": reference}, line=4)
    assert caught.value.loc == ("line", 4, "reference")
