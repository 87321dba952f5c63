"""`careis serve`: one web app for commissioners, federations, practices and finance.

Why a layer of its own (above the pipeline, below the CLI): it only reads what runs wrote
(run folders stay read-only evidence) and keeps the workflow's state (users, decisions,
approvals, the audit log) in its own database. See docs/web.md.
"""
