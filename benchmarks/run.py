"""careis benchmarks: `make bench` (or `python benchmarks/run.py [--only NAME] [--icb CODE]`).

Each benchmark runs in a fresh subprocess so its wall time and peak memory (max RSS of the
process tree's largest member, from the kernel) are its own. Results are printed as a table
and written to `benchmarks/results/latest.json`; docs/performance.md records the figures with
the machine they came from.

Benchmarks:
- generate: a synthetic ICB of about 1.5 million registered patients (default ICB QOQ, whose
  real 2016 list is 1.48 million), three financial years;
- run: the full commissioning run on that data on DuckDB (validate, risk, measures, payments,
  report), with the seconds of each stage and patients per second;
- icb: issue 17's figure: the demo's own scheme (`benchmarks/icb.yaml`: `risk.method: model`
  scoring with a saved LightGBM model, both register refreshes, all shipped measures, the
  contract comparison, the report) on the same data, with each stage's seconds; the model is
  trained once by `careis risk train` (timed separately, a stated cost) when
  `data/bench-model.json` is missing;
- risk score: the admission model's feature build + scoring + registers for everyone
  registered on one day (~1.5 million patients; target under 30 s);
- risk train: training each model family (logistic, LightGBM) on 1 million patients.
- payments: every example contract paid for every practice in England from synthetic measure
  results (benchmarks/payments.py), seconds per contract; no generated data needed.
- ingest: `careis ingest` throughput (records/s) per format (Synthea CSV, OMOP, FHIR NDJSON,
  HES) on the shared samples copied 40 times with unique ids (benchmarks/ingest_bench.py).
- serve: `careis serve` under 50 concurrent simulated users browsing for 30 s on 127.0.0.1
  (benchmarks/serve_load.py): p50/p95 page time and errors; no generated data needed.
- measures: the measures stage alone (`careis measures run`) for 6 (the foundation's fixed set), 12
  and all shipped measures, to show how its time grows with the number of measures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "bench"
OUT = ROOT / "out" / "bench"
RESULTS = ROOT / "benchmarks" / "results"
CAREIS = [sys.executable, "-m", "careis.cli"]


def machine() -> dict[str, Any]:
    mem_gb = None
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal"):
                    mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "cpu": cpu,
        "python": platform.python_version(),
    }


_WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[1:])\n"
    "wall = time.perf_counter() - t\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print('BENCH ' + json.dumps([done.returncode, wall, rss]), file=sys.stderr)\n"
)


def timed(cmd: list[str]) -> tuple[float, float]:
    """Run `cmd` in a fresh wrapper process; return (wall seconds, peak RSS in GB).

    The wrapper is new for every benchmark, so the peak it reports (the largest RSS of its
    children, from the kernel) belongs to this command alone.
    """
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *cmd],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
    )
    line = next((ln for ln in reversed(done.stderr.splitlines()) if ln.startswith("BENCH ")), None)
    if line is None:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"benchmark wrapper failed: {' '.join(cmd)}")
    code, wall, rss_kib = json.loads(line[6:])
    if code != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}")
    return float(wall), rss_kib / 1024 / 1024


def bench_generate(icb: str) -> dict[str, Any]:
    if DATA.exists():
        shutil.rmtree(DATA)
    wall, peak = timed([*CAREIS, "generate", "--icb", icb, "--out", str(DATA)])
    gen = json.loads((DATA / "generation.json").read_text())
    counts = gen.get("row_counts", {})
    patients = int(counts.get("patients", 0))
    return {
        "name": "generate",
        "icb": icb,
        "wall_s": round(wall, 1),
        "peak_rss_gb": round(peak, 2),
        "patients": patients,
        "patients_per_s": round(patients / wall),
        "rows": counts,
    }


def bench_run() -> dict[str, Any]:
    config = ROOT / "benchmarks" / "bench.yaml"
    if OUT.exists():
        shutil.rmtree(OUT)
    wall, peak = timed([*CAREIS, "run", str(config), "--data", str(DATA), "--out", str(OUT)])
    stages = json.loads((OUT / "run_log.json").read_text())["seconds"]
    gen = json.loads((DATA / "generation.json").read_text())
    patients = int(gen.get("row_counts", {}).get("patients", 0))
    return {
        "name": "run (duckdb)",
        "wall_s": round(wall, 1),
        "peak_rss_gb": round(peak, 2),
        "patients": patients,
        "stages_s": stages,
        "patients_per_s": {k: (round(patients / v) if v > 0 else None) for k, v in stages.items()},
    }


MODEL = ROOT / "data" / "bench-model.json"


def bench_icb() -> dict[str, Any]:
    """The demo's scheme on the ICB with a saved model (issue 17's target: <= 20 s, <= 4 GB)."""
    result: dict[str, Any] = {"name": "icb (duckdb, model)"}
    if not MODEL.exists():
        models = ROOT / "data" / "bench-models"
        wall, peak = timed(
            [*CAREIS, "risk", "train", str(DATA), "--out", str(models), "--kind", "lightgbm"]
        )
        shutil.copyfile(models / "lightgbm" / "model.json", MODEL)
        result["train_wall_s"] = round(wall, 1)
        result["train_peak_rss_gb"] = round(peak, 2)
    out = ROOT / "out" / "bench-icb"
    if out.exists():
        shutil.rmtree(out)
    config = ROOT / "benchmarks" / "icb.yaml"
    wall, peak = timed([*CAREIS, "run", str(config), "--data", str(DATA), "--out", str(out)])
    stages = json.loads((out / "run_log.json").read_text())["seconds"]
    gen = json.loads((DATA / "generation.json").read_text())
    patients = int(gen.get("row_counts", {}).get("patients", 0))
    result.update(
        wall_s=round(wall, 1),
        peak_rss_gb=round(peak, 2),
        patients=patients,
        stages_s=stages,
        untimed_s=round(wall - sum(stages.values()), 1),  # start-up, registers, manifest
        patients_per_s={k: (round(patients / v) if v > 0 else None) for k, v in stages.items()},
    )
    return result


def bench_risk(mode: str) -> dict[str, Any]:
    """Risk: `score` (feature build + scoring + registers, ~1.5M patients) or `train` (each
    model family on 1M patients). Figures come from benchmarks/risk_bench.py."""
    result = RESULTS / f"risk_{mode}.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    script = ROOT / "benchmarks" / "risk_bench.py"
    wall, peak = timed([sys.executable, str(script), mode, str(DATA), str(result)])
    figures = json.loads(result.read_text())
    patients = int(figures.get("patients") or figures.get("train_patients") or 0)
    main_s = figures.get("total_s") if mode == "score" else figures.get("train_lightgbm_s")
    return {
        "name": f"risk {mode}",
        "wall_s": round(wall, 1),
        "peak_rss_gb": round(peak, 2),
        "patients": patients,
        "patients_per_s": round(patients / main_s) if main_s else None,
        "stages_s": {k: v for k, v in figures.items() if k.endswith("_s")},
    }


def bench_payments() -> dict[str, Any]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / "payments.json"
    wall, peak = timed([sys.executable, str(ROOT / "benchmarks" / "payments.py"), str(target)])
    detail = json.loads(target.read_text(encoding="utf-8"))
    return {
        "name": "payments",
        "wall_s": round(wall, 1),
        "peak_rss_gb": round(peak, 2),
        "patients_per_s": "",
        "practices": detail["practices"],
        "contracts": detail["contracts"],
        "compare_s": detail["compare_2_contracts_2_scenarios_5_draws_s"],
    }


# Subsets of the shipped library: the foundation's six fixed measures, twelve, then all.
CORE = (
    "list_size", "adults", "register", "care_plan", "emergency_admissions",
    "emergency_admissions_change",
)  # fmt: skip
MORE = ("care_plan_12m", "care_plan_review", "named_gp", "ae_attendances", "readmissions_30d",
        "emergency_bed_days")  # fmt: skip
MEASURE_STEPS: tuple[tuple[str, ...] | None, ...] = (CORE, CORE + MORE, None)  # None = all


def bench_ingest() -> dict[str, Any]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / "ingest.json"
    wall, peak = timed([sys.executable, str(ROOT / "benchmarks" / "ingest_bench.py"), str(target)])
    detail = json.loads(target.read_text(encoding="utf-8"))
    return {
        "name": "ingest",
        "wall_s": round(wall, 1),
        "peak_rss_gb": round(peak, 2),
        "patients_per_s": "",
        "copies": detail["copies"],
        "stages_s": {f: v["wall_s"] for f, v in detail["formats"].items()},
        "records_per_s": {f: v["records_per_s"] for f, v in detail["formats"].items()},
    }


def bench_measures() -> dict[str, Any]:
    """Measures-stage seconds for growing subsets of the shipped library (same data, same run)."""
    import yaml

    from careis.measures.definitions import shipped_library

    library = yaml.safe_load((shipped_library() / "scheme.yaml").read_text(encoding="utf-8"))
    entries = library["measures"]
    work = ROOT / "out" / "bench-measures"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    base = yaml.safe_load((ROOT / "benchmarks" / "bench.yaml").read_text(encoding="utf-8"))
    base["contract"] = str((ROOT / "benchmarks" / base["contract"]).resolve())
    base["data"]["path"] = str(DATA)
    steps = []
    for ids in MEASURE_STEPS:
        chosen = entries if ids is None else [e for e in entries if e["id"] in ids]
        (work / f"m{len(chosen)}.yaml").write_text(
            yaml.safe_dump({"measures": chosen}, sort_keys=False), encoding="utf-8"
        )
        config = dict(base)
        config["measures"] = {"files": [str(work / f"m{len(chosen)}.yaml")]}
        config["output"] = {"dir": str(work / f"out{len(chosen)}"), "report": False}
        cfg_path = work / f"run{len(chosen)}.yaml"
        cfg_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        wall, peak = timed([*CAREIS, "measures", "run", str(cfg_path)])
        stages = json.loads((work / f"out{len(chosen)}" / "run_log.json").read_text())["seconds"]
        steps.append(
            {
                "measures": len(chosen),
                "measures_stage_s": stages.get("measures"),
                "wall_s": round(wall, 1),
                "peak_rss_gb": round(peak, 2),
            }
        )
    gen = json.loads((DATA / "generation.json").read_text())
    return {
        "name": "measures (duckdb)",
        "patients": int(gen.get("row_counts", {}).get("patients", 0)),
        "steps": steps,
        "wall_s": steps[-1]["wall_s"],
        "peak_rss_gb": max(s["peak_rss_gb"] for s in steps),
        "patients_per_s": "",
    }


def bench_serve() -> dict[str, Any]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / "serve.json"
    wall, peak = timed([sys.executable, str(ROOT / "benchmarks" / "serve_load.py"), str(target)])
    detail = json.loads(target.read_text(encoding="utf-8"))
    return {
        "name": "serve",
        "wall_s": round(wall, 1),
        "peak_rss_gb": round(peak, 2),
        "patients_per_s": "",
        **{k: detail[k] for k in ("users", "requests", "errors", "p50_ms", "p95_ms")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--icb", default="QOQ", help="ICB to generate (default QOQ, ~1.5M patients)"
    )
    parser.add_argument(
        "--only",
        choices=[
            "generate",
            "run",
            "icb",
            "risk-score",
            "risk-train",
            "payments",
            "ingest",
            "measures",
            "serve",
        ],
        help="run one benchmark (run, risk-* and measures need generated data)",
    )
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    # (name, needs the generated ICB data, how to run it), in the order `make bench` runs them
    benches: list[tuple[str, bool, Any]] = [
        ("generate", False, lambda: bench_generate(args.icb)),
        ("run", True, bench_run),
        ("icb", True, bench_icb),
        ("risk-score", True, lambda: bench_risk("score")),
        ("risk-train", True, lambda: bench_risk("train")),
        ("payments", False, bench_payments),
        ("ingest", False, bench_ingest),
        ("serve", False, bench_serve),
        ("measures", True, bench_measures),
    ]
    for name, needs_data, bench in benches:
        if args.only not in (None, name):
            continue
        if needs_data and not (DATA / "patients.parquet").exists():
            raise SystemExit("no benchmark data: run without --only first")
        results.append(bench())
        print(json.dumps(results[-1], indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "results": results}
    (RESULTS / "latest.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print("\nbenchmark           wall (s)   peak RSS (GB)   patients/s")
    for r in results:
        rate = r["patients_per_s"] if isinstance(r["patients_per_s"], int) else ""
        print(f"{r['name']:<18} {r['wall_s']:>9} {r['peak_rss_gb']:>15} {rate!s:>12}")
        for stage, secs in r.get("stages_s", {}).items():
            print(f"  {stage:<16} {secs:>9}")


if __name__ == "__main__":
    main()
