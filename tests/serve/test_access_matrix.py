"""The access-control matrix: every route x every role x an in-scope and an out-of-scope
organisation x an open and an approved run -> allowed or refused (403/404).

Generated from the app's route table: a route added without a row in MATRIX fails
`test_every_route_is_in_the_matrix`, so nobody can add a page without saying who sees it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from careis.serve import routes
from conftest import PASSWORD, ROLE_USER, Served, body_text, login, make_app

ROLES = ("commissioner", "federation", "practice", "finance")
#: all: allowed in and out of the user's organisation; own: in scope only; approved: only
#: on an approved run; none: refused. A role missing from a row is refused.
MATRIX: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/"): dict.fromkeys(ROLES, "all"),
    ("GET", "/runs.{fmt}"): dict.fromkeys(ROLES, "all"),
    ("POST", "/logout"): dict.fromkeys(ROLES, "all"),
    ("GET", "/account/password"): dict.fromkeys(ROLES, "all"),
    ("POST", "/account/password"): dict.fromkeys(ROLES, "all"),
    ("GET", "/runs/{run}"): {"commissioner": "all"},
    ("GET", "/runs/{run}/practices.{fmt}"): {"commissioner": "all"},
    ("GET", "/runs/{run}/changes/{table}.{fmt}"): {"commissioner": "all", "finance": "approved"},
    ("GET", "/runs/{run}/federations/{org}/members.{fmt}"): {
        "commissioner": "all", "federation": "own",
    },
    ("GET", "/runs/{run}/federations/{org}"): {"commissioner": "all", "federation": "own"},
    ("GET", "/runs/{run}/practices/{code}"): {
        "commissioner": "all", "federation": "own", "practice": "own",
    },
    ("GET", "/runs/{run}/practices/{code}/statement.{fmt}"): {
        "commissioner": "all", "federation": "own", "practice": "own",
    },
    ("GET", "/runs/{run}/practices/{code}/schedule.{fmt}"): {
        "commissioner": "all", "federation": "own", "practice": "own",
    },
    ("GET", "/runs/{run}/practices/{code}/files/{name}"): {"practice": "own"},
    ("POST", "/runs/{run}/practices/{code}/decision"): {"practice": "own"},
    ("POST", "/runs/{run}/practices/{code}/answer"): {"commissioner": "all"},
    ("POST", "/runs/{run}/approve"): {"commissioner": "all"},
    ("POST", "/runs/{run}/reject"): {"commissioner": "all"},
    ("GET", "/runs/{run}/ledger"): {"commissioner": "all", "finance": "approved"},
    ("GET", "/runs/{run}/ledger.{fmt}"): {"commissioner": "all"},
    ("GET", "/runs/{run}/payments.csv"): {"commissioner": "approved", "finance": "approved"},
    ("GET", "/runs/{run}/payments.xlsx"): {"commissioner": "approved", "finance": "approved"},
    ("GET", "/runs/{run}/measures"): {
        "commissioner": "all", "federation": "all", "practice": "all",
    },
    ("GET", "/runs/{run}/measures.{fmt}"): {
        "commissioner": "all", "federation": "all", "practice": "all",
    },
    ("GET", "/runs/{run}/results.{fmt}"): {
        "commissioner": "all", "federation": "all", "practice": "all",
    },
    **{
        ("GET", f"/runs/{{run}}/measures/{{measure}}/{{code}}{tail}"): {
            "commissioner": "all", "federation": "own", "practice": "own",
        }
        for tail in ("", "/chart.svg", "/chart.png", "/data.{fmt}", "/peers.{fmt}",
                     "/funnel.svg", "/funnel.png", "/results.{fmt}")
    },
    ("GET", "/runs/{run}/compare/{other}"): {"commissioner": "all"},
    ("GET", "/runs/{run}/compare/{other}/totals.{fmt}"): {"commissioner": "all"},
    ("GET", "/runs/{run}/audit"): {"commissioner": "all"},
    ("GET", "/runs/{run}/audit.{fmt}"): {"commissioner": "all"},
}  # fmt: skip
#: Routes anyone may reach without logging in.
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/static/careis-{digest}.css")}
#: Path parameters: (in scope, out of scope) of each role's organisation.
SCOPE = {
    "code": ("A00001", "A00003"),  # the practice user's own / another federation's member
    "org": ("FEDA", "FEDB"),  # the federation user's own / another
    "name": ("register.csv", "register.xlsx"),
    "fmt": ("csv", "xlsx"),  # not a scope: both formats are asked, each once per role and run
    "table": ("provider_total", "statement"),  # tables of changes (both exist for `rerun`)
    "measure": ("emergency_admissions",) * 2,  # not a scope: the tiny runs' one measure
    "other": ("paid", "paid"),  # the run compared with: the first run of `rerun`'s scheme
}
#: Routes that exist only for some runs: the runs standing for "open" and "approved" there.
#: Changes exist only for a re-run of a scheme with an approved run (tests/serve/conftest.py).
RUNS = {
    "/runs/{run}/changes/{table}.{fmt}": {"open": "rerun", "paid": "repaid"},
    # runs side by side: two runs of one scheme (`paid` and its re-runs)
    "/runs/{run}/compare/{other}": {"open": "rerun", "paid": "repaid"},
    "/runs/{run}/compare/{other}/totals.{fmt}": {"open": "rerun", "paid": "repaid"},
}
FORMS = {
    "decision": "query", "comment": "matrix", "answer": "matrix", "override_reason": "matrix",
    "reason": "matrix", "current_password": PASSWORD, "new_password": "matrix password 2",
    "confirm_password": "matrix password 2",
}  # fmt: skip
#: POSTs about the user's own account, not a run: they succeed (303) whatever the run.
ACCOUNT_POSTS = {"/logout", "/account/password"}


def route_table() -> set[tuple[str, str]]:
    """(method, path) of every route the routers declare."""
    found = set()
    for route in [*routes.auth_router.routes, *routes.router.routes]:
        assert isinstance(route, APIRoute)
        found |= {(m, route.path) for m in route.methods - {"HEAD"}}
    return found


CASES = [
    (method, path, role, scope, run)
    for method, path in sorted(route_table() - PUBLIC)
    for role in ROLES
    for scope in ("in", "out")
    for run in ("open", "paid")
]


def mounted_routes(candidates: list[Any]) -> set[tuple[str, str]]:
    """(method, path) of every APIRoute the app serves, into included routers.

    FastAPI 0.163 keeps an included router as one entry holding `original_router`.
    """
    found: set[tuple[str, str]] = set()
    for route in candidates:
        if isinstance(route, APIRoute):
            found |= {(m, route.path) for m in route.methods - {"HEAD"}}
        elif hasattr(route, "original_router"):
            found |= mounted_routes(route.original_router.routes)
    return found


def test_every_route_is_in_the_matrix(app: FastAPI) -> None:
    mounted = mounted_routes(app.routes)
    assert mounted == route_table()
    assert mounted - PUBLIC == set(MATRIX), "add the new route to MATRIX with who may use it"


def expected_allowed(rule: str, scope: str, run: str) -> bool:
    return (
        rule == "all" or (rule == "own" and scope == "in") or (rule == "approved" and run == "paid")
    )


def url_for(path: str, scope: str, run: str) -> str:
    index = 0 if scope == "in" else 1
    values = {key: pair[index] for key, pair in SCOPE.items()}
    return path.format(run=RUNS.get(path, {}).get(run, run), **values)


@pytest.fixture(scope="module")
def get_clients(served: Served, tmp_path_factory: pytest.TempPathFactory) -> dict[str, TestClient]:
    """One logged-in client per role on one app, shared by the read-only (GET) cases."""
    app = make_app(served, tmp_path_factory.mktemp("matrix"))
    return {role: login(app, name) for role, name in ROLE_USER.items()}


def _request(client: TestClient, method: str, url: str) -> int:
    if method == "GET":
        return client.get(url).status_code
    token = client.cookies  # the session cookie travels; the token comes from a page
    assert token
    from conftest import csrf_of

    return client.post(url, data={**FORMS, "csrf_token": csrf_of(client)}).status_code


@pytest.mark.parametrize(("method", "path", "role", "scope", "run"), CASES)
def test_access(
    method: str, path: str, role: str, scope: str, run: str,
    get_clients: dict[str, TestClient], served: Served, tmp_path: Path,
) -> None:  # fmt: skip
    if method == "GET":
        client = get_clients[role]
    else:  # state changes: a fresh database each time
        client = login(make_app(served, tmp_path), ROLE_USER[role])
    status = _request(client, method, url_for(path, scope, run))
    rule = MATRIX[(method, path)].get(role, "none")
    if not expected_allowed(rule, scope, run):
        assert status in (403, 404), f"{role} reached {method} {path} ({scope}, {run}): {status}"
    elif method == "GET":
        assert status == 200
    else:  # an open run changes (303); an approved one is refused by state, not access (409)
        assert status in ((303,) if run == "open" or path in ACCOUNT_POSTS else (409,))


@pytest.mark.parametrize(("method", "path"), sorted(route_table() - PUBLIC))
def test_anonymous_is_sent_to_login(method: str, path: str, app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False)
    response = client.request(method, url_for(path, "in", "open"), data=FORMS)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


@pytest.mark.parametrize("role", ["commissioner", "federation", "finance"])
def test_no_patient_level_data_reaches_other_roles(
    role: str, get_clients: dict[str, TestClient]
) -> None:
    client = get_clients[role]
    for method, path in MATRIX:
        if method == "GET":
            for scope in ("in", "out"):
                for run in ("open", "paid"):
                    assert "pid-" not in body_text(client.get(url_for(path, scope, run)))


def test_practice_sees_only_its_own_patients(get_clients: dict[str, TestClient]) -> None:
    client = get_clients["practice"]
    page = client.get("/runs/open/practices/A00001").text
    assert "pid-A00001-1" in page
    for method, path in MATRIX:
        if method == "GET":
            body = body_text(client.get(url_for(path, "out", "open")))
            assert "pid-A00003" not in body and "pid-A00002" not in body
