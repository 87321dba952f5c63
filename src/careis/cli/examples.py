"""`careis examples list | copy DIR`: the example configs, contracts and data shipped with careis.

Why: after `pip install careis` there is no repository, so the README's `examples/...` paths
exist only once `careis examples copy examples` has put them in the working folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from careis.cli._common import console

app = typer.Typer(
    help="The shipped examples (run config, contracts, measures, workbench, SPC data).",
    no_args_is_help=True,
)


@app.command("list")
def list_cmd() -> None:
    """List the example files, relative to the examples folder."""
    from careis.examples import list_examples

    for name in list_examples():
        console.print(name, highlight=False)


@app.command("copy")
def copy_cmd(
    dest: Annotated[
        Path, typer.Argument(metavar="DIR", help="Folder to copy into (created if missing).")
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Copy into a non-empty folder, overwriting examples.")
    ] = False,
) -> None:
    """Copy the examples to DIR, so `careis run DIR/demo.yaml` and the README's commands work."""
    from careis.examples import copy_examples

    written = copy_examples(dest, force=force)
    console.print(f"Copied {len(written)} example files to [bold]{dest}[/bold]")
