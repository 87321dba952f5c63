"""`careis commission ...`: the commissioning workbench on the command line.

Why a sub-app in this layer: the commands belong with the workbench; `careis.cli` only mounts
them, so the shared CLI file changes by two lines. Heavy imports (charts, numpy) happen inside
the commands so `careis --help` stays fast.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from careis.errors import ConfigError

if TYPE_CHECKING:
    from careis.commissioning.route import RouteDecision

app = typer.Typer(
    name="commission",
    help="Commissioning workbench: contract register, mapping to a new care model, "
    "procurement route and contract changes (PSR), decision records, annual summary, "
    "business case, service specification.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)


@app.command("register")
def register_cmd(
    file: Annotated[Path, typer.Argument(help="Contract register (.csv or .yaml).")],
) -> None:
    """Validate a contract register: list the contracts, and every bad row with its fix.

    CSV columns: id, type, name, provider_code, provider_name, provider_kind, services (split
    by ';'), funding_stream, annual_value, lifetime_value, start, end, notice_months,
    termination, variation, parent. See docs/commissioning.md for the values.
    """
    from careis.commissioning.register import check_register

    reg, problems = check_register(file)
    t = Table("id", "type", "provider", "services", "funding", "start", "end", "notice",
              "termination", title=f"{len(reg.contracts)} valid contract(s) in {file}")  # fmt: skip
    for c in reg.contracts:
        t.add_row(c.id, c.type.value, c.provider.code, ", ".join(s.value for s in c.services),
                  c.funding_stream.value, str(c.term.start), str(c.term.end or "open-ended"),
                  "" if c.term.notice_months is None else f"{c.term.notice_months} months",
                  (c.termination.value if c.termination else ""))  # fmt: skip
    console.print(t)
    if problems:
        for p in problems:
            err.print(f"[bold red]error:[/bold red] {p.message(file)}", highlight=False,
                      soft_wrap=True)  # fmt: skip
        err.print(f"{len(problems)} bad row(s); fix them and run again.")
        sys.exit(2)


@app.command("map")
def map_cmd(
    register: Annotated[Path, typer.Argument(help="Contract register (.csv or .yaml).")],
    model: Annotated[Path, typer.Argument(help="New care model (YAML).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write mapping.csv and timeline.svg here.")
    ] = None,
) -> None:
    """Map each existing contract onto the new care model: action, reason, earliest date."""
    from careis.commissioning.mapping import map_register
    from careis.commissioning.model import load_care_model
    from careis.commissioning.register import load_register

    m = map_register(load_register(register), load_care_model(model))
    t = Table("contract", "type", "action", "how", "earliest", "consent", "why",
              title=f"{m.model.name}: {m.model.integration_level.value}")  # fmt: skip
    for r in m.rows:
        why = r.reason + (f" If not agreed: {r.fallback}" if r.fallback else "")
        if r.serve_notice_by:
            why += f" Serve notice by {r.serve_notice_by} for it to end at go-live."
        t.add_row(r.contract_id, r.contract_type, r.action.value, r.how,
                  str(r.effective or ""), "needed" if r.consent_needed else "", why)  # fmt: skip
    console.print(t)
    binding = f" (set by {', '.join(m.binding)})" if m.binding else " (the intended start holds)"
    console.print(f"Earliest realistic start: [bold]{m.earliest_start}[/bold]{binding}")
    if out is not None:
        from careis.commissioning import charts
        from careis.commissioning.report import write_mapping_csv

        out.mkdir(parents=True, exist_ok=True)
        write_mapping_csv(m, out / "mapping.csv")
        (out / "timeline.svg").write_text(charts.timeline(m), encoding="utf-8")
        console.print(f"Wrote {out / 'mapping.csv'} and {out / 'timeline.svg'}")


@app.command("route")
def route_cmd(
    file: Annotated[Path, typer.Argument(help="Route question (YAML): service, date, facts.")],
    register: Annotated[
        Path | None,
        typer.Option("--register", help="Contract register, for 'existing_contract:' facts."),
    ] = None,
    ask: Annotated[
        bool, typer.Option("--ask", help="Ask for each missing fact instead of stopping.")
    ] = False,
    rules: Annotated[
        Path | None,
        typer.Option("--rules", help="Decision table (default: the file's 'rules:' or PSR 2023)."),
    ] = None,
) -> None:
    """Walk the Provider Selection Regime: route (or, with 'question: modification', whether a
    contract may be changed under reg 13), reasons, key criteria, notices, standstill."""
    from careis.commissioning.register import load_register
    from careis.commissioning.report import with_register
    from careis.commissioning.route import (
        MissingRouteFact,
        decide,
        load_request,
        load_rules,
        rules_for,
    )

    request = load_request(file)
    table = load_rules(rules) if rules is not None else rules_for(request, file)
    request = with_register(request, load_register(register) if register else None, str(file))
    asked: dict[str, object] = {}
    while True:
        try:
            d = decide(request, table, str(file))
            break
        except MissingRouteFact as exc:
            if not ask:
                raise
            spec = table.facts[exc.fact]
            answer: object
            if spec.kind == "bool":
                answer = typer.confirm(f"{exc.question}", default=None)
            else:
                answer = typer.prompt(f"{exc.question}", type=str)
            asked[exc.fact] = answer
            request = request.model_copy(update={"facts": {**request.facts, exc.fact: answer}})
    console.print(
        f"[bold]{d.service}[/bold]: [bold]{d.name}[/bold] ({d.obligation}) — {d.regulation}"
    )
    console.print(d.reason)
    for note in d.notes:
        console.print(f"[italic]{note}[/italic]")
    if d.trail:
        t = Table("fact", "test", "answer", "held", title=f"Tests made ({d.rules})")
        for test in d.trail:
            t.add_row(test.fact, test.condition, test.shown, "yes" if test.held else "no")
        console.print(t)
        for name, why in d.rejected:
            console.print(f"Ruled out - {name}: {why}.")
        console.print(f"Key criteria ({d.key_criteria_note}): " + "; ".join(d.key_criteria))
        for n in d.notices:
            console.print(f"• {n}")
    _print_dates(d)
    if asked:
        console.print("Record these answers under 'facts:' in " + str(file) + ":")
        for k, v in asked.items():
            console.print(f"  {k}: {str(v).lower() if isinstance(v, bool) else v}")


def _print_dates(d: RouteDecision) -> None:
    """The standstill (reg 12) or the notice date, as a procurement lead reads them."""
    s = d.standstill
    if s is None:
        if d.award_notice_by:
            console.print(f"Notice due by [bold]{d.award_notice_by}[/bold] (30 days).")
        return
    hol = ", ".join(f"{name} {day}" for day, name in s.bank_holidays)
    console.print(
        f"Standstill (reg 12): notice published {s.published}; begins {s.first_day}; "
        f"representations until midnight at the end of [bold]{s.last_day}[/bold]"
        + (f" (not counting {hol})" if hol else "")
        + f"; award from [bold]{s.earliest_award}[/bold] if none are made; "
        f"{s.if_representations}."
    )
    if s.award_after_review:
        console.print(f"Representations received {s.representations.received if s.representations else ''}"
                      f": award from [bold]{s.award_after_review}[/bold] (5 working days after "
                      "the further decision).")  # fmt: skip
    if s.open_until:
        console.print(f"Representations received: {s.open_until}.")


@app.command("summary")
def summary_cmd(
    folder: Annotated[Path, typer.Argument(help="Folder of route files (one per decision).")],
    year: Annotated[
        int, typer.Option("--year", help="Financial year starting 1 April of this year.")
    ],
    register: Annotated[
        Path | None,
        typer.Option("--register", help="Contract register: providers holding contracts before."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the summary here.")] = None,
) -> None:
    """The annual summary the regime asks authorities to publish (reg 25(2)(a)-(i))."""
    from careis.commissioning.records import annual_summary, load_decisions, summary_text
    from careis.commissioning.register import load_register

    previous = None
    reg = load_register(register) if register is not None else None
    if reg is not None:
        start = dt.date(year, 4, 1)
        previous = {c.provider.code for c in reg.contracts if c.term.start < start}
    text = summary_text(annual_summary(load_decisions(folder, reg), year, previous))
    typer.echo(text, nl=False)
    if out is not None:
        out.write_text(text, encoding="utf-8")
        console.print(f"Wrote {out}")


@app.command("business-case")
def business_case_cmd(
    file: Annotated[Path, typer.Argument(help="Business case (YAML).")],
    run: Annotated[
        Path | None,
        typer.Option("--run", help="A completed careis run folder (baseline, payments)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write monthly/yearly CSVs here.")
    ] = None,
) -> None:
    """Project savings and costs by month: payback month, year-1 answer, sensitivity, range."""
    from careis.commissioning.business_case import build, load_business_case
    from careis.money import format_gbp

    spec, base = load_business_case(file)
    bc = build(spec, base, run, file=file)
    t = Table(
        "year",
        "savings",
        "costs",
        "net",
        "cumulative",
        title=f"{spec.name} ({spec.price_year} prices)",
    )
    for y in bc.years:
        t.add_row(str(y.year), format_gbp(y.savings), format_gbp(y.total_costs), format_gbp(y.net),
                  format_gbp(y.cumulative))  # fmt: skip
    console.print(t)
    pb = (f"month {bc.payback_month} (the cumulative net stays at or above zero from then on)"
          if bc.payback_month else f"not within {spec.years * 12} months")  # fmt: skip
    console.print(
        f"Costs recouped in year 1: [bold]{'yes' if bc.year1_recouped else 'no'}[/bold]; payback: [bold]{pb}[/bold]"
    )
    console.print(
        f"Monte Carlo ({spec.monte_carlo.runs} runs): net {format_gbp(_d(bc.mc_net_p5))} to "
        f"{format_gbp(_d(bc.mc_net_p95))} (5th-95th percentile); year-1 recouped in "
        f"{bc.mc_prob_year1_recouped:.0%} of runs."
    )
    if out is not None:
        from careis.commissioning.report import write_business_case_csvs

        out.mkdir(parents=True, exist_ok=True)
        write_business_case_csvs(bc, out)
        console.print(f"Wrote business_case_monthly.csv and business_case_yearly.csv to {out}")


def _d(x: float):  # type: ignore[no-untyped-def]
    from decimal import Decimal

    return Decimal(str(x))


@app.command("spec")
def spec_cmd(
    contract: Annotated[Path, typer.Argument(help="Scheme contract (YAML).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out/spec"),
    run_config: Annotated[
        Path | None, typer.Option("--run-config", help="Run config (eligible population).")
    ] = None,
) -> None:
    """Generate the enhanced-service specification (HTML and Markdown) from the contract."""
    from careis.commissioning.spec import build_spec, render_spec
    from careis.contracts.schema import load_contract

    loaded = load_contract(contract)
    pct = age = None
    if run_config is not None:
        from careis.config import load_run_config

        rc = load_run_config(run_config)
        pct, age = rc.risk.register_percent, rc.risk.min_age
    html, pdf, md = render_spec(build_spec(loaded.contract, contract.name, register_percent=pct,
                                           min_age=age), out)  # fmt: skip
    console.print(f"Wrote {html}, {pdf} and {md}")


@app.command("report")
def report_cmd(
    config: Annotated[Path, typer.Argument(help="Workbench YAML naming register, model, ...")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "out/commission"
    ),
    run: Annotated[
        Path | None,
        typer.Option("--run", help="A completed careis run folder for the business case."),
    ] = None,
) -> None:
    """Everything in one folder: mapping, timeline, involvement, routes with their decision
    records and notices, business case, spec."""
    from careis.commissioning.report import load_workbench, write_workbench

    if run is not None and not run.is_dir():
        raise ConfigError(
            "run folder not found.", file=run, fix="run 'careis demo' or 'careis run' first."
        )
    wb = load_workbench(config, run)
    files = write_workbench(wb, out)
    console.print(
        f"Wrote {len(files)} files to [bold]{out}[/bold]; report: {out / 'commissioning_report.html'}"
    )
