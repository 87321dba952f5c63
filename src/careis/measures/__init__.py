"""Measures: activity, concordance and outcomes per practice, rolled up to every level."""
