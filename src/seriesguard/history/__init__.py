"""The history store: points the predictor saw and points sent in bulk (training windows)."""
