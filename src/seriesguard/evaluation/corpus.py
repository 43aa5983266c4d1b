"""Reads the NAB corpus from a folder laid out as NAB ships it:

- ``data/<group>/<name>.csv.gz`` (or ``.csv``), header ``timestamp,value``;
- ``labels/combined_windows.json``: ``{"<group>/<name>.csv": [[start, end], ...]}`` timestamps;
- ``config/profiles.json``: the application profiles' cost matrices.

Label windows are turned into row indices here, so the scorer only ever sees rows.
Bad or missing files raise the domain errors (NotFound / InvalidInput), never OSError or
ValueError, so a caller can report them like any other bad input.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from seriesguard.core.errors import InvalidInput, NotFound
from seriesguard.core.nab_scoring import Profile, Window, probation_rows, profiles_from_json

__all__ = ["NabCorpus", "NabFile", "probation_rows"]

WINDOWS_FILE = Path("labels") / "combined_windows.json"
PROFILES_FILE = Path("config") / "profiles.json"


@dataclass(frozen=True, slots=True)
class NabFile:
    """One corpus file: ``name`` is NAB's key (``<group>/<name>.csv``), timestamps in epoch
    seconds (UTC, as NAB's timestamps carry no zone), non-decreasing (repeats kept), windows as
    inclusive row indices."""

    name: str
    timestamps: NDArray[np.float64]
    values: NDArray[np.float64]
    windows: list[Window]

    @property
    def probation(self) -> int:
        return probation_rows(self.timestamps.size)


class NabCorpus:
    """The NAB corpus under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def names(self) -> list[str]:
        """NAB keys of every data file, sorted."""
        data = self.root / "data"
        if not data.is_dir():
            raise NotFound(f"no NAB data folder at {data}", rule="nab_corpus", loc=("root",))
        paths = sorted(p for p in data.glob("*/*") if p.name.endswith((".csv", ".csv.gz")))
        return [_key(p, data) for p in paths]

    def files(self) -> list[NabFile]:
        """Every file with its label windows, sorted by name."""
        labels = self._labels()
        return [self._file(name, labels) for name in self.names()]

    def file(self, name: str) -> NabFile:
        """One file by NAB key (``<group>/<name>.csv``)."""
        if name not in self.names():
            raise NotFound(f"no NAB file {name}", rule="nab_file", loc=("name",))
        return self._file(name, self._labels())

    def profiles(self) -> dict[str, Profile]:
        doc = _read_json(self.root / PROFILES_FILE)
        if not isinstance(doc, dict):
            raise InvalidInput("profiles.json must be an object", rule="nab_profile", loc=())
        return profiles_from_json(doc)

    def _labels(self) -> dict[str, list[tuple[float, float]]]:
        doc = _read_json(self.root / WINDOWS_FILE)
        if not isinstance(doc, dict):
            raise InvalidInput("combined_windows.json must be an object", rule="nab_labels")
        return {str(key): _label_spans(key, spans) for key, spans in doc.items()}

    def _file(self, name: str, labels: dict[str, list[tuple[float, float]]]) -> NabFile:
        if name not in labels:
            raise InvalidInput(f"{name} has no label entry", rule="nab_labels", loc=(name,))
        timestamps, values = _read_series(self._path_of(name), name=name)
        windows = [_to_rows(timestamps, span, name=name) for span in labels[name]]
        return NabFile(name=name, timestamps=timestamps, values=values, windows=windows)

    def _path_of(self, name: str) -> Path:
        plain = self.root / "data" / name
        gz = plain.with_name(plain.name + ".gz")
        return gz if gz.exists() else plain


def _key(path: Path, data: Path) -> str:
    relative = path.relative_to(data).as_posix()
    return relative.removesuffix(".gz")


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NotFound(f"missing {path}", rule="nab_corpus", loc=(str(path),)) from exc
    except (OSError, ValueError) as exc:
        raise InvalidInput(
            f"unreadable {path}: {exc}", rule="nab_corpus", loc=(str(path),)
        ) from exc


def _epoch_seconds(stamps: list[str]) -> NDArray[np.float64]:
    # NAB writes naive "YYYY-MM-DD HH:MM:SS[.ffffff]"; numpy reads them as UTC.
    micros = np.array(stamps, dtype="datetime64[us]").astype(np.int64)
    return micros.astype(np.float64) / 1e6


def _label_spans(key: object, spans: object) -> list[tuple[float, float]]:
    if not isinstance(spans, list):
        raise InvalidInput("label windows must be a list", rule="nab_labels", loc=(str(key),))
    out: list[tuple[float, float]] = []
    for k, span in enumerate(spans):
        if not (
            isinstance(span, list) and len(span) == 2 and all(isinstance(s, str) for s in span)
        ):
            raise InvalidInput(
                "a label window is [start, end] timestamps", rule="nab_labels", loc=(str(key), k)
            )
        try:
            start, end = _epoch_seconds(span)
        except ValueError as exc:
            raise InvalidInput(str(exc), rule="nab_labels", loc=(str(key), k)) from exc
        out.append((float(start), float(end)))
    return out


def _read_series(path: Path, *, name: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    try:
        raw = path.read_bytes()
        text = gzip.decompress(raw).decode("utf-8") if path.suffix == ".gz" else raw.decode()
    except FileNotFoundError as exc:
        raise NotFound(f"missing {path}", rule="nab_file", loc=(name,)) from exc
    except (OSError, ValueError) as exc:  # gzip.BadGzipFile and UnicodeDecodeError included
        raise InvalidInput(f"unreadable {path}: {exc}", rule="nab_file", loc=(name,)) from exc
    rows = csv.reader(io.StringIO(text))
    if next(rows, None) != ["timestamp", "value"]:
        raise InvalidInput("header must be timestamp,value", rule="nab_file", loc=(name, 0))
    stamps: list[str] = []
    values: list[float] = []
    for line, row in enumerate(rows, start=1):
        try:
            stamp, value = row
            values.append(float(value))
        except ValueError as exc:
            raise InvalidInput(f"bad row: {row}", rule="nab_file", loc=(name, line)) from exc
        stamps.append(stamp)
    try:
        timestamps = _epoch_seconds(stamps)
    except ValueError as exc:
        raise InvalidInput(f"bad timestamp: {exc}", rule="nab_file", loc=(name,)) from exc
    if timestamps.size == 0:
        raise InvalidInput("the file has no rows", rule="nab_file", loc=(name,))
    # The real corpus has repeated timestamps (kept: NAB scores them as rows) and one file with
    # an hour logged twice (machine_temperature_system_failure). A stable sort makes time
    # non-decreasing, which label-window lookup and time-aware detectors rely on, and leaves
    # every already-ordered file exactly in NAB's row order.
    order = np.argsort(timestamps, kind="stable")
    return timestamps[order], np.asarray(values, dtype=np.float64)[order]


def _to_rows(timestamps: NDArray[np.float64], span: tuple[float, float], *, name: str) -> Window:
    """The rows whose timestamps fall inside ``[start, end]``."""
    start, end = span
    first = int(np.searchsorted(timestamps, start, side="left"))
    last = int(np.searchsorted(timestamps, end, side="right")) - 1
    if first > last:
        raise InvalidInput(
            f"label window {span} holds no row", rule="nab_labels", loc=(name, "windows")
        )
    return Window(start_index=first, end_index=last)
