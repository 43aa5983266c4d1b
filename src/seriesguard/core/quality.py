"""Detection quality against ground truth: confusion counts and the rates read from them.

Counts, not rates, are what add up across windows and processes; every rate is derived on
demand and is None when its denominator is zero (undefined, not zero). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"confusion count {f.name} must be an integer >= 0, got {value!r}")

    def __add__(self, other: Confusion) -> Confusion:
        if not isinstance(other, Confusion):
            return NotImplemented
        return Confusion(
            tp=self.tp + other.tp,
            fp=self.fp + other.fp,
            fn=self.fn + other.fn,
            tn=self.tn + other.tn,
        )

    @property
    def labelled(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float | None:
        """Share of flagged points that were anomalies; None when nothing was flagged."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        """Share of anomalies that were flagged; None when there was no anomaly."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        """2tp / (2tp + fp + fn): the harmonic mean of precision and recall where both exist.

        The count form is also defined when only one of them is: a model that flagged nothing
        while anomalies happened scores 0, not None. None only with neither flags nor anomalies.
        """
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def false_positive_rate(self) -> float | None:
        """Share of normal points that were flagged; None when there was no normal point."""
        return _ratio(self.fp, self.fp + self.tn)

    def to_json(self) -> dict[str, float | int | None]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "labelled": self.labelled,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "false_positive_rate": self.false_positive_rate,
        }


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def confusion(predicted: Sequence[bool], actual: Sequence[bool]) -> Confusion:
    """Counts of a model's verdicts (``predicted``) against the truth (``actual``), pairwise."""
    if len(predicted) != len(actual):
        raise ValueError(
            f"predicted and actual differ in length: {len(predicted)} != {len(actual)}"
        )
    tp = fp = fn = tn = 0
    for flagged, anomalous in zip(predicted, actual, strict=True):
        if flagged and anomalous:
            tp += 1
        elif flagged:
            fp += 1
        elif anomalous:
            fn += 1
        else:
            tn += 1
    return Confusion(tp=tp, fp=fp, fn=fn, tn=tn)
