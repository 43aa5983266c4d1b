"""Lease and heartbeat settings: documented, defaults several beats apart, and a short lease
never left with a heartbeat too slow for it."""

from __future__ import annotations

import pytest

from seriesguard.settings import Settings


def test_defaults_keep_several_beats_in_a_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SERIESGUARD_PROCESSING_LEASE_SECONDS", "SERIESGUARD_HEARTBEAT_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.processing_lease_seconds == 60
    assert settings.heartbeat_seconds == 10
    assert settings.heartbeat_interval() == 10
    for name in ("processing_lease_seconds", "heartbeat_seconds"):
        assert Settings.model_fields[name].description


def test_the_heartbeat_is_at_most_a_third_of_the_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERIESGUARD_PROCESSING_LEASE_SECONDS", "15")
    monkeypatch.setenv("SERIESGUARD_HEARTBEAT_SECONDS", "10")
    assert Settings().heartbeat_interval() == 5
    monkeypatch.setenv("SERIESGUARD_HEARTBEAT_SECONDS", "2")
    assert Settings().heartbeat_interval() == 2
