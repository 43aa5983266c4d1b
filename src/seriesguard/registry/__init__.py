"""Model registry: MLflow is the registry of record; nothing outside this package imports it."""

from seriesguard.registry.base import ModelRegistry, RegisteredVersion, RegistryUnavailable

__all__ = ["ModelRegistry", "RegisteredVersion", "RegistryUnavailable"]
