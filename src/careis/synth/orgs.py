"""The organisations of a synthetic run: real practices and groupings, plus what is made up.

Real (shipped reference data): practice codes and names, PCN, sub-ICB, ICB, region, and the
2016 list size by sex and age band. Made up, deterministically from the seed: federations
(real data has none), each practice's deprivation centre and engagement, its hospital
providers, and a configurable number of practices that move PCN part way through, so that
effective-dated membership logic is exercised.

Membership start dates: each grouping's real start (PCNs 1 July 2019, ICBs 1 July 2022, CCGs
/ sub-ICBs 1 April 2013) unless that is after the first generated day, in which case the
first generated day, so that every generated day has a complete set of groupings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from careis.data import schema
from careis.errors import ConfigError

from . import ids
from . import params as P
from .config import SynthConfig
from .model import CELL_COLUMNS

REAL_STARTS = {
    "pcn": dt.date(2019, 7, 1),
    "federation": dt.date(2016, 4, 1),
    "sub_icb": dt.date(2013, 4, 1),
    "icb": dt.date(2022, 7, 1),
}


@dataclass
class PracticePlan:
    """One row per selected practice (sorted by code), plus the run's groupings."""

    codes: list[str]
    names: list[str]
    number: NDArray[np.int64]
    pcn: list[str | None]  # PCN at the first generated day (None: in no PCN, see UNALLOCATED)
    sub_icb: list[str]
    icb: list[str]
    cells: NDArray[np.int64]  # (n, 18) scaled list at the start, by model.CELLS
    engagement: NDArray[np.float64]
    imd_centre: NDArray[np.float64]
    practice_effect: NDArray[np.float64]  # multiplies emergency and A&E rates (lognormal)
    providers: NDArray[np.int64]  # (n, 3) indices into provider_codes
    provider_codes: list[str]
    provider_names: list[str]
    move_day: NDArray[np.int64]  # day the practice moves PCN, or a large number
    new_pcn: list[str | None]
    federation_of_pcn: dict[str, str]
    federation_names: dict[str, str]
    federations_auto: bool
    imputed: list[str] = field(default_factory=list)
    group_names: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (type, name)

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def list_size(self) -> NDArray[np.int64]:
        return self.cells.sum(axis=1)


#: The PCN code NHS Digital's practice-to-PCN file gives a practice that is in no PCN
#: ("Unallocated"; 101 practices in ../shared/data/reference, across 35 ICBs). It is not a
#: network: such a practice has no PCN and no federation membership. Read as a PCN, it made
#: one "PCN" of 101 practices spanning England, which tied every ICB's disclosure control
#: together (issue 17) and rolled up figures no commissioner owns.
UNALLOCATED = "U"


def _code_number(code: str) -> int:
    return int.from_bytes(code.encode("ascii"), "big")


def _scaled_cells(counts: NDArray[np.float64], scale: float) -> NDArray[np.int64]:
    """Largest-remainder rounding of each practice's cells to round(total x scale) (>= 1)."""
    out = np.zeros(counts.shape, dtype=np.int64)
    for i, row in enumerate(counts):
        total = max(1, int(np.floor(row.sum() * scale + 0.5)))
        exact = row / row.sum() * total
        base = np.floor(exact).astype(np.int64)
        short = total - int(base.sum())
        if short > 0:
            order = np.lexsort((np.arange(len(row)), -(exact - base)))
            base[order[:short]] += 1
        out[i] = base
    return out


def short_name(sub_icb_name: str) -> str:
    """'NHS Greater Manchester ICB - 00T' -> 'Greater Manchester 00T'."""
    text = sub_icb_name.strip()
    text = text.removeprefix("NHS ").replace(" ICB - ", " ")
    return text


