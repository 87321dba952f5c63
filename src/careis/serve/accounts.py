"""The rules a local account's password must meet, in one place.

Why its own module: `careis users add/password` (the CLI, which must stay light to import)
and the app's own password form apply the same rule; defining it once means the two cannot
drift apart. Nothing heavy is imported here.
"""

from __future__ import annotations

#: The shortest password accepted (argon2 makes guessing slow; length makes it hopeless).
MIN_PASSWORD = 12


def password_problem(password: str) -> str:
    """Why `password` is not acceptable as a new password, or "" when it is."""
    if len(password) < MIN_PASSWORD:
        return f"the password must have at least {MIN_PASSWORD} characters."
    return ""
