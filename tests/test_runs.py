"""`nas ls` and `nas show`: finished, interrupted and summary-less runs are listed correctly."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from tests.conftest import TINY, only_run_dir, run_nas


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """runs/ with a finished run, an interrupted one (summary as run_study writes it on Ctrl-C, an hour
    later) and one with no summary.json (killed: only config.yaml and trials/), two hours earlier."""
    root = tmp_path_factory.mktemp("runs")
    proc = run_nas(["search", *TINY, "export.onnx=false", "export.torch_export=false"], cwd=root)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    finished = only_run_dir(root)
    summary = json.loads((finished / "summary.json").read_text())

    interrupted = root / "runs" / "2099-01-01_00-00-00_interrupted"
    shutil.copytree(finished, interrupted)
    shutil.rmtree(interrupted / "export")
    shutil.rmtree(interrupted / "trials" / "1")
    cut = {k: v for k, v in summary.items() if k not in ("finetune", "export", "robustness")}
    cut.update(status="interrupted", started_at=summary["started_at"] + 3600,
               trials={"total": 1, "complete": 1, "pruned": 0, "failed": 0, "running": 0},
               best_trials=[r for r in summary["best_trials"] if r["number"] == 0])
    (interrupted / "summary.json").write_text(json.dumps(cut))

    killed = root / "runs" / "2000-01-01_00-00-00_killed"
    killed.mkdir()
    shutil.copy(finished / "config.yaml", killed / "config.yaml")
    shutil.copytree(finished / "trials", killed / "trials")
    old = time.time() - 7200
    for path in [killed / "config.yaml", *killed.glob("trials/*/*")]:
        os.utime(path, (old, old))
    return root, finished, interrupted, killed, summary


def _rows(stdout: str) -> list[list[str]]:
    lines = stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["name", "date", "dataset"]
    return [line.split() for line in lines[1:]]


def test_ls_lists_finished_and_interrupted_runs_newest_first(runs_root, nas):
    root, finished, interrupted, killed, summary = runs_root
    proc = nas(["ls"], cwd=root)  # default DIR: ./runs
    assert proc.returncode == 0, proc.stderr
    rows = _rows(proc.stdout)
    assert [r[0] for r in rows] == [interrupted.name, finished.name, killed.name]
    by_name = {r[0]: r for r in rows}
    best = summary["best_trials"][0]["values"]["accuracy"]
    # name, date, time, dataset, space, strategy, trials, best, status
    assert by_name[finished.name][3:] == ["digits", "cnn", "tpe", "2/2", f"accuracy={best:.4g}", "completed"]
    first = [r for r in summary["best_trials"] if r["number"] == 0][0]["values"]["accuracy"]
    assert by_name[interrupted.name][3:] == ["digits", "cnn", "tpe", "1/2", f"accuracy={first:.4g}", "interrupted"]
    # No summary.json: listed from config.yaml and trials/, not touched for two hours.
    assert by_name[killed.name][3:] == ["digits", "cnn", "tpe", "2/2", f"accuracy={best:.4g}", "incomplete"]


def test_a_summary_less_run_that_is_still_writing_is_running(runs_root, tmp_path):
    from nas_cli.report.runs import describe_run

    _, finished, _, _, _ = runs_root
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(finished / "config.yaml", live / "config.yaml")
    shutil.copytree(finished / "trials", live / "trials")
    (live / "trials" / "1" / "result.json").unlink()  # trial 1 is still training
    row = describe_run(live)
    assert row["status"] == "running" and row["trials"] == "1/2"


def test_ls_handles_empty_and_missing_dirs(tmp_path, nas):
    (tmp_path / "empty").mkdir()
    proc = nas(["ls", "empty"], cwd=tmp_path)
    assert proc.returncode == 0 and "no runs under empty" in proc.stdout
    proc = nas(["ls", "missing"], cwd=tmp_path)
    assert proc.returncode == 2 and "missing: no such directory" in proc.stderr


def test_show_prints_the_runs_summary(runs_root, nas):
    root, finished, interrupted, _, summary = runs_root
    proc = nas(["show", str(finished)], cwd=root)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "completed" in out and "Top trials" in out and "Robustness" in out
    assert f"{summary['finetune']['test']['accuracy']:.4g}" in out
    assert f"{summary['robustness']['fgsm_accuracy']:.4g}" in out
    assert "nas report" in out  # no report yet: says how to write one
    proc = nas(["show", str(interrupted)], cwd=root)
    assert proc.returncode == 0 and "interrupted" in proc.stdout and "Selected model" not in proc.stdout
    proc = nas(["show", str(root)], cwd=root)
    assert proc.returncode == 2 and "not a nas run directory" in proc.stderr


@pytest.mark.slow
def test_ls_shows_a_run_interrupted_by_ctrl_c(tmp_path):
    """A real Ctrl-C (SIGINT) in the middle of a search: the run is listed as interrupted with its trials."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("nas")
    args = [a for a in TINY if not a.startswith(("verbosity", "study.n_trials"))]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([str(exe), "search", *args, "study.n_trials=200", "verbosity=1"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("trial 1 "):  # two trials finished
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    ls = run_nas(["ls"], cwd=tmp_path)
    (row,) = _rows(ls.stdout)
    done, total = row[6].split("/")
    assert row[-1] == "interrupted" and total == "200" and 2 <= int(done) < 200, row
    assert row[7].startswith("accuracy=")
