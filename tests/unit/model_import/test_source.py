"""Import files: JSON Lines and CSV, plain or gzipped; errors point at the line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from seriesguard.core.errors import InvalidInput
from seriesguard.model_import.source import count_models, read_models


def read(path: Path) -> list[tuple[str, float]]:
    return [
        (m.series_id, m.detector.params()["mean"])
        for m in read_models(path, default_algorithm="statistical")
    ]


def test_jsonl_plain_and_gzipped(tmp_path: Path) -> None:
    text = (
        '{"series_id": "a", "params": {"mean": 1, "std": 1}}\n\n'
        '{"series_id": "b", "algorithm": "zscore", "params": {"mean": 2, "std": 1}}\n'
    )
    plain = tmp_path / "m.jsonl"
    plain.write_text(text)
    zipped = tmp_path / "m.jsonl.gz"
    zipped.write_bytes(gzip.compress(text.encode()))
    assert read(plain) == read(zipped) == [("a", 1.0), ("b", 2.0)]
    assert count_models(plain, default_algorithm="statistical") == 2


def test_csv_columns_are_parameters(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("series_id,mean,std,threshold_sigma\na,1.5,2,3\nb,2.5,1,\n")
    assert read(path) == [("a", 1.5), ("b", 2.5)]


@pytest.mark.parametrize(
    ("name", "text", "rule", "loc"),
    [
        (
            "m.jsonl",
            '{"series_id": "a", "params": {"mean": 1, "std": 1}}\n{oops\n',
            "invalid_json",
            ("line", 2),
        ),
        (
            "m.jsonl",
            '{"series_id": "a", "params": {"mean": 1, "std": 1}}\n'
            '{"series_id": "a", "params": {"mean": 2, "std": 1}}\n',
            "duplicate_series",
            ("line", 2, "series_id"),
        ),
        ("m.csv", "mean,std\n1,2\n", "csv_header", ("line", 1)),
        ("m.csv", "series_id,mean,std\na,1,2\nb,x,2\n", "csv_number", ("line", 3, "mean")),
        ("m.csv", "series_id,mean,std\na,1\n", "csv_row", ("line", 2)),
        ("m.txt", "", "import_format", ("file",)),
    ],
)
def test_bad_files_name_the_line(
    tmp_path: Path,
    name: str,
    text: str,
    rule: str,
    loc: tuple,  # type: ignore[type-arg]
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        read(path)
    assert (caught.value.rule, caught.value.loc) == (rule, loc)