def plan_practices(config: SynthConfig, table: pd.DataFrame, first_day: int) -> PracticePlan:
    """Everything practice-level, drawn once per run from the seed and the practice codes."""
    codes = table["practice_code"].tolist()
    counts = table[list(CELL_COLUMNS)].to_numpy(dtype=np.float64)
    missing = ~np.isfinite(counts).all(axis=1) | (np.nan_to_num(counts).sum(axis=1) <= 0)
    imputed = [c for c, m in zip(codes, missing, strict=True) if m]
    if missing.any():
        from .refdata import practices_table

        donors = counts[~missing]
        if len(donors) == 0:  # nothing known in the selection: use England
            everyone = practices_table()[list(CELL_COLUMNS)].to_numpy(dtype=np.float64)
            donors = everyone[np.isfinite(everyone).all(axis=1)]
        shares = donors / donors.sum(axis=1, keepdims=True)
        profile = np.median(shares, axis=0)
        profile /= profile.sum()
        size = float(np.median(donors.sum(axis=1)))
        counts[missing] = profile * size
    cells = _scaled_cells(counts, config.scale)

    iv = config.intervention
    number = np.array([ids.practice_number(c) for c in codes], dtype=np.int64)
    engagement = np.empty(len(codes))
    imd = np.empty(len(codes))
    effect = np.empty(len(codes))
    subs = table["sub_icb_code"].tolist()
    sub_centre: dict[str, float] = {}
    for s in sorted(set(subs)):
        rng = np.random.default_rng([config.seed, 8, _code_number(s)])
        sub_centre[s] = float(rng.uniform(2.0, 9.0))
    for i, code in enumerate(codes):
        rng = np.random.default_rng([config.seed, 7, int(number[i])])
        drawn = float(rng.beta(iv.engagement_alpha, iv.engagement_beta))
        engagement[i] = iv.engagement.get(code, drawn)
        imd[i] = float(np.clip(sub_centre[subs[i]] + rng.normal(0.0, 1.6), 1.0, 10.0))
        effect[i] = float(np.exp(rng.normal(0.0, P.PRACTICE_EFFECT_SD)))
    unknown = sorted(set(iv.engagement) - set(codes))
    if unknown:
        raise ConfigError(
            f"intervention.engagement names practices outside the selection: {', '.join(unknown)}.",
            where="intervention.engagement",
            fix="use practice codes of the chosen sub-ICB/ICB/practices.",
        )

    provider_codes, provider_names, providers = _providers(table)
    pcn = [None if c == UNALLOCATED else str(c) for c in table["pcn_code"]]
    fed_of, fed_names, auto = _federations(config, table)
    move_day, new_pcn = _moves(config, table, fed_of, first_day)
    plan = PracticePlan(
        codes=codes,
        names=table["practice_name"].tolist(),
        number=number,
        pcn=pcn,
        sub_icb=subs,
        icb=table["icb_code"].tolist(),
        cells=cells,
        engagement=engagement,
        imd_centre=imd,
        practice_effect=effect,
        providers=providers,
        provider_codes=provider_codes,
        provider_names=provider_names,
        move_day=move_day,
        new_pcn=new_pcn,
        federation_of_pcn=fed_of,
        federation_names=fed_names,
        federations_auto=auto,
        imputed=imputed,
    )
    for _, row in table.iterrows():
        if row["pcn_code"] != UNALLOCATED:
            plan.group_names[row["pcn_code"]] = ("pcn", row["pcn_name"])
        plan.group_names[row["sub_icb_code"]] = ("sub_icb", row["sub_icb_name"])
        plan.group_names[row["icb_code"]] = ("icb", row["icb_name"])
    for code, name in fed_names.items():
        plan.group_names[code] = ("federation", name)
    return plan


def _providers(table: pd.DataFrame) -> tuple[list[str], list[str], NDArray[np.int64]]:
    """Main, second and third acute provider of each practice (by its sub-ICB and region)."""
    every = [p for region in P.PROVIDERS.values() for p in region]
    used: dict[str, str] = {}
    picks: list[list[str]] = []
    for sub, region in zip(table["sub_icb_code"], table["region_code"], strict=True):
        pool = list(P.PROVIDERS.get(str(region), tuple(every)))
        pool_codes = [c for c, _ in pool]
        main = P.MAIN_PROVIDER.get(sub)
        start = pool_codes.index(main) if main in pool_codes else _code_number(sub) % len(pool)
        chosen = [pool[(start + j) % len(pool)] for j in range(3)]
        picks.append([c for c, _ in chosen])
        used.update(dict(chosen))
    order = sorted(used)
    index = {c: i for i, c in enumerate(order)}
    providers = np.array([[index[c] for c in row] for row in picks], dtype=np.int64)
    return order, [used[c] for c in order], providers.reshape(len(picks), 3)


