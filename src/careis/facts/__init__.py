"""Patient facts: per-patient, per-date derived tables that measures and risk read."""
