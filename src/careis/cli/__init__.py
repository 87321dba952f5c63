"""careis command line: one module per command group, each only parsing and calling its layer.

User errors (`CareisError`) and bad arguments (an unknown option, a missing file, a value that
is not one of the choices) print one line and exit with status 2; no traceback. Anything else
is a bug in careis and shows its traceback.

Every command and sub-app is mounted in `_add_commands` and `_add_subapps` below: a new group
(from this package or from the layer that owns it, like `risk` and `commission`) is one line.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from careis import __version__
from careis.cli import contracts, examples, measures, pay, reference, spc, stages
from careis.cli._common import console, err
from careis.cli._help import plain_metavars
from careis.errors import CareisError


class _CareisGroup(TyperGroup):
    """The root command: names every parameter plainly in help before it parses (see _help)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        plain_metavars(self)
        return super().main(*args, **kwargs)


app = typer.Typer(
    name="careis",
    cls=_CareisGroup,
    help="Commission and pay for integrated primary care: risk, measures, contracts, payments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        console.print(__version__, highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Commission and pay for integrated primary care: risk, measures, contracts, payments."""


def version() -> None:
    """Print the careis version (as `careis --version` does)."""
    console.print(__version__, highlight=False)


def _add_commands() -> None:
    """The single commands, in the order `careis --help` lists them."""
    for command in (
        stages.generate, stages.validate, stages.run, stages.demo,
        spc.spc, reference.orgs, reference.schema, version,
    ):  # fmt: skip
        app.command()(command)


def _add_subapps() -> None:
    """Every command group, in the order `careis --help` lists them."""
    from careis.commissioning.cli import app as commission_app
    from careis.data.sources.cli import app as ingest_app
    from careis.risk.cli import app as risk_app
    from careis.serve.cli import serve, users_app

    app.add_typer(pay.app, name="pay")
    app.add_typer(measures.app, name="measures")
    app.add_typer(contracts.app, name="contracts")
    app.add_typer(risk_app, name="risk")
    app.add_typer(commission_app, name="commission")
    app.add_typer(ingest_app, name="ingest")
    app.add_typer(examples.app, name="examples")
    app.command()(serve)
    app.add_typer(users_app, name="users")


_add_commands()
_add_subapps()


def _usage_line(exc: Any) -> str:
    """A parser error as one line, with where to read the command's help."""
    ctx = getattr(exc, "ctx", None)
    # typer's coercion prefixes its messages with pydantic's "Value error, "; it says nothing
    text = " ".join(exc.format_message().replace("Value error, ", "").split()).rstrip(".")
    return f"{text}. See `{ctx.command_path} --help`." if ctx is not None else f"{text}."


def _fail(message: str, code: int) -> None:
    err.print(
        f"[bold red]error:[/bold red] {message}", highlight=False, soft_wrap=True, markup=True
    )
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; a CareisError or a bad argument is one line and exit status 2."""
    try:
        code = app(args=argv, prog_name="careis", standalone_mode=False)
    except CareisError as exc:
        _fail(_escape(exc.message), 2)
    except typer.TyperException as exc:  # the parser's errors: bad option, missing file ...
        if type(exc).__name__ == "NoArgsIsHelpError":  # help has been printed already
            sys.exit(2)
        _fail(_escape(_usage_line(exc)), getattr(exc, "exit_code", 2))
    except (KeyboardInterrupt, typer.Abort):
        err.print("interrupted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
