"""HTTP: the training/management API and the inference API (FastAPI)."""
