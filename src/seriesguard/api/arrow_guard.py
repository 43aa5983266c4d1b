"""How big an Arrow IPC stream really is, from its message headers, before anything is read.

The body limit counts bytes on the wire. A compressed IPC stream (LZ4 or ZSTD buffers) can
say ten million rows in a few kilobytes, and ``read_all`` inflates all of it before a single
row is counted: a memory bomb that fits any body limit. Every record batch (and dictionary
batch) message carries its row count, and each compressed buffer starts with its inflated
size, so both totals are known from the stream's headers alone. This module reads them (the
few flatbuffer fields it needs, nothing more) so that an oversized stream is refused before
any buffer is decompressed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from seriesguard.core.errors import InvalidInput

# Fields of Arrow's Message.fbs used here (field index in its table).
_MESSAGE_HEADER_TYPE, _MESSAGE_HEADER = 1, 2
_DICTIONARY_BATCH, _RECORD_BATCH = 2, 3  # MessageHeader union tags
_DICTIONARY_DATA = 1  # DictionaryBatch.data: a RecordBatch
_BATCH_LENGTH, _BATCH_BUFFERS, _BATCH_COMPRESSION = 0, 2, 3
_BUFFER_STRUCT = struct.Struct("<qq")  # Buffer { offset: long; length: long }


@dataclass(frozen=True)
class StreamSize:
    rows: int  # rows of the record batches (dictionary batches not counted)
    inflated_bytes: int  # the body once every buffer is decompressed


class _Table:
    """One flatbuffer table: just enough to read scalars, sub-tables and struct vectors."""

    def __init__(self, data: bytes, position: int) -> None:
        self.data, self.position = data, position
        (vtable_back,) = struct.unpack_from("<i", data, position)
        self.vtable = position - vtable_back
        (self.vtable_size,) = struct.unpack_from("<H", data, self.vtable)

    def _field(self, index: int) -> int | None:
        slot = 4 + 2 * index
        if slot >= self.vtable_size:
            return None
        (offset,) = struct.unpack_from("<H", self.data, self.vtable + slot)
        return self.position + offset if offset else None

    def scalar(self, index: int, fmt: str, default: int) -> int:
        at = self._field(index)
        return default if at is None else int(struct.unpack_from(fmt, self.data, at)[0])

    def table(self, index: int) -> _Table | None:
        at = self._field(index)
        if at is None:
            return None
        (offset,) = struct.unpack_from("<I", self.data, at)
        return _Table(self.data, at + offset)

    def has(self, index: int) -> bool:
        return self._field(index) is not None

    def structs(self, index: int, layout: struct.Struct) -> list[tuple[int, ...]]:
        at = self._field(index)
        if at is None:
            return []
        (offset,) = struct.unpack_from("<I", self.data, at)
        start = at + offset
        (count,) = struct.unpack_from("<I", self.data, start)
        return [layout.unpack_from(self.data, start + 4 + i * layout.size) for i in range(count)]


def stream_size(blob: bytes) -> StreamSize:
    """Rows and inflated size of an IPC stream; InvalidInput if its headers cannot be read."""
    rows = inflated = 0
    try:
        reader = pa.ipc.MessageReader.open_stream(pa.py_buffer(blob))
        while (message := _next(reader)) is not None:
            metadata = message.metadata.to_pybytes()
            (root,) = struct.unpack_from("<I", metadata, 0)
            header = _Table(metadata, root)
            kind = header.scalar(_MESSAGE_HEADER_TYPE, "<B", 0)
            if kind not in (_RECORD_BATCH, _DICTIONARY_BATCH):
                continue
            batch = header.table(_MESSAGE_HEADER)
            if batch is not None and kind == _DICTIONARY_BATCH:
                batch = batch.table(_DICTIONARY_DATA)
            if batch is None:
                continue
            if kind == _RECORD_BATCH:
                rows += batch.scalar(_BATCH_LENGTH, "<q", 0)
            inflated += _inflated(batch, message.body)
    except (struct.error, pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise InvalidInput(
            f"body is not an Arrow IPC stream: {exc}", rule="arrow_invalid", loc=("body",)
        ) from exc
    return StreamSize(rows=rows, inflated_bytes=inflated)


def _next(reader: Any) -> Any:
    try:
        return reader.read_next_message()
    except StopIteration:
        return None


def _inflated(batch: _Table, body: Any) -> int:
    """Bytes of the batch's buffers once decompressed (each compressed buffer starts with its
    inflated length, or -1 when that one was left as it is)."""
    buffers = batch.structs(_BATCH_BUFFERS, _BUFFER_STRUCT)
    if not batch.has(_BATCH_COMPRESSION):
        return sum(length for _offset, length in buffers)
    raw = memoryview(body) if body is not None else memoryview(b"")
    total = 0
    for offset, length in buffers:
        if length < 8:
            total += max(length, 0)
            continue
        (size,) = struct.unpack_from("<q", raw, offset)
        total += length - 8 if size == -1 else size
    return total


# Room per row once inflated: a timestamp, a value and a series id (dictionary-encoded or
# not), with slack for validity bitmaps and small extra columns.
BYTES_PER_ROW = 64


def check_stream_size(blob: bytes, *, max_rows: int, what: str, rule: str) -> None:
    """Refuse a stream over ``max_rows`` rows, or larger once inflated than such rows can
    be, before a single buffer of it is decompressed."""
    max_bytes = max_rows * BYTES_PER_ROW + 2**20
    size = stream_size(blob)
    if size.rows > max_rows:
        raise InvalidInput(
            f"{what} holds {size.rows} rows; at most {max_rows} are accepted",
            rule=rule,
            loc=("body",),
        )
    if size.inflated_bytes > max_bytes:
        raise InvalidInput(
            f"{what} inflates to {size.inflated_bytes} bytes once decompressed; at most "
            f"{max_bytes} are accepted",
            rule="inflated_body_too_large",
            loc=("body",),
        )
