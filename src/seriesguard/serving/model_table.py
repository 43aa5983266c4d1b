"""Models in memory: every small model stays resident, large ones share an LRU of CACHE_SIZE."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from seriesguard.core.detectors import Detector
from seriesguard.core.routing import cut, series_key
from seriesguard.serving.scorer import (
    Edges,
    Routing,
    Scorer,
    challenger_scorer,
    production_scorer,
)


@dataclass(frozen=True, slots=True)
class LoadedChallenger:
    """A canary or shadow version loaded beside the production one."""

    version: int
    detector: Detector
    edges: Edges | None = None
    percentage: float = 0.0  # canary: share of the requests it answers (0-100)


@dataclass(slots=True)
class LoadedModel:
    series_id: str
    version: int
    detector: Detector
    origin: str  # where it was loaded from: catalog, mlflow or cache
    size_bytes: int
    # Cut points of the version's reference histogram (``reference_edges``); only these are
    # kept, not the whole reference: 285,000 models stay resident.
    edges: Edges | None = None
    canary: LoadedChallenger | None = None
    shadow: LoadedChallenger | None = None
    # Built once: a hit on the hot path returns it without allocating anything.
    resident: Scorer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.resident = self._scorer(loaded_from="memory")

    def first_answer(self) -> Scorer:
        """The scorer of the request that loaded the model: says where it came from."""
        return self._scorer(loaded_from=self.origin)

    def _scorer(self, *, loaded_from: str) -> Scorer:
        return production_scorer(
            self.detector,
            series_id=self.series_id,
            version=self.version,
            origin=self.origin,
            loaded_from=loaded_from,
            edges=self.edges,
            routing=self._routing(loaded_from=loaded_from),
        )

    def _routing(self, *, loaded_from: str) -> Routing | None:
        if self.canary is None and self.shadow is None:
            return None
        return Routing(
            series_key=series_key(self.series_id),
            canary=self._challenger(self.canary, "canary", loaded_from),
            canary_cut=0 if self.canary is None else cut(self.canary.percentage),
            shadow=self._challenger(self.shadow, "shadow", loaded_from),
        )

    def _challenger(
        self, challenger: LoadedChallenger | None, stage: str, loaded_from: str
    ) -> Scorer | None:
        if challenger is None:
            return None
        return challenger_scorer(
            challenger.detector,
            series_id=self.series_id,
            version=challenger.version,
            stage=stage,
            loaded_from=loaded_from,
            edges=challenger.edges,
        )


class ModelTable:
    def __init__(self, *, lru_size: int, resident_max_bytes: int) -> None:
        self._resident: dict[str, LoadedModel] = {}
        self._lru: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lru_size = lru_size
        self._resident_max = resident_max_bytes
        self._absent: dict[str, float] = {}  # series with no model -> when to look again
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, series_id: str) -> LoadedModel | None:
        model = self._resident.get(series_id)  # dict reads are atomic: no lock on the hot path
        if model is None:
            with self._lock:
                model = self._lru.get(series_id)
                if model is not None:
                    self._lru.move_to_end(series_id)
        if model is None:
            self.misses += 1
        else:
            self.hits += 1
        return model

    def put(self, model: LoadedModel) -> None:
        with self._lock:
            self._absent.pop(model.series_id, None)
            if model.size_bytes <= self._resident_max:
                self._lru.pop(model.series_id, None)
                self._resident[model.series_id] = model
                return
            self._resident.pop(model.series_id, None)
            if self._lru_size == 0:
                return
            self._lru[model.series_id] = model
            self._lru.move_to_end(model.series_id)
            while len(self._lru) > self._lru_size:
                self._lru.popitem(last=False)

    def drop(self, series_id: str) -> None:
        with self._lock:
            self._resident.pop(series_id, None)
            self._lru.pop(series_id, None)

    def mark_absent(self, series_id: str, *, for_seconds: float) -> None:
        with self._lock:
            self._absent[series_id] = time.monotonic() + for_seconds

    def known_absent(self, series_id: str) -> bool:
        until = self._absent.get(series_id)
        return until is not None and until > time.monotonic()

    def __len__(self) -> int:
        return len(self._resident) + len(self._lru)

    @property
    def resident_count(self) -> int:
        return len(self._resident)
