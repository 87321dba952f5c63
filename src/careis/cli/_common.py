"""What every command module shares: the consoles, the progress display and the run helper.

Why here and not in each module: a pipeline stage looks the same whichever command started it
(`careis run`, `demo`, `pay`, `measures run`), and an error line looks the same everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

if TYPE_CHECKING:
    from careis.config import RunConfig
    from careis.pipeline import RunResult

console = Console()
err = Console(stderr=True)

# Input paths are checked by the parser: a missing file is a one-line usage error (exit 2)
# naming the argument, before any work starts.
ConfigArg = Annotated[
    Path,
    typer.Argument(
        metavar="CONFIG", help="Run config YAML (see examples/demo.yaml).", exists=True,
        dir_okay=False,
    ),
]  # fmt: skip
OutDirOpt = Annotated[
    Path | None,
    typer.Option("--out", "-o", metavar="DIR", help="Output folder (overrides output.dir)."),
]
ContractOpt = Annotated[
    Path | None,
    typer.Option(
        "--contract", metavar="FILE", exists=True, dir_okay=False,
        help="Contract YAML (overrides the config's contract), e.g. "
        "examples/contracts/alliance.yaml (see docs/payments.md).",
    ),
]  # fmt: skip


class RichReporter:
    """Shows each pipeline stage as a line, with a progress bar for long ones."""

    def __init__(self, progress: Progress) -> None:
        self.p = progress
        self.task: Any = None

    def stage(self, name: str, description: str) -> None:
        self.task = self.p.add_task(description, total=None, counted=False)

    def progress(self, done: int, total: int) -> None:
        if self.task is not None:
            self.p.update(self.task, completed=done, total=total, counted=True)

    def done(self, name: str, seconds: float, note: str = "") -> None:
        if self.task is not None:
            task = self.p.tasks[self.task]
            self.p.update(
                self.task,
                total=task.total or 1,
                completed=task.total or 1,
                description=f"[green]✓[/green] {task.description} [dim]({seconds:.1f} s{'; ' + note if note else ''})[/dim]",
            )
        self.task = None


class _CountColumn(MofNCompleteColumn):
    """'done/total' for stages that report progress; blank for those that do not."""

    def render(self, task: Any) -> Any:
        if task.total is None or not task.fields.get("counted"):
            return Text("")
        return Text(f"{int(task.completed):,}/{int(task.total):,}", style="progress.download")


def progress() -> Progress:
    return Progress(
        SpinnerColumn(finished_text=" "),
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        _CountColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def load_config(config: Path, overrides: dict[str, str | None]) -> RunConfig:
    """The run config with the options the user gave (None: not given) laid over it."""
    from careis.config import load_run_config

    given = {key: value for key, value in overrides.items() if value is not None}
    return load_run_config(config, overrides=given)


def run_stages(cfg: RunConfig, *, measures_only: bool = False) -> RunResult:
    """Run the pipeline with a live stage display; say where the outputs went."""
    from careis.pipeline import run as run_pipeline

    console.print(f"[bold]{cfg.name}[/bold]" + (" (measures only)" if measures_only else ""))
    with progress() as bar:
        result = run_pipeline(cfg, reporter=RichReporter(bar), measures_only=measures_only)
    if measures_only:
        console.print(f"Measures in [bold]{result.out_dir / 'measures'}[/bold]")
        return result
    total = sum(result.timings.values())
    console.print(f"Finished in {total:.1f} s. Outputs in [bold]{result.out_dir}[/bold]")
    for note in result.notes.values():  # in full: a stage's own note is cut to the screen
        console.print(note, markup=False)
    if result.report is not None:
        link = f"link=file://{result.report.resolve()}"
        console.print(f"Report: [bold {link}]{result.report}[/bold {link}]")
    if result.workbook is not None:
        console.print(f"Workbook: [bold]{result.workbook}[/bold]")
    return result


def path_text(path: Path | None, *, resolve: bool = False) -> str | None:
    """A path as a config override value (absolute where the config's own folder would mislead)."""
    if path is None:
        return None
    return str(path.resolve() if resolve else path)