def _pcn_sub_icb(table: pd.DataFrame) -> dict[str, str]:
    """Each PCN's sub-ICB (where most of its selected practices are); no UNALLOCATED."""
    allocated = table[table["pcn_code"] != UNALLOCATED]
    counts = allocated.groupby(["pcn_code", "sub_icb_code"]).size().reset_index(name="n")
    counts = counts.sort_values(["pcn_code", "n", "sub_icb_code"], ascending=[True, False, True])
    return dict(counts.drop_duplicates("pcn_code")[["pcn_code", "sub_icb_code"]].to_numpy())


def _federations(
    config: SynthConfig, table: pd.DataFrame
) -> tuple[dict[str, str], dict[str, str], bool]:
    """PCN -> federation code, and federation names (given, or about 3-4 PCNs per group)."""
    pcns = set(table["pcn_code"]) - {UNALLOCATED}
    if config.federations is not None:
        fed_of: dict[str, str] = {}
        names: dict[str, str] = {}
        for i, fed in enumerate(config.federations):
            unknown = [p for p in fed.pcns if p not in pcns]
            if unknown:
                raise ConfigError(
                    f"federation {fed.code} names PCNs outside the selection: "
                    f"{', '.join(unknown)}.",
                    where=f"federations[{i}].pcns",
                    fix="use PCN codes of the chosen practices (see organisations.parquet).",
                )
            names[fed.code] = fed.name
            for p in fed.pcns:
                fed_of[p] = fed.code
        clash = set(names) & (pcns | set(table["sub_icb_code"]) | set(table["icb_code"]))
        if clash:
            raise ConfigError(
                f"federation code {sorted(clash)[0]} is already the code of another organisation.",
                where="federations",
                fix="choose another code, e.g. FED00T1.",
            )
        return fed_of, names, False
    sub_of = _pcn_sub_icb(table)
    sub_names = dict(table[["sub_icb_code", "sub_icb_name"]].drop_duplicates().to_numpy())
    fed_of, names = {}, {}
    for sub in sorted(set(sub_of.values())):
        members = sorted(p for p, s in sub_of.items() if s == sub)
        groups = max(1, round(len(members) / 3.5))
        for k, chunk in enumerate(np.array_split(np.array(members), groups), start=1):
            code = f"FED{sub}{k}"
            names[code] = f"{short_name(str(sub_names[sub]))} Federation {k}"
            for p in chunk:
                fed_of[str(p)] = code
    return fed_of, names, True


def change_day(config: SynthConfig) -> dt.date:
    """1 October of the baseline year (of the performance year if there is no baseline)."""
    return dt.date(config.baseline_year or config.performance_year, 10, 1)


def _moves(
    config: SynthConfig, table: pd.DataFrame, fed_of: dict[str, str], first_day: int
) -> tuple[NDArray[np.int64], list[str | None]]:
    n = len(table)
    move_day = np.full(n, np.iinfo(np.int32).max, dtype=np.int64)
    new_pcn: list[str | None] = [None] * n
    if config.pcn_moves == 0:
        return move_day, new_pcn
    sub_of = _pcn_sub_icb(table)
    pcns_by_sub: dict[str, list[str]] = {}
    for p, s in sub_of.items():
        pcns_by_sub.setdefault(s, []).append(p)
    candidates = [
        i
        for i, p in enumerate(table["pcn_code"])
        if p in sub_of and len(pcns_by_sub.get(sub_of[p], [])) >= 2
    ]
    if not candidates:
        return move_day, new_pcn
    rng = np.random.default_rng([config.seed, 11])
    chosen = sorted(
        rng.choice(candidates, size=min(config.pcn_moves, len(candidates)), replace=False)
    )
    day = ids.day(change_day(config))
    for i in chosen:
        old = table["pcn_code"].iloc[i]
        others = sorted(p for p in pcns_by_sub[sub_of[old]] if p != old)
        other_fed = [p for p in others if fed_of.get(p) != fed_of.get(old)]
        pool = other_fed or others
        new_pcn[i] = str(pool[int(rng.integers(len(pool)))])
        move_day[i] = max(day, first_day)
    return move_day, new_pcn


