"""Model stages as the seed names them. Stored as MLflow aliases plus a ``stage`` tag."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"

    @property
    def tag(self) -> str:
        """Lower-case value kept in the version's ``stage`` tag (and alias, where one exists)."""
        return self.value.lower()

    @classmethod
    def from_tag(cls, tag: str | None) -> Stage:
        for stage in cls:
            if stage.tag == (tag or "none").lower():
                return stage
        return cls.NONE
