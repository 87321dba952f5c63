"""A bounded load test of `careis serve`: 50 simulated users browsing for 30 s (issue 19).

`python benchmarks/serve_load.py [RESULT.json] [--users 50] [--seconds 30] [--run DIR]`

The app is started as `careis serve` (its own process, as deployed: one uvicorn process,
access log on) on 127.0.0.1 and a free port, on a temporary SQLite state database, on the
small runs tests/serve builds (`open`, and `paid`, approved) or on `--run DIR` (e.g.
out/demo). One account per role is created first; each simulated user logs in once
(not timed) and then, until the time is up, asks for a page of its role's work chosen at
random, one after another, with no think time: a practice (statement, worklist, its CSV
downloads), a federation (its page, a member's statement), the commissioner (overview,
federation, ledger, audit log) and finance (ledger, the payment file, itself an audited
write). The practice, federation and commissioner also browse the measures (the run's
summary page, and one measure's chart page and peers download, `peers.csv`, for each
organisation of theirs the run has a series of: the practice its own, the federation its own
and a member's, the commissioner its sub-ICB's, the federation's and the member's); finance
may not see measures. Nothing leaves 127.0.0.1.

Reported: requests, errors (any status but 200, or a failed request), p50/p95/max page time
in milliseconds and requests per second; written to RESULT.json when given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "serve"))
PASSWORD = "benchmark password 1"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def measure_pages(run: Path, name: str, orgs: list[str]) -> list[str]:
    """The run's measures page, and one measure's chart page and peers download for each of
    `orgs` with a series of it: the first measure (by id) the first of `orgs` has."""
    from careis.serve.measures import series_of
    from careis.serve.runs import RunFolder

    have = {(measure, org) for measure, _, org in series_of(RunFolder(run))}
    chosen = sorted(measure for measure, org in have if org == orgs[0])
    if not chosen:
        return []
    pages = [f"/runs/{name}/measures"]
    for org in orgs:
        if (chosen[0], org) in have:
            page = f"/runs/{name}/measures/{chosen[0]}/{org}"
            pages += [page, f"{page}/peers.csv"]
    return pages


def prepare(base: Path, run: Path | None) -> tuple[Path, str, dict[str, list[str]]]:
    """The runs folder, the state database URL and each account's pages."""
    from argon2 import PasswordHasher

    from careis.serve import security, workflow
    from careis.serve.app import Settings, create_app

    if run is None:
        from tiny_run import build_run

        runs = base / "runs"
        for name in ("open", "paid"):
            build_run(runs / name)
        names, practice, federation, member = ["open", "paid"], "A00001", "FEDA", "A00002"
    else:
        runs = run.resolve()
        names = [runs.name]
        members = (runs / "payments" / "memberships.csv").read_text("utf-8").splitlines()[1:]
        first = members[0].split(",")
        practice = first[0]
        federation = next(m.split(",")[2] for m in members if m.split(",")[1] == "federation")
        member = practice
    url = f"sqlite:///{base / 'state.sqlite'}"
    # cheap argon2 for the accounts: the logins are set-up, not what is measured
    passwords = security.Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    app = create_app(Settings(runs, url, passwords=passwords))
    accounts = {
        "prac": ("practice", practice), "fed": ("federation", federation),
        "comm": ("commissioner", "00T"), "fin": ("finance", "00T"),
    }  # fmt: skip
    if run is not None:
        manifest = json.loads((runs / "manifest.json").read_text("utf-8"))
        commissioner = manifest["config"]["contract_resolved"]["commissioner"]["code"]
        accounts["comm"] = ("commissioner", commissioner)
        accounts["fin"] = ("finance", commissioner)
    with app.state.sessions() as db:
        from sqlalchemy import select

        from careis.serve.models import Run

        users = {
            n: workflow.add_user(db, n, passwords.hash(PASSWORD), r, o)
            for n, (r, o) in accounts.items()
        }
        paid = db.scalar(select(Run).where(Run.name == names[-1]))
        assert paid is not None
        workflow.approve(db, paid, users["comm"])  # finance sees approved runs only
        db.commit()
    app.state.sessions.kw["bind"].dispose()
    p, f, m, c = practice, federation, member, accounts["comm"][1]
    folders = {r: runs / r for r in names} if run is None else {names[0]: runs}
    pages = {
        "prac": ["/"] + [u for r in names for u in (
            f"/runs/{r}/practices/{p}", f"/runs/{r}/practices/{p}/statement.csv",
            f"/runs/{r}/practices/{p}/files/register.csv",
            *measure_pages(folders[r], r, [p]))],
        "fed": ["/"] + [u for r in names for u in (
            f"/runs/{r}/federations/{f}", f"/runs/{r}/practices/{m}",
            *measure_pages(folders[r], r, [f, m]))],
        "comm": ["/"] + [u for r in names for u in (
            f"/runs/{r}", f"/runs/{r}/federations/{f}", f"/runs/{r}/ledger",
            f"/runs/{r}/audit", f"/runs/{r}/practices/{m}",
            *measure_pages(folders[r], r, [c, f, m]))],
        "fin": ["/", f"/runs/{names[-1]}/ledger", f"/runs/{names[-1]}/payments.csv"],
    }  # fmt: skip
    return runs, url, pages


