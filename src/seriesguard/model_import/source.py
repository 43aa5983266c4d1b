"""Import files: JSON Lines (``.jsonl``) or CSV, optionally gzipped.

JSON Lines: one object per line, ``{"series_id", "algorithm"?, "params", "metrics"?}``.
CSV: a header with ``series_id``, optionally ``algorithm``, and one column per parameter (the
seed's z-score: ``series_id,mean,std,threshold_sigma``); empty cells are left out.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import orjson

from seriesguard.core.errors import InvalidInput
from seriesguard.core.model_import import ImportedModel, parse_record


def read_models(path: Path, *, default_algorithm: str) -> Iterator[ImportedModel]:
    """Validated records in file order; raises ``InvalidInput`` naming the line."""
    seen: dict[str, int] = {}
    for line, document in _documents(path):
        record = parse_record(document, line=line, default_algorithm=default_algorithm)
        first = seen.setdefault(record.series_id, line)
        if first != line:
            raise InvalidInput(
                f"line {line}: series {record.series_id!r} was already given on line {first}",
                rule="duplicate_series",
                loc=("line", line, "series_id"),
            )
        yield record


def count_models(path: Path, *, default_algorithm: str) -> int:
    """Validate the whole file without keeping it; returns how many models it holds."""
    return sum(1 for _ in read_models(path, default_algorithm=default_algorithm))


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _documents(path: Path) -> Iterator[tuple[int, Any]]:
    stem = path.name.removesuffix(".gz")
    with _open(path) as stream:
        if stem.endswith(".csv"):
            yield from _csv(io.TextIOWrapper(stream, encoding="utf-8", newline=""))
        elif stem.endswith((".jsonl", ".ndjson", ".json")):
            yield from _jsonl(stream)
        else:
            raise InvalidInput(
                f"{path.name}: import files are .jsonl or .csv (optionally .gz)",
                rule="import_format",
                loc=("file",),
            )


def _jsonl(stream: IO[bytes]) -> Iterator[tuple[int, Any]]:
    for line, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            yield line, orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(
                f"line {line}: not valid JSON: {exc}", rule="invalid_json", loc=("line", line)
            ) from None


def _csv(stream: io.TextIOWrapper) -> Iterator[tuple[int, Any]]:
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None or "series_id" not in header:
        raise InvalidInput(
            "the CSV header must name a series_id column", rule="csv_header", loc=("line", 1)
        )
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InvalidInput(
                f"line {line}: {len(row)} cells for {len(header)} columns",
                rule="csv_row",
                loc=("line", line),
            )
        cells = dict(zip(header, row, strict=True))
        document: dict[str, Any] = {"series_id": cells.pop("series_id")}
        if "algorithm" in cells:
            document["algorithm"] = cells.pop("algorithm")
        document["params"] = {k: _number(v, line, k) for k, v in cells.items() if v.strip()}
        yield line, document


def _number(text: str, line: int, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(
            f"line {line}: {column} {text[:40]!r} is not a number",
            rule="csv_number",
            loc=("line", line, column),
        ) from None
