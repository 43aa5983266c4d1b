"""Logging now; metrics and tracing come with the monitoring work."""
