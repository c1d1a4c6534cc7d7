"""Many workers, many machines, one study: storage overhead, trials/hour on PostgreSQL vs a journal file,
and replayed proposals of a resumed study before and after the per-process sampler streams.

Three parts, all in one run, PostgreSQL from the throw-away server of `tests/postgres.py` (initdb +
pg_ctl on a free port, as the `postgres` user when root; deleted afterwards):

1. overhead: milliseconds per trial of the storage alone, on a fresh study per row, 200 trials with one
   float parameter and a RandomSampler: `study.ask()` + `study.tell()`, and the same trial through
   `study.optimize()` (the path `nas search` takes: only there does Optuna run the heartbeat thread and
   look for stale trials). Rows: journal file, SQLite and PostgreSQL, each database with the heartbeat
   as nas opens it (`open_storage(url)`: 30 s) and off (`open_storage(url, heartbeat_interval=0)`).
   PostgreSQL twice: the tests' server (fsync off, synchronous_commit off, full_page_writes off) and the
   same server started durable (PostgreSQL's defaults: fsync, synchronous_commit on), since the journal
   fsyncs every append and SQLite syncs every commit.
2. workers: trials/hour of 1 and 2 `nas search` processes (each hardware.n_jobs=1 hardware.threads=1) on
   one `storage=... study.name=scale`, PostgreSQL (the tests' server) against a journal file, on the same
   workload as benchmarks/parallel.py: N small-CNN parameter sets on digits from a seeded RandomSampler,
   passed as `study.enqueue=<file> study.n_trials=N`. The benchmark enqueues the sets into the fresh
   study itself before the processes start (as nas does: same user attributes, skip_if_exists), so two
   processes starting at once cannot race to enqueue a set twice; each process then finds them all
   already in the study. Settings interleaved (journal/1, postgresql/1, journal/2, postgresql/2, ...).
   The figure is complete trials over the span from the first trial's start to the last trial's end
   (the storage's timestamps: process start-up, data loading and the finish left out); wall seconds
   (launch to the last exit) are recorded too. Every run is checked to have evaluated the workload.
3. replays: a 30-trial tabular study (nb201 with 2 ops: 64 cells, strategy=random) run as `nas search
   study.n_trials=15` then `nas resume RUN_DIR study.n_trials=30` in the same run directory. "before"
   runs the resume with NAS_JOINED_AT=0 (join index 0: the plain seed, the old replay); "after" without.
   Counted: exact replays (trial 15+i has the params of trial i) and any trial repeating an earlier one.

    python benchmarks/scale.py
    python benchmarks/scale.py --overhead-trials 20 --trials 4 --epochs 1 --repeats 1 --seeds 1 --out /tmp/scale  # smoke
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from parallel import COMMON, SMALL, make_workload  # noqa: E402  (the same workload as benchmarks/parallel.py)

STUDY = "scale"
SEARCH_EXTRA = ["robustness.enabled=false", "hardware.n_jobs=1", "hardware.threads=1"]
TABULAR = ["search_space=nb201", "search_space.ops=[none,nor_conv_3x3]", "evaluator=tabular", "strategy=random",
           "verbosity=0"]


def nas_exe() -> str:
    return str(Path(sys.executable).with_name("nas"))


# --- PostgreSQL ------------------------------------------------------------------------------------

def start_postgres(durable: bool):
    """A running throw-away server (tests/postgres.py); durable: PostgreSQL's own fsync/commit defaults."""
    from tests.postgres import PostgresServer, _wait_ready, find_server_bin, free_port

    class DurablePostgresServer(PostgresServer):
        def start(self) -> None:  # PostgresServer.start without -F / synchronous_commit=off / full_page_writes=off
            options = f"-p {self.port} -k {self.sock} -h 127.0.0.1 -c max_connections=100"
            done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options,
                             "start", timeout=90)
            if done.returncode != 0:
                raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}")

    bin_dir = find_server_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    base = Path(tempfile.mkdtemp(prefix="nas-pg-bench-"))
    server = (DurablePostgresServer if durable else PostgresServer)(bin_dir, base)
    server.init()
    for attempt in range(3):
        try:
            server.start()
            break
        except RuntimeError:
            if attempt == 2:
                raise
            server.port = free_port()
    _wait_ready(server)
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=server.port, user="postgres", dbname="postgres") as conn:
        server.version = conn.execute("SHOW server_version").fetchone()[0]
        server.settings = {k: conn.execute(f"SHOW {k}").fetchone()[0]
                           for k in ("fsync", "synchronous_commit", "full_page_writes")}
    return server


