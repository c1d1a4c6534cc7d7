"""Tabular evaluation: look an architecture's results up in a CSV table instead of training it.

Used with `nas search search_space=nb201 evaluator=tabular benchmark.table=PATH`, so search strategies
can be compared in seconds. No torch here: only csv, optuna and the search space's sampling side.
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path

from nas_cli.errors import ConfigError


class TabularBenchmark:
    """A results table: one row per architecture, keyed by its `arch` column (the space's description)."""

    def __init__(self, path, metric: str = "valid_acc", report_metric: str = "test_acc", key: str = "arch",
                 extra: tuple[str, ...] = ()) -> None:
        self.path, self.metric, self.report_metric, self.key = Path(path), metric, report_metric, key
        self.extra = tuple(c for c in extra if c not in (metric, report_metric))  # more objective columns
        self.rows = self._load()

    def _load(self) -> dict[str, dict[str, float]]:
        where = f"benchmark.table={str(self.path)!r}"
        if not self.path.is_file():
            raise ConfigError(f"{where}: no such file (a CSV with an '{self.key}' column and metric columns)")
        try:
            with self.path.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                columns = reader.fieldnames or []
                need = [self.key, self.metric, self.report_metric, *self.extra]
                missing = [c for c in need if c not in columns]
                if missing:
                    raise ConfigError(f"{where}: missing column(s) {missing}; the table has {columns} "
                                      f"(set benchmark.metric / benchmark.report_metric / benchmark.objectives "
                                      f"to existing columns)")
                rows = {}
                for line, row in enumerate(reader, start=2):
                    try:
                        values = {c: float(row[c]) for c in need[1:]}
                    except (TypeError, ValueError):
                        raise ConfigError(f"{where}: line {line}: {'/'.join(need[1:])} must be "
                                          f"numbers, got {[row.get(c) for c in need[1:]]}") from None
                    if not all(math.isfinite(v) for v in values.values()):
                        raise ConfigError(f"{where}: line {line}: non-finite value {values}")
                    rows[row[self.key].strip()] = values
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ConfigError(f"{where}: cannot read it as CSV: {exc}") from None
        if not rows:
            raise ConfigError(f"{where}: the table has no rows")
        return rows

    def lookup(self, arch_key: str) -> dict[str, float]:
        try:
            return self.rows[arch_key]
        except KeyError:
            raise ConfigError(f"benchmark.table={str(self.path)!r} has no row for arch {arch_key!r}; "
                              f"the table must cover the whole search space ({len(self.rows)} rows)") from None


def tabular_objective(trial, space, table: TabularBenchmark, columns: tuple[str, ...] | None = None):
    """Sample an arch, record its table row as user attributes, return the searched column(s)."""
    arch = space.sample(trial)
    row = table.lookup(space.describe(arch))
    trial.set_user_attr("arch", arch)
    trial.set_user_attr("metrics", dict(row))
    if columns and len(columns) > 1:
        return tuple(row[c] for c in columns)
    return row[table.metric]


def parse_table_objectives(bench: dict) -> list[tuple[str, str]]:
    """`benchmark.objectives=[valid_acc:max,latency_ms_pixel3:min]` (columns of the table), else benchmark.metric."""
    spec = bench.get("objectives")
    if not spec:
        return [(bench["metric"], "maximize" if bench.get("direction", "max") == "max" else "minimize")]
    if isinstance(spec, str):
        spec = [spec]
    out = []
    for item in spec:
        name, _, direction = str(item).partition(":")
        if not name.strip() or direction.strip() not in ("max", "min"):
            raise ConfigError(f"benchmark.objectives: each item is <column>:max|min, got {item!r}")
        out.append((name.strip(), "maximize" if direction.strip() == "max" else "minimize"))
    if len({n for n, _ in out}) != len(out):
        raise ConfigError(f"benchmark.objectives: a column is named twice in {list(spec)}")
    return out


def settings_of(settings: dict) -> dict:
    """The `benchmark` section, checked."""
    bench = settings.get("benchmark") or {}
    if not bench.get("table"):
        raise ConfigError("evaluator=tabular needs benchmark.table=PATH (a CSV with an 'arch' column, e.g. "
                          "the NAS-Bench-201 table nb201_cifar10.csv)")
    for key in ("metric", "report_metric"):
        if not isinstance(bench.get(key), str) or not bench[key]:
            raise ConfigError(f"benchmark.{key} must name a column of the table, got {bench.get(key)!r}")
    if bench.get("direction", "max") not in ("max", "min"):
        raise ConfigError(f"benchmark.direction must be max or min, got {bench.get('direction')!r}")
    return bench


def run_tabular_job(settings: dict, run_dir: Path, summary: dict, reporter) -> None:
    """Search with table look-ups; summary.json gets the chosen arch and its report metric."""
    from nas_cli.spaces import build_space
    from nas_cli.study.setup import open_study
    from nas_cli.study.summary import count_trials
    bench = settings_of(settings)
    t0 = time.perf_counter()
    objectives = parse_table_objectives(bench)
    metric = objectives[0][0]
    table = TabularBenchmark(Path(bench["table"]).expanduser(), metric, bench["report_metric"],
                             extra=tuple(n for n, _ in objectives[1:]))
    sp = dict(settings["search_space"])
    space = build_space(sp.pop("name"), spec=None, **sp)
    summary["objectives"] = [f"{n}:{'max' if d == 'maximize' else 'min'}" for n, d in objectives]
    summary["evaluator"] = {"name": "tabular", "table": str(table.path.resolve()), "rows": len(table.rows),
                            "metric": table.metric, "report_metric": table.report_metric}
    study = open_study(settings, objectives, run_dir, summary)
    summary["timings"]["setup_seconds"] = time.perf_counter() - t0
    from optuna.trial import TrialState

    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)))
    remaining = max(0, int(settings["study"]["n_trials"]) - done)
    if settings["study"].get("enqueue") is not None:  # given parameter sets first
        from nas_cli.study.enqueue import enqueue_from_config

        summary["enqueue"] = enqueue_from_config(settings, study, space.sample, remaining, reporter)
    reporter.info(f"search: {summary['search_space']} space, tabular look-ups in {table.path.name}, "
                  f"{summary['strategy']}, {remaining} trial(s) to run ({done} already in the study)")
    t1 = time.perf_counter()
    reporter.start(done)
    from nas_cli import signals

    try:
        if remaining:  # Ctrl-C: the look-up in progress is recorded, no new one starts (microseconds)
            with signals.graceful_stop():
                signals.optimize(study, lambda t: tabular_objective(t, space, table, tuple(n for n, _ in objectives)),
                                 n_trials=remaining, timeout=settings["study"]["timeout"],
                                 callbacks=[reporter.trial_done, signals.stop_callback],
                                 gc_after_trial=False, show_progress_bar=False)
    finally:
        reporter.stop()
        summary["timings"]["search_seconds"] = time.perf_counter() - t1
        summary["trials"] = count_trials(study)
    signals.raise_if_stopped()
    if len(objectives) > 1:
        from nas_cli.deploy.selection import report_pareto

        report_pareto(study, objectives, run_dir, summary, reporter)
        summary["best_trials"] = summary["pareto_front"]
        summary["tabular"] = {"pareto": [
            {"trial": r["number"], "arch": space.describe(r["arch"]), **r["values"],
             table.report_metric: table.lookup(space.describe(r["arch"]))[table.report_metric]}
            for r in summary["pareto_front"]]}
        return
    best = study.best_trial
    row = table.lookup(space.describe(best.user_attrs["arch"]))
    summary["best_trials"] = [{"number": best.number, "values": {table.metric: best.value}, "params": best.params,
                               "arch": best.user_attrs["arch"], "metrics": row,
                               "description": space.describe(best.user_attrs["arch"])}]
    summary["tabular"] = {"selected_trial": best.number, "arch": space.describe(best.user_attrs["arch"]),
                          table.metric: row[table.metric], table.report_metric: row[table.report_metric],
                          "best_in_table": {table.report_metric: max(r[table.report_metric] for r in table.rows.values())}}
    reporter.info(f"selected trial {best.number}: {summary['tabular']['arch']} "
                  f"{table.metric} {row[table.metric]:.4f}, {table.report_metric} {row[table.report_metric]:.4f}")