def organisations_table(plan: PracticePlan) -> pa.Table:
    """organisations: practices, PCNs, federations, sub-ICBs, ICBs and hospital providers."""
    rows: list[tuple[str, str, str]] = [
        (c, "practice", n) for c, n in zip(plan.codes, plan.names, strict=True)
    ]
    rows += [(code, kind, name) for code, (kind, name) in plan.group_names.items()]
    rows += [
        (c, "provider", n) for c, n in zip(plan.provider_codes, plan.provider_names, strict=True)
    ]
    order = {t: i for i, t in enumerate(schema.ORG_TYPES)}
    rows.sort(key=lambda r: (order[r[1]], r[0]))
    return pa.table(
        {
            "org_code": pa.array([r[0] for r in rows], pa.string()),
            "org_type": pa.array([r[1] for r in rows], pa.string()),
            "name": pa.array([r[2] for r in rows], pa.string()),
        }
    )


def memberships_table(plan: PracticePlan, first_day: int) -> tuple[pa.Table, list[dict[str, str]]]:
    """Effective-dated memberships and a description of each PCN move (for generation.json)."""
    first = ids.date_of(first_day)
    starts = {k: min(v, first) for k, v in REAL_STARTS.items()}
    rows: list[tuple[str, str, str, dt.date, dt.date | None]] = []
    moves: list[dict[str, str]] = []
    for i, code in enumerate(plan.codes):
        old = plan.pcn[i]
        new = plan.new_pcn[i]
        if old is None:  # in no PCN, so in no federation (UNALLOCATED)
            pass
        elif new is None:
            rows.append((code, "pcn", old, starts["pcn"], None))
            fed = plan.federation_of_pcn.get(old)
            if fed:
                rows.append((code, "federation", fed, starts["federation"], None))
        else:
            when = ids.date_of(int(plan.move_day[i]))
            before = when - dt.timedelta(days=1)
            rows.append((code, "pcn", old, starts["pcn"], before))
            rows.append((code, "pcn", new, when, None))
            f_old = plan.federation_of_pcn.get(old)
            f_new = plan.federation_of_pcn.get(new)
            if f_old == f_new and f_old:
                rows.append((code, "federation", f_old, starts["federation"], None))
            else:
                if f_old:
                    rows.append((code, "federation", f_old, starts["federation"], before))
                if f_new:
                    rows.append((code, "federation", f_new, when, None))
            moves.append(
                {
                    "practice": code,
                    "date": when.isoformat(),
                    "from_pcn": old,
                    "to_pcn": new,
                    "from_federation": f_old or "",
                    "to_federation": f_new or "",
                }
            )
        rows.append((code, "sub_icb", plan.sub_icb[i], starts["sub_icb"], None))
        rows.append((code, "icb", plan.icb[i], starts["icb"], None))
    order = {t: i for i, t in enumerate(schema.GROUP_TYPES)}
    rows.sort(key=lambda r: (r[0], order[r[1]], r[3]))
    table = pa.table(
        {
            "practice_code": pa.array([r[0] for r in rows], pa.string()),
            "group_type": pa.array([r[1] for r in rows], pa.string()),
            "group_code": pa.array([r[2] for r in rows], pa.string()),
            "valid_from": pa.array([r[3] for r in rows], pa.date32()),
            "valid_to": pa.array([r[4] for r in rows], pa.date32()),
        }
    )
    return table, moves
