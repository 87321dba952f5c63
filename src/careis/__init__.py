"""careis: commissioning and paying for integrated primary care in the English NHS.

The package is layered: docs/architecture.md describes the layers, and the import-linter
contract in pyproject.toml (run by `make lint`) enforces their order.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("careis")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
