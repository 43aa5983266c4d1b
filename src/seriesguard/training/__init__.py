"""Training: accept jobs, fit detectors, register versions."""
