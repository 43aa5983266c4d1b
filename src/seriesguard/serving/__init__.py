"""Predictor: in-memory model table, fallback chain, catalog polling."""
