"""Contracts: the schema a commissioner writes a scheme in (YAML, validated by pydantic)."""
