"""The commissioning workbench: decide what to buy and how, before a scheme pays a penny.

Why a layer of its own: the register of existing contracts, the new care model, the mapping
between them, the procurement route and the business case are decisions a commissioner records
and defends; each is a pure function of files the commissioner writes (YAML/CSV), so the same
inputs always give the same recommendation, and every recommendation carries its reasons.
"""