def stop_postgres(server) -> None:
    server.stop("immediate")
    shutil.rmtree(server.base, ignore_errors=True)


def dispose(storage) -> None:
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()


# --- 1. per-trial storage overhead -------------------------------------------------------------------

def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def _stats(ms: list[float]) -> dict:
    return {"median_ms": statistics.median(ms), "p90_ms": _pct(ms, 0.9), "mean_ms": statistics.fmean(ms),
            "max_ms": max(ms), "n": len(ms)}


def overhead_row(spec: str, heartbeat: int | None, n: int) -> dict:
    """ms per trial: ask+tell on one fresh study, then optimize() on another (same storage)."""
    import warnings

    import optuna
    from optuna.distributions import FloatDistribution

    from nas_cli.study.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    storage = open_storage(spec, heartbeat_interval=heartbeat)
    out = {}
    try:
        study = optuna.create_study(storage=storage, study_name="asktell", sampler=optuna.samplers.RandomSampler(0))
        dist = {"x": FloatDistribution(0.0, 1.0)}
        ms = []
        for _ in range(n):
            t0 = time.perf_counter()
            trial = study.ask(dist)
            study.tell(trial, trial.params["x"])
            ms.append((time.perf_counter() - t0) * 1000)
        out["ask_tell"] = _stats(ms)

        study = optuna.create_study(storage=storage, study_name="optimize", sampler=optuna.samplers.RandomSampler(0))
        marks = [time.perf_counter()]
        study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=n,
                       callbacks=[lambda s, t: marks.append(time.perf_counter())], gc_after_trial=False)
        out["optimize"] = _stats([(b - a) * 1000 for a, b in zip(marks, marks[1:], strict=False)])
        out["heartbeat_interval"] = storage.get_heartbeat_interval() if hasattr(storage, "get_heartbeat_interval") else None
    finally:
        dispose(storage)
    return out


def measure_overhead(n: int, work: Path, pg_fast, pg_durable) -> list[dict]:
    rows = []
    targets = [("journal file", lambda: str(work / f"oh-{time.monotonic_ns()}.journal"), [None])]
    targets.append(("sqlite", lambda: f"sqlite:///{work / f'oh-{time.monotonic_ns()}.db'}", [None, 0]))
    for label, server in (("postgresql (tests' server: fsync off)", pg_fast), ("postgresql (durable: fsync on)", pg_durable)):
        if server is not None:
            targets.append((label, server.create_database, [None, 0]))
    for label, make, beats in targets:
        for hb in beats:
            r = overhead_row(make(), hb, n)
            r["storage"] = label
            r["heartbeat"] = "n/a (journal)" if label == "journal file" else ("off" if hb == 0 else "on (30 s, as nas opens it)")
            rows.append(r)
            print(f"overhead {label:40s} heartbeat {r['heartbeat']:26s} ask+tell {r['ask_tell']['median_ms']:.2f} ms "
                  f"(p90 {r['ask_tell']['p90_ms']:.2f}), optimize {r['optimize']['median_ms']:.2f} ms "
                  f"(p90 {r['optimize']['p90_ms']:.2f})", flush=True)
    return rows


# --- 2. trials/hour of 1 and 2 processes -------------------------------------------------------------

def _key(params: dict) -> str:
    return json.dumps(params, sort_keys=True)


def pre_enqueue(spec: str, workload: list[dict], source: Path) -> None:
    """Create the study and enqueue the sets as `nas search` would (nas_cli.study.enqueue)."""
    import optuna

    from nas_cli.study.storage import open_storage

    storage = open_storage(spec)
    try:
        study = optuna.create_study(storage=storage, study_name=STUDY, directions=["maximize"])  # accuracy:max
        for i, params in enumerate(workload):
            study.enqueue_trial(params, user_attrs={"enqueued_from": str(source.resolve()), "enqueue_index": i},
                                skip_if_exists=True)
    finally:
        dispose(storage)


