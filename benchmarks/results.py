"""One place where benchmark figures are recorded: ``benchmarks/results.json``.

Every benchmark script builds :class:`Figure` objects and calls :func:`publish`, which prints
them and merges them into ``results.json`` under the script's name (a rerun of one script
replaces only its own figures). ``benchmarks/report.py`` renders the file into the tables of
``docs/performance.md``, so the document shows exactly what the commands printed.

A figure carries its baseline measured in the same run (when the benchmark has one), the
target from the issue it answers, and whether the target held in this run.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

RESULTS = Path(__file__).resolve().parent / "results.json"


@dataclass
class Figure:
    """One measured figure. ``id`` is stable across runs (``<benchmark>.<what>``)."""

    id: str
    title: str
    value: float
    unit: str
    better: Literal["higher", "lower"] = "lower"
    baseline: float | None = None
    baseline_label: str | None = None
    target: float | None = None  # the figure must be >= (higher) or <= (lower) this
    target_label: str | None = None  # e.g. "p99 < 10 ms"; defaults to the number and unit
    fleet: int | None = None  # set on rows of the scaling table (series in the fleet)
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """How many times better than the baseline (> 1 = better), whatever ``better`` is."""
        if self.baseline is None or self.baseline == 0 or self.value == 0:
            return None
        if self.better == "higher":
            return self.value / self.baseline
        return self.baseline / self.value

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        if self.better == "higher":
            return self.value >= self.target
        return self.value <= self.target

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["ratio"] = None if self.ratio is None else round(self.ratio, 3)
        document["met"] = self.met
        return document

    def line(self) -> str:
        text = f"{self.title}: {fmt(self.value)} {self.unit}"
        if self.baseline is not None:
            text += f" | baseline {fmt(self.baseline)} {self.unit} ({self.baseline_label})"
            if self.ratio is not None:
                text += f" -> {self.ratio:.2f}x"
        if self.target is not None:
            label = self.target_label or f"{fmt(self.target)} {self.unit}"
            text += f" | target {label}: {'met' if self.met else 'NOT MET'}"
        return text


def fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def machine() -> dict[str, Any]:
    """What the figures were measured on: they only compare within one machine and run."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory_gib = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def publish(benchmark: str, figures: list[Figure], *, path: Path = RESULTS) -> None:
    """Print ``figures`` and merge them into ``results.json`` under ``benchmark``."""
    print(f"== {benchmark}")
    for figure in figures:
        print("  " + figure.line())
    document: dict[str, Any] = {}
    if path.exists():
        try:
            document = json.loads(path.read_text())
        except ValueError:
            document = {}
    runs = document.setdefault("benchmarks", {})
    runs[benchmark] = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "figures": [figure.to_json() for figure in figures],
    }
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
