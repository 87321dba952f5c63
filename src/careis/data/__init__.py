"""Canonical data model, loading, validation and quarantine (see `careis.data.schema`)."""
