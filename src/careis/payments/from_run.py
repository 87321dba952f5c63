"""Pay a contract from a finished run's results: `careis pay --run DIR --contract FILE`.

Why: finance re-pays or tries another contract far more often than the data changes, and a
full run re-validates the data, re-scores risk and re-computes every measure (minutes). The
measures a payment needs are already in the run's `measures/results.csv` (exact figures) and
the groups each practice was judged with in `payments/memberships.csv`; paying from them takes
seconds and gives the same statements a full run gives (the payment rules read only those
figures, and the tested values are rounded from the printed ones: docs/payments.md).

What it will not do: memberships are the groups on the run's list-size date, over the run's
term. A contract with another list-size date or term would be judged with the wrong groups,
so it is refused (one line) and needs a full run.

Outputs (atomically, like every run: `careis.staging`): the payments files a full run writes
(statements, summary, ledger, ledger summary, memberships, each provider's statement) and a
manifest naming the run's files and the contract as inputs, so `careis pay diff` works on it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from careis.contracts.schema import LoadedContract, load_contract
from careis.errors import CareisError
from careis.layout import MEMBERSHIPS, RESULTS, RunLayout
from careis.manifest import build as build_manifest
from careis.manifest import describe_files, describe_inputs, files_under
from careis.manifest import write as write_manifest
from careis.payments.calculate import evaluate
from careis.payments.compare import read_run, results_of
from careis.payments.ledger import PaymentRun, reconcile
from careis.payments.outputs import write_ledger, write_memberships, write_statements
from careis.staging import staged_folder

__all__ = ["pay_from_run"]


def _run_contract(run: Path) -> dict[str, Any]:
    """The contract the run was paid on, as its manifest records it."""
    path = RunLayout(run).manifest
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        resolved: dict[str, Any] = manifest["config"]["contract_resolved"]
    except (OSError, ValueError, KeyError, TypeError):
        raise CareisError(
            "no readable manifest with the run's contract.",
            file=path,
            fix="give the output folder of a complete `careis run` or `careis pay CONFIG`.",
        ) from None
    return resolved


def _check_same_groups(run: Path, loaded: LoadedContract) -> None:
    """Refuse a contract whose groups would be taken on another day than the run's."""
    old = _run_contract(run)
    term = loaded.contract.term
    old_start = dt.date.fromisoformat(str(old["term"]["start"]))
    old_end = dt.date.fromisoformat(str(old["term"]["end"]))
    old_list = dt.date.fromisoformat(str(old.get("list_size_date") or old_start))
    new_list = loaded.contract.list_size_date or term.start
    if (old_start, old_end, old_list) != (term.start, term.end, new_list):
        raise loaded.error(
            ("term",),
            f"the run's memberships are those on {old_list} over {old_start}..{old_end}; this "
            f"contract needs them on {new_list} over {term.start}..{term.end}.",
            fix="pay it with a full run: `careis pay CONFIG --contract FILE`.",
        )


def _default_out(run: Path, loaded: LoadedContract) -> Path:
    """Beside the run, never inside it (the run's own manifest covers its folder)."""
    run = run.absolute()
    return run.parent / f"{run.name}-{loaded.contract.id}"


def pay_from_run(
    run: Path, contract_path: Path, out: Path | None = None
) -> tuple[Path, PaymentRun]:
    """Pay `contract_path` from run folder `run`; write the payments outputs to `out`."""
    loaded = load_contract(contract_path)
    _check_same_groups(run, loaded)
    inputs = read_run(run)
    results = results_of(inputs.rows)
    pay_run = evaluate(loaded, results, inputs.practices, inputs.membership, inputs.joined)
    problems = reconcile(pay_run, loaded.contract.commissioner.code)
    if problems:  # a bug in careis, never the user's input: refuse to write statements
        raise RuntimeError("payment ledger does not reconcile: " + "; ".join(problems))
    target = out if out is not None else _default_out(run, loaded)
    if target.absolute().is_relative_to(run.absolute()):
        raise CareisError(
            "the output folder is inside the run folder; writing there would change the run.",
            file=target,
            fix="choose an --out folder outside the run (the default is beside it).",
        )
    with staged_folder(target) as staging:
        layout = RunLayout(staging)
        write_statements(pay_run.lines, inputs.membership, layout, set(inputs.practices))
        write_ledger(pay_run, loaded.contract.commissioner.code, layout)
        write_memberships(inputs.membership, inputs.joined, layout)
        _write_manifest(layout, run, loaded)
    return target, pay_run


def _write_manifest(layout: RunLayout, run: Path, loaded: LoadedContract) -> None:
    """Inputs: the run's results and memberships and the contract (with the files it reads)."""
    run_layout = RunLayout(run)
    inputs = [
        *describe_inputs("run-results", [run_layout.file(RESULTS)], single=True),
        *describe_inputs("run-memberships", [run_layout.file(MEMBERSHIPS)], single=True),
        *describe_inputs("contract", [loaded.path], single=True),
        *describe_inputs("contract-file", loaded.referenced_files(), loaded.path.parent),
    ]
    config = {
        "paid_from_run": str(run),
        "contract_resolved": json.loads(loaded.contract.model_dump_json()),
    }
    outputs = describe_files(files_under(layout.root), layout.root)
    write_manifest(build_manifest(config, inputs, outputs), layout.manifest)
