"""The registry interface. One implementation per backend, chosen by tracking URI.

Stages are kept the way DESIGN.md says: a ``stage`` tag on every version (``staging``,
``production``, ``archived``, ``none``) is the truth, so several versions may be in Staging at
once as with MLflow's old stages; the aliases ``staging`` and ``production`` point at the
newest Staging and the current Production version, so that
``models:/anomaly-detector-X@production`` works for any MLflow user.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

from seriesguard.core.breaker import CircuitBreaker
from seriesguard.core.catalog import ModelVersion as RegisteredVersion
from seriesguard.core.detectors import Detector
from seriesguard.core.errors import InvalidInput, Unavailable
from seriesguard.core.monitoring import ReferenceSummary
from seriesguard.core.stages import Stage

__all__ = [
    "STAGE_ALIASES",
    "ModelRegistry",
    "RegisteredVersion",
    "RegistryUnavailable",
    "TrainingRecord",
    "check_alias",
]

# aliases that follow the ``stage`` tag (set_stage); every other alias is set_alias's
STAGE_ALIASES = ("staging", "production")


def check_alias(alias: str) -> None:
    """Refuse the stage aliases: they must follow the versions' tags."""
    if alias in STAGE_ALIASES:
        raise InvalidInput(
            f"alias {alias!r} follows the stage; move the version with set_stage",
            rule="alias_reserved",
            loc=("alias",),
        )


class RegistryUnavailable(Unavailable):
    """The registry backend could not be reached or answered with a server error."""

    rule = "registry_unavailable"


@dataclass(frozen=True)
class TrainingRecord:
    """What a training job tells the registry about the model it produced."""

    series_id: str
    job_id: str
    detector: Detector
    metrics: Mapping[str, float]
    params: Mapping[str, str]
    tags: Mapping[str, str] = field(default_factory=dict)
    data_path: str | None = None  # training data file to attach to the run, if any
    # Hints that save registry round trips at fleet scale; wrong hints cost time, never
    # correctness. ``first_attempt``: no earlier attempt of this job can have registered a
    # version, so the idempotency lookup is skipped. ``new_series``: the series has no
    # registered model yet as far as the caller knows.
    first_attempt: bool = False
    new_series: bool = False
    reference: ReferenceSummary | None = None  # kept on the version (drift checks)


class ModelRegistry(ABC):
    """Versions of per-series models, their stages and their artifacts."""

    @abstractmethod
    def register(self, record: TrainingRecord) -> RegisteredVersion:
        """Create a run and a new version in Staging for ``record``.

        Idempotent per job: if a version tagged with ``record.job_id`` exists it is returned
        unchanged, so a redelivered job never leaves two versions behind.
        """

    @abstractmethod
    def find_by_job(self, *, series_id: str, job_id: str) -> RegisteredVersion | None:
        """The version a job produced, if any."""

    @abstractmethod
    def get_version(self, *, series_id: str, version: int) -> RegisteredVersion | None:
        """One version, or None when the series or the version does not exist."""

    @abstractmethod
    def list_versions(self, *, series_id: str) -> list[RegisteredVersion]:
        """All versions of a series, oldest first (empty when the series is unknown)."""

    @abstractmethod
    def get_by_alias(self, *, series_id: str, alias: str) -> RegisteredVersion | None:
        """The version an alias (``production``, ``staging``) points at."""

    @abstractmethod
    def set_stage(self, *, series_id: str, version: int, stage: Stage) -> None:
        """Move a version to ``stage``, keeping the aliases consistent with the tags."""

    @abstractmethod
    def set_alias(self, *, series_id: str, alias: str, version: int | None) -> None:
        """Point ``alias`` (``canary``, ``shadow``) at ``version``; None deletes it (deleting
        an alias that is not there is no error). The stage aliases belong to
        :meth:`set_stage` (InvalidInput here); an unknown version raises NotFound."""

    @abstractmethod
    def load_model_bytes(self, *, series_id: str, version: int) -> bytes:
        """The serialised detector of a version (see ``Detector.to_bytes``)."""

    @abstractmethod
    def delete_version(self, *, series_id: str, version: int) -> None:
        """Remove a version (used when a cancel wins over a job that already registered)."""

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Open the backend ahead of the first job; the default has nothing to open."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has none."""

    @property
    def breaker(self) -> CircuitBreaker | None:
        """The circuit breaker around a remote backend; None for in-process ones."""
        return None
