"""Example run configs, contracts and measures (also visible as examples/ at the repo root)."""
