"""Bodies of ``POST /api/v1/predict/batch``: the seed's JSON and a columnar Arrow stream, in
and out.

**JSON** keeps the seed's shape (``BatchRequest`` in, ``BatchResponse`` out) but skips
pydantic for well-formed bodies: validating 1M numbers one by one costs more than parsing
them. A body is read with orjson, its shape checked in one pass over the series (not the
points), and each column turned into one numpy array. Anything unusual (numbers as text, a
missing field, a wrong type) goes through ``BatchRequest`` after all, so odd but valid input
is accepted exactly as before and errors keep pydantic's wording and places. The answer is
written by orjson straight from the numpy arrays.

**Arrow** (``application/vnd.apache.arrow.stream``): columns ``series_id`` (text, plain or
dictionary-encoded), ``timestamp`` (epoch seconds as numbers, or an Arrow timestamp) and
``value`` (numbers); any row order, any number of record batches. The answer is one row per
request row, in request order: ``anomaly`` (bool), ``anomaly_score`` and ``normalized_score``
(float64), with the per-series facts in the schema metadata: ``seriesguard.series`` holds a
JSON object ``{series_id: {threshold, model_info, confidence}}`` and ``seriesguard.points`` the
count.
A series with a canary has points answered by either version (core.routing): in JSON its
result gains ``canary`` (the canary's facts and the positions it answered); in Arrow its facts
gain ``canary`` and the table a bool column ``canary`` (only in batches where one answered).
Errors name the column and the row: ``["body", "value", 17]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import orjson
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

# The Arrow reading rules of the training body (columns, types, nulls) apply here unchanged.
from seriesguard.api.arrow_body import MEDIA_TYPE as ARROW_MEDIA_TYPE
from seriesguard.api.arrow_body import _read_table, _timestamps, _values
from seriesguard.api.fast_json import loads_or_422
from seriesguard.api.schemas import BatchRequest
from seriesguard.core.errors import InvalidInput
from seriesguard.core.series import check_series_id
from seriesguard.core.validation import parse_timestamps
from seriesguard.serving.batch import (
    MAX_BATCH_POINTS,
    BatchPoints,
    BatchScores,
    FloatArray,
    IntArray,
    check_batch_size,
    group_rows,
)
from seriesguard.serving.challengers import CanaryPart
from seriesguard.serving.scorer import Scorer

__all__ = ["ARROW_MEDIA_TYPE", "arrow_answer", "json_answer", "read_arrow", "read_json"]

SERIES_COLUMN = "series_id"
METADATA_SERIES = b"seriesguard.series"
METADATA_POINTS = b"seriesguard.points"
_ITEM_KEYS = frozenset({"series_id", "timestamps", "values"})


@dataclass(frozen=True, slots=True)
class _Items:
    """The ``series`` of a JSON body, column by column."""

    series_ids: list[str]
    timestamps: list[list[Any]]
    values: list[list[Any]]


# -- JSON in ---------------------------------------------------------------------------------


def read_json(blob: bytes) -> BatchPoints:
    """Points of a ``BatchRequest`` body; one run per item of ``series``, in order."""
    document = _loads(blob)
    items = _plain_items(document)
    columns = None
    if items is not None:
        _check_items(items)
        columns = _plain_columns(items)
    if items is None or columns is None:  # unusual input: pydantic decides, as it always did
        items = _validated_items(document)
        _check_items(items)
        columns = _plain_columns(items)
        assert columns is not None, "pydantic hands over floats and text"
    timestamps, values = columns
    bounds = np.cumsum([0, *map(len, items.values)], dtype=np.int64)
    _check_finite_items(values, bounds, "values")
    if timestamps is None:  # ISO-8601 text among the timestamps: the per-item parser
        timestamps = _parsed_timestamps(items)
    _check_finite_items(timestamps, bounds, "timestamps")
    return BatchPoints(
        series_ids=items.series_ids,
        bounds=bounds,
        timestamps=timestamps,
        values=values,
        run_loc=lambda index: ("body", "series", index, "series_id"),
    )


def _loads(blob: bytes) -> Any:
    if not blob:  # what FastAPI answers for a missing body
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    return loads_or_422(blob)


def _plain_items(document: Any) -> _Items | None:
    """The body's columns when its shape is exactly the schema's, else None (one pass over
    the series, none over the points)."""
    if type(document) is not dict or document.keys() != {"series"}:
        return None
    series = document["series"]
    if type(series) is not list:
        return None
    ids: list[str] = []
    timestamps: list[list[Any]] = []
    values: list[list[Any]] = []
    for item in series:
        if type(item) is not dict or item.keys() != _ITEM_KEYS:
            return None
        series_id, stamps, numbers = item["series_id"], item["timestamps"], item["values"]
        if type(series_id) is not str or type(stamps) is not list or type(numbers) is not list:
            return None
        ids.append(series_id)
        timestamps.append(stamps)
        values.append(numbers)
    return _Items(series_ids=ids, timestamps=timestamps, values=values)


def _validated_items(document: Any) -> _Items:
    try:
        body = BatchRequest.model_validate(document)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    return _Items(
        series_ids=[s.series_id for s in body.series],
        timestamps=[list(s.timestamps) for s in body.series],
        values=[list(s.values) for s in body.series],
    )


def _check_items(items: _Items) -> None:
    """Rules checked per series, before any point is converted."""
    for index, series_id in enumerate(items.series_ids):
        loc = ("body", "series", index)
        check_series_id(series_id, loc=(*loc, "series_id"))
        stamps, numbers = len(items.timestamps[index]), len(items.values[index])
        if stamps != numbers:
            raise InvalidInput(
                f"series[{index}] has {stamps} timestamps and {numbers} values",
                rule="length_mismatch",
                loc=(*loc, "timestamps"),
            )
    check_batch_size(sum(map(len, items.values)), loc=("body", "series"))


def _plain_columns(items: _Items) -> tuple[FloatArray | None, FloatArray] | None:
    """(timestamps, values) as arrays; timestamps None when some are text (ISO-8601); None
    when the values are not all plain JSON numbers."""
    values = _numbers(list(chain.from_iterable(items.values)))
    if values is None:
        return None
    stamps = list(chain.from_iterable(items.timestamps))
    timestamps = _numbers(stamps)
    if timestamps is None and not set(map(type, stamps)) <= {int, float, str}:
        return None
    return timestamps, values


def _numbers(flat: list[Any]) -> FloatArray | None:
    """One float64 array from a list of JSON numbers, or None for anything else. numpy infers
    the type in C; bool, text, null and nested lists all infer to another kind or shape."""
    try:
        array = np.array(flat)
    except (ValueError, TypeError, OverflowError):
        return None
    if array.ndim != 1 or array.dtype.kind not in "if":
        return None
    return array.astype(np.float64, copy=False)


def _parsed_timestamps(items: _Items) -> FloatArray:
    parsed = []
    for index, stamps in enumerate(items.timestamps):
        try:
            parsed.append(parse_timestamps(stamps))
        except InvalidInput as exc:  # its place is ("body", "timestamps", i): put the item in
            loc = ("body", "series", index, *exc.loc[1:])
            raise InvalidInput(exc.message, rule=exc.rule, loc=loc) from None
    return np.concatenate(parsed) if parsed else np.zeros(0)


def _check_finite_items(array: FloatArray, bounds: IntArray, field: str) -> None:
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        row = int(bad[0])
        index = int(np.searchsorted(bounds, row, side="right")) - 1
        offset = row - int(bounds[index])
        raise InvalidInput(
            f"series[{index}].{field}[{offset}] is {array[row]}; all {field} must be finite",
            rule="finite_values",
            loc=("body", "series", index, field, offset),
        )


# -- Arrow in --------------------------------------------------------------------------------


def read_arrow(blob: bytes) -> BatchPoints:
    """Points of an Arrow IPC stream; rows regrouped per series when they interleave."""
    # Refused unread past MAX_BATCH_POINTS; then the timestamp and value columns must exist.
    table = _read_table(blob, max_rows=MAX_BATCH_POINTS, what="batch", rule="max_batch_points")
    if SERIES_COLUMN not in table.column_names:
        raise InvalidInput(
            f"the Arrow table needs a column {SERIES_COLUMN!r}; it has {table.column_names}",
            rule="missing_column",
            loc=("body", SERIES_COLUMN),
        )
    check_batch_size(table.num_rows, loc=("body",))
    codes, names = _series_codes(table.column(SERIES_COLUMN))
    timestamps = _timestamps(table.column("timestamp"))
    values = _values(table.column("value"))
    _check_finite_rows(timestamps, "timestamp")
    _check_finite_rows(values, "value")
    bounds, run_codes, rows = group_rows(codes)
    if rows is not None:
        timestamps, values = timestamps[rows], values[rows]
    starts = bounds[:-1] if rows is None else rows[bounds[:-1]]
    first_rows: list[int] = starts.tolist()
    series_ids = [
        _series_id(names[code], row=row)
        for code, row in zip(run_codes.tolist(), first_rows, strict=True)
    ]
    return BatchPoints(
        series_ids=series_ids,
        bounds=bounds,
        timestamps=timestamps,
        values=values,
        run_loc=lambda index: ("body", SERIES_COLUMN, first_rows[index]),
        rows=rows,
    )


def _series_codes(column: Any) -> tuple[IntArray, list[str | None]]:
    """(a series number per row, the name of each number) from a text or dictionary column."""
    kind = column.type
    dictionary = pa.types.is_dictionary(kind)
    text = kind.value_type if dictionary else kind
    if not (pa.types.is_string(text) or pa.types.is_large_string(text) or _is_view(text)):
        raise InvalidInput(
            f"column {SERIES_COLUMN!r} must hold text (plain or dictionary-encoded), it holds "
            f"{kind}",
            rule="column_type",
            loc=("body", SERIES_COLUMN),
        )
    # One array with one dictionary, whatever the batches were (their dictionaries unify).
    array = column.combine_chunks() if dictionary else pc.dictionary_encode(column.combine_chunks())
    if array.null_count:
        first = int(np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False))[0])
        raise InvalidInput(
            f"{SERIES_COLUMN}[{first}] is null",
            rule="null_value",
            loc=("body", SERIES_COLUMN, first),
        )
    codes = np.asarray(array.indices.to_numpy(), dtype=np.int64)
    return codes, array.dictionary.to_pylist()


def _is_view(kind: Any) -> bool:
    is_view = getattr(pa.types, "is_string_view", None)
    return bool(is_view is not None and is_view(kind))


def _series_id(name: str | None, *, row: int) -> str:
    loc = ("body", SERIES_COLUMN, row)
    if name is None:  # a dictionary entry may itself be null
        raise InvalidInput(f"{SERIES_COLUMN}[{row}] is null", rule="null_value", loc=loc)
    return check_series_id(name, loc=loc)


def _check_finite_rows(array: FloatArray, column: str) -> None:
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        row = int(bad[0])
        raise InvalidInput(
            f"{column}[{row}] is {array[row]}; all {column}s must be finite "
            f"({bad.size} offending row(s))",
            rule="finite_values",
            loc=("body", column, row),
        )


# -- answers ---------------------------------------------------------------------------------


def _facts(scorer: Scorer, threshold: float) -> dict[str, Any]:
    """What the answer says about one series' model, in the single predict's words."""
    info = scorer.info
    return {
        "threshold": threshold,
        "model_info": info.as_model_info(),
        "confidence": info.confidence,
    }


def _canary_facts(part: CanaryPart) -> dict[str, Any]:
    """What the answer says about the canary that answered some points of a series."""
    return _facts(part.scorer, part.threshold)


def json_answer(batch: BatchScores) -> bytes:
    """A ``BatchResponse``: one result per run (per item of a JSON body, per series of an
    Arrow body), the arrays written by orjson straight from numpy."""
    points = batch.points
    bounds = points.bounds.tolist()
    thresholds = batch.thresholds.tolist()
    results = []
    for index, (series_id, scorer) in enumerate(zip(points.series_ids, batch.scorers, strict=True)):
        low, high = bounds[index], bounds[index + 1]
        result = {
            "series_id": series_id,
            "anomalies": batch.anomalies[low:high],
            "anomaly_scores": batch.scores[low:high],
            "normalized_scores": batch.normalized[low:high],
            **_facts(scorer, thresholds[index]),
        }
        part = batch.canary.get(index)
        if part is not None and part.mask.any():
            # the points of this result the canary answered, by position in it
            result["canary"] = {**_canary_facts(part), "points": np.flatnonzero(part.mask)}
        results.append(result)
    document = {"results": results, "points": len(points)}
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


def arrow_answer(batch: BatchScores) -> memoryview:
    """One row per request row, in request order; per-series facts in the schema metadata."""
    scores, anomalies = batch.in_request_order()
    thresholds = batch.thresholds.tolist()
    facts = {
        series_id: _facts(scorer, thresholds[index])
        for index, (series_id, scorer) in enumerate(
            zip(batch.points.series_ids, batch.scorers, strict=True)
        )
    }
    columns = {
        "anomaly": pa.array(anomalies),
        "anomaly_score": pa.array(scores),
        "normalized_score": pa.array(batch.normalized_in_request_order()),
    }
    canary_rows = batch.canary_rows()
    if canary_rows is not None:  # only then: a batch without canaries keeps its three columns
        for index, part in batch.canary.items():
            if part.mask.any():
                facts[batch.points.series_ids[index]]["canary"] = _canary_facts(part)
        columns["canary"] = pa.array(canary_rows)
    metadata = {
        METADATA_POINTS: str(len(batch.points)).encode(),
        METADATA_SERIES: orjson.dumps(facts),
    }
    table = pa.table(columns, metadata=metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return memoryview(sink.getvalue())  # no copy: Starlette sends a memoryview as it is
