"""Tabular mode: `nas search search_space=nb201 evaluator=tabular benchmark.table=PATH` end to end."""

from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import only_run_dir

OPS = ["none", "nor_conv_3x3"]  # a 2-op nb201 space: 64 cells, small enough for a test table
BASE = ["search", "search_space=nb201", "search_space.ops=[none,nor_conv_3x3]", "evaluator=tabular", "verbosity=0"]


def write_table(path: Path, drop: int = 0, columns=("index", "arch", "valid_acc", "test_acc")) -> dict:
    from nas_cli.spaces.nb201 import ops_to_string

    rows = {}
    for i, ops in enumerate(itertools.product(OPS, repeat=6)):
        convs = sum(op == "nor_conv_3x3" for op in ops)
        rows[ops_to_string(ops)] = {"index": i, "valid_acc": 80.0 + convs + 0.1 * (ops[3] == "none"),
                                    "test_acc": 82.0 + convs - 0.05 * i / 64}
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        for arch, r in list(rows.items())[drop:]:
            w.writerow([{"arch": arch, **r}[c] for c in columns])
    return rows


def test_tabular_search_end_to_end_reports_test_acc_of_the_chosen_arch(nas, tmp_path):
    rows = write_table(tmp_path / "table.csv")
    res = nas([*BASE, f"benchmark.table={tmp_path / 'table.csv'}", "strategy=local", "study.n_trials=40"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    run = only_run_dir(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed"
    chosen = summary["tabular"]["arch"]
    assert summary["tabular"]["test_acc"] == rows[chosen]["test_acc"]
    best_valid = max(r["valid_acc"] for r in rows.values())
    assert summary["tabular"]["valid_acc"] == best_valid  # 40 of 64 cells: local search finds the top
    assert summary["trials"]["complete"] == 40
    assert summary["evaluator"]["rows"] == 64
    assert "finetune" not in summary and "export" not in summary and not (run / "export").exists()


def test_tabular_search_does_not_import_torch(tmp_path):
    write_table(tmp_path / "table.csv")
    code = ("import sys; from nas_cli.cli import main; "
            f"rc = main([*{BASE!r}, 'benchmark.table={tmp_path / 'table.csv'}', 'study.n_trials=5', "
            "'strategy=evolution']); print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', rc)")
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.stdout.strip().splitlines()[-1] == "NO-TORCH 0", res.stdout + res.stderr


@pytest.mark.parametrize("case,needle", [
    ("missing", "no such file"),
    ("no_column", "missing column(s) ['valid_acc']"),
    ("not_numeric", "must be numbers"),
    ("absent_arch", "has no row for arch"),
    ("unset", "needs benchmark.table=PATH"),
])
def test_bad_tables_are_clear_config_errors(nas, tmp_path, case, needle):
    path = tmp_path / "table.csv"
    if case == "no_column":
        write_table(path, columns=("arch", "test_acc"))
    elif case == "not_numeric":
        write_table(path)
        path.write_text(path.read_text().replace(",8", ",x8", 1))
    elif case == "absent_arch":
        write_table(path, drop=40)
    args = [*BASE, "study.n_trials=30", "strategy=random"]
    if case != "unset":
        args.append(f"benchmark.table={path}")
    res = nas(args, cwd=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert needle in res.stderr and "Traceback" not in res.stderr


def test_tabular_benchmark_lookup_api(tmp_path):
    from nas_cli.errors import ConfigError
    from nas_cli.study.tabular import TabularBenchmark

    rows = write_table(tmp_path / "t.csv")
    table = TabularBenchmark(tmp_path / "t.csv")
    arch = next(iter(rows))
    assert table.lookup(arch)["test_acc"] == rows[arch]["test_acc"]
    with pytest.raises(ConfigError, match="no row"):
        table.lookup("|bogus~0|")
    with pytest.raises(ConfigError, match="benchmark.metric"):
        TabularBenchmark(tmp_path / "t.csv", metric="acc")


def test_table_latency_column_as_a_second_objective(nas, tmp_path):
    """benchmark.objectives makes a 2-objective study over table columns; the Pareto front is saved."""
    rows = write_table(tmp_path / "t.csv")
    with (tmp_path / "t.csv").open() as fh:  # add a latency column: more convs, more latency
        table = list(csv.DictReader(fh))
    with (tmp_path / "lat.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=[*table[0], "latency_ms_pixel3"])
        w.writeheader()
        for r in table:
            w.writerow({**r, "latency_ms_pixel3": 1.0 + 2.0 * r["arch"].count("nor_conv_3x3")})
    res = nas([*BASE, f"benchmark.table={tmp_path / 'lat.csv'}", "benchmark.objectives=[valid_acc:max,latency_ms_pixel3:min]",
               "strategy=nsga2", "study.n_trials=30"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    run = only_run_dir(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    front = summary["pareto_front"]
    assert len(front) >= 2 and (run / "pareto.png").stat().st_size > 0
    for a in front:  # no front member is dominated by another
        for b in front:
            assert not (b["values"]["valid_acc"] > a["values"]["valid_acc"]
                        and b["values"]["latency_ms_pixel3"] < a["values"]["latency_ms_pixel3"])
    assert all(p["test_acc"] == rows[p["arch"]]["test_acc"] for p in summary["tabular"]["pareto"])
    bad = nas([*BASE, f"benchmark.table={tmp_path / 'lat.csv'}", "benchmark.objectives=[valid_acc:up]"], cwd=tmp_path)
    assert bad.returncode == 2 and "benchmark.objectives" in bad.stderr


def test_ctrl_c_in_tabular_mode_records_every_trial_and_resume_finishes(nas, tmp_path, monkeypatch):
    """Look-ups take microseconds, so Optuna's bookkeeping is most of the time: a Ctrl-C must not leave a
    trial RUNNING. The look-up in progress is recorded, the run exits 130, and `nas resume` completes it."""
    import os
    import signal

    from hydra.core.global_hydra import GlobalHydra

    import nas_cli.study.tabular as tabular_mod
    from nas_cli.commands.search import search_command

    write_table(tmp_path / "table.csv")
    real, calls = tabular_mod.tabular_objective, []

    def lookup_then_ctrl_c(*args):
        calls.append(1)
        if len(calls) == 5:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args)

    monkeypatch.setattr(tabular_mod, "tabular_objective", lookup_then_ctrl_c)
    GlobalHydra.instance().clear()
    code = search_command([*BASE[1:], f"benchmark.table={tmp_path / 'table.csv'}", "study.n_trials=20",
                           f"runs_dir={tmp_path / 'runs'}"])
    assert code == 130
    run = only_run_dir(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert summary["trials"]["total"] == summary["trials"]["complete"] == 5  # none left RUNNING, none started after

    monkeypatch.setattr(tabular_mod, "tabular_objective", real)
    res = nas(["resume", str(run)], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["trials"]["complete"] == 20
