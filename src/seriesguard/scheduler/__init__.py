"""Periodic actions, run by exactly one scheduler process at a time (leader lock)."""
