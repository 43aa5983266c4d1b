"""Bulk import of fitted models: a fleet migrating from another system in one command."""
