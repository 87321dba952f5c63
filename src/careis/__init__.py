"""careis: commissioning and paying for integrated primary care in the English NHS.

The package is layered: each layer only imports the ones below it. The order is written in one
place, docs/architecture.md ("Layers"), and enforced by import-linter (`make lint`).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("careis")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