async def _login(client: httpx.AsyncClient, name: str) -> None:
    page = await client.get("/login")
    found = CSRF.search(page.text)
    assert found, "no CSRF token on the login page"
    data = {"username": name, "password": PASSWORD, "csrf_token": found.group(1)}
    response = await client.post("/login", data=data)
    assert response.status_code == 303, f"login of {name} refused: {response.status_code}"


async def _user(
    base: str, name: str, pages: list[str], until: float, times: list[float], errors: list[str],
    seed: int,
) -> None:  # fmt: skip
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        await _login(client, name)
        while time.monotonic() < until:
            url = rng.choice(pages)
            start = time.perf_counter()
            try:
                response = await client.get(url)
                await response.aread()
                ok = response.status_code == 200
                reason = f"{response.status_code} {url}"
            except httpx.HTTPError as exc:
                ok, reason = False, f"{type(exc).__name__} {url}"
            times.append(time.perf_counter() - start)
            if not ok:
                errors.append(reason)


async def load(
    base: str, pages: dict[str, list[str]], users: int, seconds: float
) -> dict[str, Any]:
    names = list(pages)
    times: list[float] = []
    errors: list[str] = []
    until = time.monotonic() + seconds
    started = time.monotonic()
    roles = [names[i % len(names)] for i in range(users)]
    await asyncio.gather(
        *(_user(base, r, pages[r], until, times, errors, i) for i, r in enumerate(roles))
    )
    wall = time.monotonic() - started
    ms = sorted(t * 1000 for t in times)
    cuts = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
    return {
        "users": users, "seconds": seconds, "requests": len(ms), "errors": len(errors),
        "error_examples": sorted(set(errors))[:5], "p50_ms": round(cuts[49], 1),
        "p95_ms": round(cuts[94], 1), "max_ms": round(ms[-1], 1) if ms else None,
        "requests_per_s": round(len(ms) / wall, 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("result", nargs="?", type=Path, help="write the figures here (JSON)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--run", type=Path, help="a run folder (default: the tests' tiny runs)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="careis-load-") as scratch:
        runs, url, pages = prepare(Path(scratch), args.run)
        port = _free_port()
        careis = Path(sys.executable).with_name("careis")
        command = [str(careis), "serve", str(runs), "--database", url, "--port", str(port)]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{base}/login", timeout=2)
                    break
                except httpx.HTTPError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        stderr = server.stderr.read().decode() if server.stderr else ""
                        raise SystemExit(f"careis serve did not start: {stderr[-400:]}") from None
                    time.sleep(0.2)
            figures = asyncio.run(load(base, pages, args.users, args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=20)
    figures["run"] = str(args.run) if args.run else "tests/serve tiny runs (open, paid)"
    figures["cpus"] = os.cpu_count()
    print(json.dumps(figures, indent=2))
    if args.result:
        args.result.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    if figures["errors"]:
        raise SystemExit(f"{figures['errors']} errors under load: {figures['error_examples']}")


if __name__ == "__main__":
    main()
