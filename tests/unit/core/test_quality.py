"""Confusion counts against ground truth and the rates read from them."""

from __future__ import annotations

import json

import pytest

from seriesguard.core.quality import Confusion, confusion

# Ten labelled points: 3 hits, 2 false alarms, 1 miss, 4 quiet normals.
PREDICTED = [True, True, True, True, True, False, False, False, False, False]
ACTUAL = [True, True, True, False, False, True, False, False, False, False]


def test_hand_computed_example() -> None:
    counts = confusion(PREDICTED, ACTUAL)
    assert counts == Confusion(tp=3, fp=2, fn=1, tn=4)
    assert counts.labelled == 10
    assert counts.precision == 3 / 5
    assert counts.recall == 3 / 4
    assert counts.f1 == pytest.approx(2 * (0.6 * 0.75) / (0.6 + 0.75), rel=1e-15)
    assert counts.f1 == 6 / 9
    assert counts.false_positive_rate == 2 / 6


def test_to_json_carries_counts_and_rates() -> None:
    document = json.loads(json.dumps(Confusion(tp=3, fp=2, fn=1, tn=4).to_json()))
    assert document == {
        "tp": 3,
        "fp": 2,
        "fn": 1,
        "tn": 4,
        "labelled": 10,
        "precision": 0.6,
        "recall": 0.75,
        "f1": 6 / 9,
        "false_positive_rate": 2 / 6,
    }


def test_rates_with_zero_denominators_are_none() -> None:
    empty = Confusion()
    assert (empty.precision, empty.recall, empty.f1, empty.false_positive_rate) == (None,) * 4
    assert empty.labelled == 0
    quiet_miss = Confusion(fn=3, tn=5)  # flagged nothing while anomalies happened
    assert quiet_miss.precision is None and quiet_miss.recall == 0.0 and quiet_miss.f1 == 0.0
    assert quiet_miss.false_positive_rate == 0.0
    only_alarms = Confusion(fp=2)
    assert only_alarms.precision == 0.0 and only_alarms.recall is None
    assert only_alarms.f1 == 0.0 and only_alarms.false_positive_rate == 1.0
    assert Confusion(tp=4).to_json()["false_positive_rate"] is None


def test_counts_add_up() -> None:
    total = Confusion(tp=1, fp=2, fn=3, tn=4) + Confusion(tp=10, fp=20, fn=30, tn=40)
    assert total == Confusion(tp=11, fp=22, fn=33, tn=44)
    assert Confusion().__add__(3) is NotImplemented  # type: ignore[operator]


@pytest.mark.parametrize("bad", [-1, 1.0, True, "2", None])
def test_counts_must_be_non_negative_integers(bad: object) -> None:
    with pytest.raises(ValueError, match="fn"):
        Confusion(fn=bad)  # type: ignore[arg-type]


def test_sequences_of_different_length_are_refused() -> None:
    with pytest.raises(ValueError, match="length"):
        confusion([True, False], [True])
    assert confusion([], []) == Confusion()
