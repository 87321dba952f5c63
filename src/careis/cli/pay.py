"""`careis pay CONFIG`, `careis pay --run DIR --contract FILE` and `careis pay diff RUN_A RUN_B`.

Pay a scheme (a full run), re-pay a contract from a finished run's results (seconds: no
validation, risk or measures), or compare two payments.

Why a group with a default command: paying is the common case and reads best as
`careis pay CONFIG`; `diff` is a proper sub-command with its own arguments and help. The group
sends anything that is not a sub-command's name to `run`, so `careis pay CONFIG` and
`careis pay run CONFIG` are the same command.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table as RichTable
from typer.core import TyperGroup

from careis.cli._common import ContractOpt, console, load_config, path_text, run_stages

DEFAULT = "run"


class _ConfigOrCommand(TyperGroup):
    """A group whose first argument is either a sub-command or the default command's CONFIG."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [DEFAULT, *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_ConfigOrCommand,
    subcommand_metavar="CONFIG | COMMAND [ARGS]...",
    help="Pay a scheme: statements per provider, a balancing ledger, evidence; re-pay a "
    "contract from a finished run (`careis pay --run DIR --contract FILE`); or diff two "
    "runs. `careis pay CONFIG` is `careis pay run CONFIG`.",
    no_args_is_help=True,
)


OptionalConfigArg = Annotated[
    Path | None,
    typer.Argument(
        metavar="CONFIG", help="Run config YAML (see examples/demo.yaml); not with --run.",
        exists=True, dir_okay=False, show_default=False,
    ),
]  # fmt: skip
RunOpt = Annotated[
    Path | None,
    typer.Option(
        "--run", metavar="DIR", exists=True, file_okay=False,
        help="Pay --contract from this finished run's measures/results.csv and "
        "payments/memberships.csv, without re-running validation, risk or measures. Output "
        "goes to --out (default: DIR-<contract id> beside the run).",
    ),
]  # fmt: skip


@app.command(DEFAULT)
def run_cmd(
    config: OptionalConfigArg = None,
    contract: ContractOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="DIR", help="Output folder (overrides output.dir)."),
    ] = None,
    run: RunOpt = None,
) -> None:
    """Pay a scheme from a run config (the stages before payments run first), or with --run
    re-pay a contract from a finished run's results. The default."""
    if (config is None) == (run is None):
        raise typer.BadParameter("give a CONFIG or --run DIR (one of them).")
    if run is not None:
        _pay_from_run(run, contract, out)
        return
    assert config is not None
    overrides = {"output.dir": path_text(out), "contract": path_text(contract, resolve=True)}
    run_stages(load_config(config, overrides))


def _pay_from_run(run: Path, contract: Path | None, out: Path | None) -> None:
    """`careis pay --run DIR --contract FILE`: statements from the run's results."""
    import time

    from careis.payments.assessable import not_assessable_note
    from careis.payments.from_run import pay_from_run

    if contract is None:
        raise typer.BadParameter("--run needs --contract FILE (the contract to pay).")
    start = time.perf_counter()
    target, paid = pay_from_run(run, contract, out)
    total = sum((line.amount for line in paid.lines), Decimal(0))
    providers = len({line.provider for line in paid.lines})
    console.print(
        f"£{total:,.2f} to {providers} providers from {run} in "
        f"{time.perf_counter() - start:.1f} s. Outputs in [bold]{target}[/bold]"
    )
    if unjudged := not_assessable_note(paid.lines):
        console.print(f"Not assessable: {unjudged}.", markup=False)


@app.command("diff")
def diff_cmd(
    run_a: Annotated[
        Path,
        typer.Argument(metavar="RUN_A", help="Output folder of the first run.", file_okay=False),
    ],
    run_b: Annotated[
        Path,
        typer.Argument(metavar="RUN_B", help="Output folder of the second run.", file_okay=False),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="FILE", help="Write the differences to this CSV."),
    ] = None,
) -> None:
    """What changed between two payment runs: inputs, totals, lines, ledger (exit 1 if any)."""
    from careis.payments.diff import diff_runs, write_diff

    diffs = diff_runs(run_a, run_b)
    if out is not None:
        write_diff(diffs, out)
    if not diffs:
        console.print(f"No differences: {run_a} and {run_b} pay the same, from the same inputs.")
        return
    table = RichTable("table", "key", "run A", "run B", "difference", title="Differences")
    for d in diffs:
        table.add_row(d.table, d.key, d.run_a, d.run_b, d.difference)
    console.print(table)
    raise typer.Exit(1)
