"""seriesguard: anomaly detection for industrial sensor fleets, one model per series."""

__version__ = "0.1.0"
