"""Arrow IPC streams are sized from their headers: rows and inflated bytes, before reading."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from seriesguard.api.arrow_guard import check_stream_size, stream_size
from seriesguard.core.errors import InvalidInput


def ipc(table: pa.Table, *, compression: str | None = None, chunk: int | None = None) -> bytes:
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table, max_chunksize=chunk)
    return bytes(sink.getvalue().to_pybytes())


def points(n: int, *, ids: int = 3) -> pa.Table:
    series = pa.array([f"s{i % ids}" for i in range(n)]).dictionary_encode()
    return pa.table(
        {"series_id": series, "timestamp": np.arange(n, dtype=np.float64), "value": np.ones(n)}
    )


@pytest.mark.parametrize("compression", [None, "lz4", "zstd"])
@pytest.mark.parametrize("chunk", [None, 700])
def test_rows_and_inflated_size_come_from_the_headers(
    compression: str | None, chunk: int | None
) -> None:
    table = points(5_000)
    size = stream_size(ipc(table, compression=compression, chunk=chunk))
    assert size.rows == 5_000
    # Both number columns (80 kB) and the dictionary indices are in the inflated size.
    assert 80_000 <= size.inflated_bytes <= 80_000 + 5_000 * 8 + 4_096


def test_a_compressed_bomb_is_refused_unread() -> None:
    bomb = ipc(
        pa.table(
            {
                "series_id": pa.array(["s"] * 3_000_000).dictionary_encode(),
                "timestamp": np.zeros(3_000_000),
                "value": np.zeros(3_000_000),
            }
        ),
        compression="zstd",
    )
    assert len(bomb) < 200_000  # 48 MB of zeros on the wire as a few kB
    with pytest.raises(InvalidInput) as caught:
        check_stream_size(bomb, max_rows=1_000_000, what="batch", rule="max_batch_points")
    assert (caught.value.rule, caught.value.loc) == ("max_batch_points", ("body",))


def test_few_rows_that_inflate_beyond_their_share_are_refused() -> None:
    huge_text = pa.table({"series_id": ["x" * 5_000_000], "timestamp": [1.0], "value": [2.0]})
    blob = ipc(huge_text, compression="zstd")
    assert len(blob) < 100_000
    with pytest.raises(InvalidInput) as caught:
        check_stream_size(blob, max_rows=10, what="training body", rule="max_points")
    assert caught.value.rule == "inflated_body_too_large"
    assert "inflates to" in caught.value.message


def test_training_bodies_name_their_own_rule() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_stream_size(ipc(points(101)), max_rows=100, what="training body", rule="max_points")
    assert caught.value.rule == "max_points"


def test_within_limits_passes_and_garbage_is_arrow_invalid() -> None:
    check_stream_size(
        ipc(points(1_000), compression="lz4"), max_rows=1_000, what="batch", rule="max_batch_points"
    )
    assert stream_size(b"").rows == 0  # no message at all: read_all refuses it later
    whole = ipc(points(10))
    for junk in (b"not arrow at all", whole[:-40], whole[:30]):
        with pytest.raises(InvalidInput) as caught:
            stream_size(junk)
        assert (caught.value.rule, caught.value.loc) == ("arrow_invalid", ("body",))
