"""Arrow bodies of the batch predict, for :class:`seriesguard.client.SeriesguardClient`.

pyarrow is imported when a function here runs, so the CLI and JSON users never load it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

ARROW_MEDIA_TYPE = "application/vnd.apache.arrow.stream"
COLUMNS = ("series_id", "timestamp", "value")


@dataclass(frozen=True)
class ArrowBatchAnswer:
    """Answer of :meth:`SeriesguardClient.predict_batch_arrow`.

    ``table`` (a ``pyarrow.Table``): one row per point sent, in the order sent, with columns
    ``anomaly``, ``anomaly_score`` and ``normalized_score``. ``series``: per series id, the
    facts of the model that answered (``threshold``, ``model_info``, ``confidence``), as in the
    JSON answer.
    """

    table: Any
    series: dict[str, dict[str, Any]]
    points: int


def encode_arrow_batch(points: Any) -> bytes:
    """An Arrow IPC stream of ``points``: a ``pyarrow.Table`` or record batch, or a mapping of
    ``series_id``, ``timestamp`` and ``value`` to sequences or numpy arrays. Text series ids
    are dictionary-encoded: a few bytes per point instead of the whole id."""
    import pyarrow as pa  # type: ignore[import-untyped]

    if isinstance(points, pa.Table):
        table = points
    elif isinstance(points, pa.RecordBatch):
        table = pa.Table.from_batches([points])
    else:
        table = pa.table({name: points[name] for name in COLUMNS})
    if "series_id" in table.column_names:
        index = table.column_names.index("series_id")
        column = table.column(index)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            table = table.set_column(index, "series_id", column.dictionary_encode())
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    blob: bytes = sink.getvalue().to_pybytes()
    return blob


def decode_arrow_answer(blob: bytes) -> ArrowBatchAnswer:
    """Read the server's Arrow answer; ValueError when it is not one."""
    import pyarrow as pa

    try:
        table = pa.ipc.open_stream(blob).read_all()
        metadata = table.schema.metadata or {}
        series = orjson.loads(metadata.get(b"seriesguard.series", b"{}"))
        points = int(metadata.get(b"seriesguard.points", table.num_rows))
    except (pa.ArrowInvalid, ValueError) as exc:
        raise ValueError(f"the answer is not a seriesguard Arrow stream: {exc}") from exc
    return ArrowBatchAnswer(table=table, series=series, points=points)
