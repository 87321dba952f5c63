"""`python -m careis.cli`: the same as the `careis` command."""

from careis.cli import main

main()
