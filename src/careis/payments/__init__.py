"""Payments: contract rules evaluated against measure results, to the penny."""
