"""Watching the fleet: per-series metrics, drift checks and ground truth."""