def run_workers(backend: str, workers: int, workload_file: Path, workload: list[dict], epochs: int,
                server, work: Path | None) -> dict:
    import optuna

    from nas_cli.study.storage import open_storage

    with tempfile.TemporaryDirectory(dir=work) as tmp:
        spec = server.create_database() if backend == "postgresql" else str(Path(tmp) / "shared.journal")
        pre_enqueue(spec, workload, workload_file)
        cmds = [[nas_exe(), "search", *SMALL, *COMMON, *SEARCH_EXTRA, f"study.n_trials={len(workload)}",
                 f"train.epochs={epochs}", f"study.enqueue={workload_file}", f"storage={spec}",
                 f"study.name={STUDY}", f"runs_dir={Path(tmp) / f'w{i}'}"] for i in range(workers)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("OMP_NUM_THREADS", None)
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        procs = [subprocess.Popen(c, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for c in cmds]
        outs = [p.communicate(timeout=1800) for p in procs]
        wall = time.perf_counter() - t0
        for p, (_, err) in zip(procs, outs, strict=True):
            if p.returncode != 0:
                raise SystemExit(f"{backend}/{workers} failed (exit {p.returncode}): {err[-2000:]}")
        summaries = [json.loads((next(Path(tmp, f"w{i}").iterdir()) / "summary.json").read_text())
                     for i in range(workers)]
        storage = open_storage(spec)
        try:
            trials = optuna.load_study(study_name=STUDY, storage=storage).get_trials(deepcopy=False)
        finally:
            dispose(storage)
        complete = [t for t in trials if t.state.name == "COMPLETE"]
        want = sorted(_key(p) for p in workload)
        got = sorted(k for k in (_key(t.params) for t in complete) if k in set(want))
        extra = [t.number for t in complete if _key(t.params) not in set(want)]  # past study.n_trials: sampled
        if got != want or len(complete) > len(workload) + 1:
            raise SystemExit(f"{backend}/{workers}: evaluated {len(complete)} trials, not exactly the {len(workload)} "
                             f"workload sets ({len(set(want) - set(got))} missing, {len(got) - len(set(got))} "
                             f"repeated, states {[t.state.name for t in trials]}); storage {spec}")
        first = min(t.datetime_start for t in complete)
        last = max(t.datetime_complete for t in complete)
        span = (last - first).total_seconds()
        by_worker: dict = {}
        for t in complete:
            by_worker.setdefault(t.user_attrs.get("worker"), []).append(t)
        steady = sum(len(ts) / max(1e-9, (max(t.datetime_complete for t in ts)
                                          - min(t.datetime_start for t in ts)).total_seconds()) * 3600
                     for ts in by_worker.values())
        starts = sorted(min(t.datetime_start for t in ts) for ts in by_worker.values())
        outside = [(t.datetime_complete - t.datetime_start).total_seconds()
                   - t.user_attrs.get("metrics", {}).get("train_seconds", 0.0) for t in complete]
    return {"backend": backend, "workers": workers, "complete": len(complete), "trials_in_storage": len(trials),
            "extra_trials": extra,
            "span_seconds": span, "trials_per_hour": len(complete) / span * 3600, "wall_seconds": wall,
            "wall_trials_per_hour": len(complete) / wall * 3600,
            "steady_trials_per_hour": steady, "start_skew_seconds": (starts[-1] - starts[0]).total_seconds(),
            "search_seconds": [s["timings"]["search_seconds"] for s in summaries],
            "timings": [s.get("timings") for s in summaries],
            "trials_per_process": sorted(len(v) for v in by_worker.values()),
            "join_indices": [s.get("sampler_stream", {}).get("join_index") for s in summaries],
            "median_ms_per_trial_outside_training": statistics.median(outside) * 1000,
            "train_seconds_sum": sum(t.user_attrs.get("metrics", {}).get("train_seconds", 0.0) for t in complete),
            "load_before": load}


def measure_workers(args, server) -> tuple[list[dict], list[dict]]:
    workload = make_workload(args.trials, args.workload_seed)
    runs = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        workload_file = Path(tmp) / "workload.json"
        workload_file.write_text(json.dumps(workload, indent=1))
        for rep in range(args.repeats):
            for workers in (1, 2):
                for backend in ("journal", "postgresql"):
                    r = run_workers(backend, workers, workload_file, workload, args.epochs, server, args.workdir)
                    r["repeat"] = rep
                    runs.append(r)
                    print(f"rep {rep} {backend}/{workers}: {r['span_seconds']:.2f} s span, {r['trials_per_hour']:.0f} "
                          f"trials/h ({r['wall_seconds']:.1f} s wall, per process {r['trials_per_process']}, "
                          f"load {r['load_before']:.1f})", flush=True)
    return workload, runs


# --- 3. replayed proposals --------------------------------------------------------------------------

def write_table(path: Path) -> None:
    from tests.test_tabular import write_table as tests_write_table

    tests_write_table(path)


def replay_run(seed: int, mode: str, first: int, total: int, table: Path, work: Path | None) -> dict:
    import optuna

    from nas_cli.study.storage import open_storage

    with tempfile.TemporaryDirectory(dir=work) as tmp:
        base = [*TABULAR, f"benchmark.table={table}", f"seed={seed}"]
        env = {**os.environ}
        env.pop("NAS_JOINED_AT", None)
        search = [nas_exe(), "search", *base, f"study.n_trials={first}", f"runs_dir={tmp}"]
        done = subprocess.run(search, cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise SystemExit(f"replays {mode} seed {seed}: nas search failed: {done.stderr[-2000:]}")
        run_dir = next(p for p in Path(tmp).iterdir() if p.is_dir())
        resume_env = {**env, "NAS_JOINED_AT": "0"} if mode == "before" else env
        resume = [nas_exe(), "resume", str(run_dir), f"study.n_trials={total}"]
        done = subprocess.run(resume, cwd=tmp, env=resume_env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise SystemExit(f"replays {mode} seed {seed}: nas resume failed: {done.stderr[-2000:]}")
        stream = json.loads((run_dir / "summary.json").read_text()).get("sampler_stream")
        storage = open_storage(str(run_dir / "study.journal"))
        trials = sorted(optuna.load_study(study_name="nas", storage=storage).get_trials(deepcopy=False),
                        key=lambda t: t.number)
    keys = [_key(t.params) for t in trials]
    exact = [i for i in range(first) if first + i < len(keys) and keys[first + i] == keys[i]]
    repeats = [n for n in range(len(keys)) if keys[n] in keys[:n]]
    return {"seed": seed, "mode": mode, "trials": len(keys), "exact_replays": len(exact),
            "exact_replay_of": exact, "repeats_any": len(repeats),
            "repeats_in_first": sum(n < first for n in repeats), "repeats_after_resume": sum(n >= first for n in repeats),
            "distinct": len(set(keys)), "resumed_sampler_stream": stream,
            "commands": [shlex.join(["nas", *search[1:]]).replace(str(table), "TABLE").replace(tmp, "RUNS"),
                         ("NAS_JOINED_AT=0 " if mode == "before" else "")
                         + shlex.join(["nas", *resume[1:]]).replace(str(run_dir), "RUN_DIR")]}


def expected_by_chance(cells: int, first: int, total: int) -> dict:
    """Uniform independent draws over `cells`: expected repeats among `total`, and exact replays."""
    distinct = cells * (1 - (1 - 1 / cells) ** total)
    distinct_first = cells * (1 - (1 - 1 / cells) ** first)
    return {"repeats_any": total - distinct, "repeats_after_resume": (total - distinct) - (first - distinct_first),
            "exact_replays": (total - first) / cells}


def measure_replays(args) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        table = Path(tmp) / "table.csv"
        write_table(table)
        for seed in range(args.seeds):
            for mode in ("before", "after"):
                r = replay_run(seed, mode, args.first, args.total, table, args.workdir)
                out.append(r)
                print(f"replays seed {seed} {mode}: {r['exact_replays']} exact replays of the first {args.first}, "
                      f"{r['repeats_any']} repeats in all ({r['repeats_after_resume']} after the resume), "
                      f"resumed stream {r['resumed_sampler_stream']}", flush=True)
    return out


# --- results ---------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--overhead-trials", type=int, default=200, help="trials per storage row in part 1")
    ap.add_argument("--trials", type=int, default=16, help="N: size of the fixed workload of part 2 (= study.n_trials)")
    ap.add_argument("--epochs", type=int, default=2, help="train.epochs per trial in part 2")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds of part 2")
    ap.add_argument("--workload-seed", type=int, default=0)
    ap.add_argument("--first", type=int, default=15, help="part 3: trials of the first command")
    ap.add_argument("--total", type=int, default=30, help="part 3: study.n_trials of the resume")
    ap.add_argument("--seeds", type=int, default=3, help="part 3: seeds 0..K-1, each before and after")
    ap.add_argument("--parts", default="overhead,workers,replays")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--workdir", type=Path, default=None, help="parent of the temporary directories")
    ap.add_argument("--json", action="store_true", help="also print the results as JSON")
    ap.add_argument("--note", default="", help="a line added to the markdown (e.g. the machine was busy)")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/scale.py" + ("" if len(sys.argv) < 2 else " " + shlex.join(sys.argv[1:]))
    result = {"command": command, "cores": os.cpu_count(), "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
              "load_average_at_start": os.getloadavg(), "note": args.note}
    pg_fast = pg_durable = None
    try:
        if parts & {"overhead", "workers"}:
            pg_fast = start_postgres(durable=False)
            result["postgresql"] = {"version": pg_fast.version, "tests_server_settings": pg_fast.settings}
        if "overhead" in parts:
            pg_durable = start_postgres(durable=True)
            result["postgresql"]["durable_server_settings"] = pg_durable.settings
            with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
                result["overhead"] = {"trials": args.overhead_trials,
                                      "rows": measure_overhead(args.overhead_trials, Path(tmp), pg_fast, pg_durable)}
            stop_postgres(pg_durable)
            pg_durable = None
        if "workers" in parts:
            workload, runs = measure_workers(args, pg_fast)
            result["workers"] = {"trials": args.trials, "epochs": args.epochs, "repeats": args.repeats,
                                 "overrides": [*SMALL, *COMMON, *SEARCH_EXTRA], "workload_seed": args.workload_seed,
                                 "params": workload, "runs": runs, **summarize_workers(runs, args.repeats)}
    finally:
        for server in (pg_fast, pg_durable):
            if server is not None:
                stop_postgres(server)
    if "replays" in parts:
        runs = measure_replays(args)
        result["replays"] = {"first": args.first, "total": args.total, "cells": 64, "seeds": args.seeds,
                             "by_chance": expected_by_chance(64, args.first, args.total), "runs": runs}
    result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    result["load_average_at_end"] = os.getloadavg()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.json").write_text(json.dumps(result, indent=2, default=str))
    md = render(result)
    (args.out / "scale.md").write_text(md)
    print(md)
    if args.json:
        print(json.dumps(result, indent=2, default=str))


def summarize_workers(runs: list[dict], repeats: int) -> dict:
    keys = [(b, w) for w in (1, 2) for b in ("journal", "postgresql")]
    med = {f"{b}/{w}": statistics.median(r["trials_per_hour"] for r in runs if (r["backend"], r["workers"]) == (b, w))
           for b, w in keys}
    wall = {f"{b}/{w}": statistics.median(r["wall_trials_per_hour"] for r in runs if (r["backend"], r["workers"]) == (b, w))
            for b, w in keys}
    steady = {f"{b}/{w}": statistics.median(r["steady_trials_per_hour"] for r in runs
                                             if (r["backend"], r["workers"]) == (b, w)) for b, w in keys}
    per_round = {}
    for w in (1, 2):
        per_round[str(w)] = []
        for i in range(repeats):
            x = {r["backend"]: r["trials_per_hour"] for r in runs if r["repeat"] == i and r["workers"] == w}
            per_round[str(w)].append(x["postgresql"] / x["journal"])
    return {"median_trials_per_hour": med, "median_wall_trials_per_hour": wall, "median_steady_trials_per_hour": steady,
            "steady_ratio_postgresql_over_journal": {str(w): steady[f"postgresql/{w}"] / steady[f"journal/{w}"]
                                                     for w in (1, 2)},
            "ratio_postgresql_over_journal": {str(w): med[f"postgresql/{w}"] / med[f"journal/{w}"] for w in (1, 2)},
            "per_round_ratio_postgresql_over_journal": per_round,
            "ratio_2_over_1": {b: med[f"{b}/2"] / med[f"{b}/1"] for b in ("journal", "postgresql")},
            "steady_ratio_2_over_1": {b: steady[f"{b}/2"] / steady[f"{b}/1"] for b in ("journal", "postgresql")}}


def render(res: dict) -> str:
    md = ["# Many workers, one study: storage overhead, PostgreSQL vs journal, replayed proposals", "",
          f"`{res['command']}` ({res['started']} to {res['finished']}; {res['cores']} cores; 1/5/15-minute load "
          f"average at start {', '.join(f'{x:.2f}' for x in res['load_average_at_start'])}, at end "
          f"{', '.join(f'{x:.2f}' for x in res['load_average_at_end'])})."]
    if res.get("note"):
        md += ["", f"**Note:** {res['note']}"]
    if "postgresql" in res:
        pg = res["postgresql"]
        md += ["", f"PostgreSQL {pg['version']}, throw-away server from tests/postgres.py on 127.0.0.1 (TCP), "
               f"settings {pg['tests_server_settings']}"
               + (f"; durable server {pg['durable_server_settings']}" if "durable_server_settings" in pg else "") + "."]
    if "overhead" in res:
        o = res["overhead"]
        md += ["", f"## 1. Storage overhead per trial ({o['trials']} trials, one float param, RandomSampler)", "",
               "ask+tell: `study.ask()` + `study.tell()`; optimize: the same trial through `study.optimize()` "
               "(where Optuna records heartbeats and looks for stale trials, as in `nas search`). Milliseconds.", "",
               "| storage | heartbeat | ask+tell median | ask+tell p90 | optimize median | optimize p90 |",
               "| --- | --- | --- | --- | --- | --- |"]
        md += [f"| {r['storage']} | {r['heartbeat']} | {r['ask_tell']['median_ms']:.2f} | {r['ask_tell']['p90_ms']:.2f} "
               f"| {r['optimize']['median_ms']:.2f} | {r['optimize']['p90_ms']:.2f} |" for r in o["rows"]]
    if "workers" in res:
        w = res["workers"]
        med, wall, steady = w["median_trials_per_hour"], w["median_wall_trials_per_hour"], w["median_steady_trials_per_hour"]
        md += ["", "## 2. Trials/hour: 1 and 2 `nas search` processes on one study, PostgreSQL vs journal", "",
               f"The same {w['trials']} small-CNN parameter sets on digits in every run (RandomSampler seed "
               f"{w['workload_seed']}, as benchmarks/parallel.py), enqueued into the fresh study before the processes "
               f"start, each checked evaluated once; {w['epochs']} epochs, fine-tune and robustness off; every process "
               f"hardware.n_jobs=1 hardware.threads=1; {w['repeats']} interleaved round(s), medians. trials/hour = complete "
               "trials over first trial start to last trial end (storage timestamps); steady = per process, its "
               "trials over its own first start to last end, summed over processes (leaves out the start skew of "
               "two separately launched processes); wall = launch to last exit (Python start-up, data loading and "
               "the finish included).", "",
               "| processes | journal trials/h | PostgreSQL trials/h | PostgreSQL / journal | journal steady | "
               "PostgreSQL steady | steady PostgreSQL / journal | journal wall trials/h | PostgreSQL wall trials/h |",
               "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for n in (1, 2):
            md.append(f"| {n} | {med[f'journal/{n}']:.0f} | {med[f'postgresql/{n}']:.0f} "
                      f"| {w['ratio_postgresql_over_journal'][str(n)]:.3f}x | {steady[f'journal/{n}']:.0f} "
                      f"| {steady[f'postgresql/{n}']:.0f} | {w['steady_ratio_postgresql_over_journal'][str(n)]:.3f}x "
                      f"| {wall[f'journal/{n}']:.0f} "
                      f"| {wall[f'postgresql/{n}']:.0f} |")
        md += ["", "Per round PostgreSQL / journal: "
               + "; ".join(f"{n} process(es) " + ", ".join(f"{v:.3f}x" for v in w["per_round_ratio_postgresql_over_journal"][str(n)])
                           for n in (1, 2)) + ".",
               f"2 processes / 1: journal {w['ratio_2_over_1']['journal']:.2f}x, PostgreSQL "
               f"{w['ratio_2_over_1']['postgresql']:.2f}x.", "",
               "| round | storage | processes | span s | trials/h | steady trials/h | start skew s "
               "| ms/trial outside training | trials per process | join indices | wall s | load before |",
               "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        md += [f"| {r['repeat']} | {r['backend']} | {r['workers']} | {r['span_seconds']:.2f} | {r['trials_per_hour']:.0f} "
               f"| {r['steady_trials_per_hour']:.0f} | {r['start_skew_seconds']:.2f} "
               f"| {r['median_ms_per_trial_outside_training']:.1f} | {r['trials_per_process']} | {r['join_indices']} "
               f"| {r['wall_seconds']:.1f} | {r['load_before']:.2f} |" for r in w["runs"]]
        over = [r for r in w["runs"] if r["extra_trials"]]
        md += ["", "Runs past study.n_trials (every workload set evaluated once, plus sampled trial(s) started by two "
               "processes at once; counted in trials/hour): "
               + ("; ".join(f"round {r['repeat']} {r['backend']}/{r['workers']}: {r['complete']} complete, extra trial "
                            f"number(s) {r['extra_trials']}" for r in over) if over else "none") + "."]
    if "replays" in res:
        rp = res["replays"]
        ch = rp["by_chance"]
        md += ["", f"## 3. Repeated proposals over a resumed {rp['total']}-trial study (tabular nb201, 2 ops: "
               f"{rp['cells']} cells, strategy=random)", "",
               f"`nas search ... study.n_trials={rp['first']}`, then `nas resume RUN_DIR study.n_trials={rp['total']}` in the "
               "same run directory. before: the resume with NAS_JOINED_AT=0 (the plain seed, as before the stream "
               "fix); after: no env. Exact replays: trial "
               f"{rp['first']}+i with the params of trial i (of {rp['first']}). Repeats: trials whose params equal an "
               f"earlier trial's. By chance (independent uniform draws): {ch['exact_replays']:.2f} exact replays, "
               f"{ch['repeats_any']:.1f} repeats in all, {ch['repeats_after_resume']:.1f} of them after the resume.", "",
               "| seed | mode | exact replays | repeats (all) | repeats after resume | distinct of "
               f"{rp['total']} | resumed stream |", "| --- | --- | --- | --- | --- | --- | --- |"]
        md += [f"| {r['seed']} | {r['mode']} | {r['exact_replays']} | {r['repeats_any']} | {r['repeats_after_resume']} "
               f"| {r['distinct']} | join {r['resumed_sampler_stream'].get('join_index')}, seed "
               f"{r['resumed_sampler_stream'].get('seed')} |" for r in rp["runs"]]
        for mode in ("before", "after"):
            rs = [r for r in rp["runs"] if r["mode"] == mode]
            md.append("")
            md.append(f"{mode}: {sum(r['exact_replays'] for r in rs)} exact replays and "
                      f"{sum(r['repeats_after_resume'] for r in rs)} repeats after the resume over {len(rs)} seed(s) "
                      f"({len(rs) * (rp['total'] - rp['first'])} resumed trials).")
        md += ["", "Commands (seed 0): " + "; ".join(f"`{c}`" for r in rp["runs"][:2] for c in r["commands"])]
    md.append("")
    return "\n".join(md)


if __name__ == "__main__":
    main()
