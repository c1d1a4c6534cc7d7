"""Long trials: a Ctrl-C and train.trial_timeout stop inside an epoch, the epoch-time estimate before
training (and constraints.max_epoch_seconds on it), progress lines inside an epoch, the CPU hint."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests.test_reliability import load_trials, run_in_process

# The test-double network sleeps 0.2 s per training batch: 36 batches of 32 digits = a 7 s epoch.
LONG_EPOCH = ["train.max_batches=null", "train.batch_size=32", "train.epochs=2"]


def test_first_ctrl_c_stops_inside_the_epoch_and_resume_retries(compose_cfg, tmp_path):
    run = tmp_path / "run"
    code, summary = run_in_process(compose_cfg, run, ["study.n_trials=2", *LONG_EPOCH], ["slow_signal", "ok"])
    assert code == 130 and summary["status"] == "interrupted"
    first = load_trials(run / "study.journal")[0]
    reason = first.user_attrs["fail_reason"]
    assert reason.startswith("interrupted: SIGINT in epoch 1 at batch "), reason
    at = first.user_attrs["stopped_at"]
    assert at["epoch"] == 1 and at["batches"] == 36 and 3 <= at["batch"] <= 8, at  # the signal came at batch 3
    assert reason.endswith(f"at batch {at['batch']}/36")
    assert not (run / "trials" / "0" / "metrics.jsonl").exists()  # no epoch finished
    assert json.loads((run / "trials" / "0" / "result.json").read_text())["reason"] == reason

    code, summary = run_in_process(compose_cfg, run, ["study.n_trials=2", "train.epochs=1"], ["ok"])
    assert code == 0, summary.get("error")
    assert summary["recovered"]["retried"] == [0]
    assert [t.state.name for t in load_trials(run / "study.journal")] == ["FAIL", "COMPLETE", "COMPLETE"]


def test_first_ctrl_c_stops_inside_a_long_validation_pass(compose_cfg, tmp_path):
    from tests.doubles import VALIDATION_WAITS

    run = tmp_path / "run"
    VALIDATION_WAITS["done"] = 0
    code, summary = run_in_process(compose_cfg, run, ["study.n_trials=1", "train.epochs=1", "train.batch_size=32",
                                                       "train.max_batches=4"], ["slow_validation"])
    assert code == 130 and summary["status"] == "interrupted"
    first = load_trials(run / "study.journal")[0]
    assert first.user_attrs["stopped_at"] == {"epoch": 1, "batch": 4, "batches": 4}  # every batch ran: validation
    assert first.user_attrs["fail_reason"] == "interrupted: SIGINT in epoch 1 at batch 4/4"
    assert VALIDATION_WAITS["done"] < 15, VALIDATION_WAITS  # the 30 layers of 0.1 s were not all waited for


def test_trial_timeout_stops_inside_the_epoch(compose_cfg, tmp_path):
    run = tmp_path / "run"
    code, summary = run_in_process(compose_cfg, run, ["study.n_trials=2", "train.trial_timeout=1", *LONG_EPOCH],
                                   ["slow", "ok"])
    assert code == 0, summary.get("error")
    first = load_trials(run / "study.journal")[0]
    assert first.state.name == "FAIL"
    assert first.user_attrs["fail_reason"].startswith("trial exceeded train.trial_timeout in epoch 1 at batch ")
    assert 1 <= first.user_attrs["stopped_at"]["batch"] < 36
    assert summary["trials"]["complete"] == 1


def test_every_trial_records_its_estimated_and_measured_epoch_time(compose_cfg, tmp_path):
    run = tmp_path / "run"
    code, summary = run_in_process(compose_cfg, run, ["study.n_trials=4", "search_space=cnn"])
    assert code == 0, summary.get("error")
    trials = load_trials(run / "study.journal")
    how = [t.user_attrs["epoch_timing"]["calibration"] for t in trials]
    assert how == ["probe", "probe scaled on 1 trial(s)", "probe scaled on 2 trial(s)", "fitted on 3 trial(s)"]
    for t in trials:
        timing, metrics = t.user_attrs["epoch_timing"], t.user_attrs["metrics"]
        assert timing["estimated_seconds"] > 0 and timing["measured_seconds"] > 0
        assert timing["work"]["train_batches"] == 3  # TINY: train.max_batches=3
        assert metrics["epoch_seconds_est"] == timing["estimated_seconds"]
        assert metrics["epoch_seconds"] == timing["measured_seconds"]


def test_max_epoch_seconds_rejects_before_training(compose_cfg, tmp_path):
    run = tmp_path / "run"
    code, summary = run_in_process(compose_cfg, run, ["study.n_trials=2", "search_space=cnn",
                                                       "constraints.max_epoch_seconds=1e-6",
                                                       "constraints.max_rejected=3"])
    assert code == 1 and summary["status"] == "failed", summary
    assert "no feasible architecture" in summary["error"] and "constraints.max_epoch_seconds=1e-06" in summary["error"]
    trials = load_trials(run / "study.journal")
    assert len(trials) == 2 + 3  # n_trials + max_rejected, none trained
    for t in trials:
        assert t.state.name == "PRUNED" and "epoch_seconds_est" in t.user_attrs["infeasible"]
        assert t.constraints["max_epoch_seconds"] > 0  # visible to the sampler, like the other limits
        assert not (run / "trials" / str(t.number) / "metrics.jsonl").exists()  # never trained


@pytest.mark.parametrize("verbosity", [1, 2])
def test_plain_progress_prints_a_line_inside_a_long_epoch(compose_cfg, tmp_path, capsys, verbosity):
    code, summary = run_in_process(compose_cfg, tmp_path / "run",
                                   ["study.n_trials=1", f"verbosity={verbosity}", "progress_every=1", "train.epochs=2",
                                    "train.max_batches=12", "train.batch_size=32"], ["slow"])
    assert code == 0, summary.get("error")
    out = capsys.readouterr().out.splitlines()
    lines = [ln for ln in out if " batch " in ln]
    assert lines, "no progress line inside the 2.4 s epochs"
    assert lines[0].startswith("trial 0 epoch 1/2 batch ") and "/12 " in lines[0]
    assert "samples/s" in lines[0] and "trial ETA" in lines[0] and "study ETA" in lines[0]
    assert "(estimated " in lines[0] and "/epoch, measured " in lines[0]  # the estimate before training
    assert len(lines) <= 6  # at most one per progress_every=1 s
    epoch_lines = [ln for ln in out if ln.startswith("trial 0 epoch ") and " batch " not in ln]
    if verbosity == 2:  # chatty: one line per epoch as well, in order with the heartbeat lines
        assert [ln.split()[3] for ln in epoch_lines] == ["1/2", "2/2"], epoch_lines
        assert out.index(lines[0]) < out.index(epoch_lines[0])
    else:
        assert epoch_lines == []


def test_reporter_eta_uses_measured_throughput(capsys):
    from nas_cli.study.progress import Reporter

    rep = Reporter(n_trials=3, verbosity=1, live=False, every=0)
    rep.batch(0, {"epoch": 1, "epochs": 2, "batch": 10, "batches": 40, "seconds": 5.0, "estimate": 21.0,
                  "batch_size": 32})
    line = capsys.readouterr().out.strip()
    # 2 batches/s: 15 s left in this epoch + 20 s for the next; 2 more trials of 40 s each (this one)
    assert line == ("trial 0 epoch 1/2 batch 10/40 64 samples/s, trial ETA 35s, study ETA 1m55s "
                    "(estimated 21s/epoch, measured 20s)")


def test_estimator_calibration():
    from nas_cli.trial.epoch_estimate import EpochEstimator, epoch_work

    work = epoch_work(1e6, n_train=1000, n_val=300, batch_size=100)
    assert work == {"batches": 11, "flops": 1e6 * 3300, "train_batches": 10}
    assert epoch_work(1e6, 1000, 300, 100, max_batches=2)["flops"] == 1e6 * (600 + 300)
    est = EpochEstimator(per_batch=1e-3, per_flop=1e-9)
    assert est.estimate(work) == pytest.approx(11e-3 + 3.3)
    est.observe(work, 2 * est.estimate(work))
    assert est.estimate(work) == pytest.approx(2 * (11e-3 + 3.3))  # one measurement scales the probe
    true = EpochEstimator(per_batch=4e-3, per_flop=2e-10)  # a machine unlike the probe's
    fitted = EpochEstimator(per_batch=1e-3, per_flop=1e-9)
    works = [epoch_work(f, 1000, 300, bs) for f, bs in [(1e5, 32), (1e7, 128), (3e6, 64), (5e7, 32)]]
    for w in works:
        fitted.observe(w, true.estimate(w))
    new = epoch_work(2e7, 1000, 300, 64)
    assert fitted.estimate(new) == pytest.approx(true.estimate(new), rel=1e-6)
    assert fitted.coefficients()[2] == "fitted on 4 trial(s)"


def test_from_study_counts_this_host_s_measured_trials_only():
    import optuna

    from nas_cli.trial.epoch_estimate import epoch_work, from_study

    study = optuna.create_study()
    work = epoch_work(1e6, 1000, 0, 100)
    for worker, timing in [("here:1:2", {"work": work, "measured_seconds": 9.0}),
                           ("elsewhere:1:2", {"work": work, "measured_seconds": 99.0}),
                           ("here:3:4", {"work": work, "estimated_seconds": 1.0})]:  # rejected: never measured
        trial = study.ask()
        trial.set_user_attr("worker", worker)
        trial.set_user_attr("epoch_timing", timing)
        study.tell(trial, 0.0)
    est = from_study({"per_batch": 1e-3, "per_flop": 1e-9}, study, "here")
    assert [o[2] for o in est.observed] == [9.0]


def test_cpu_hint_names_the_key_for_a_space_whose_largest_architectures_are_slow():
    from nas_cli.data import load_dataset
    from nas_cli.spaces import build_space
    from nas_cli.tasks import task_for
    from nas_cli.trial.epoch_estimate import EpochEstimator
    from nas_cli.trial.largest import candidate_architectures, cpu_hint

    data = load_dataset("digits")
    space = build_space("cnn", spec=data.spec)
    top = candidate_architectures(space)[0]
    assert [(layer["filters"], layer["kernel"], layer["pool"]) for layer in top["layers"]] == [(128, 7, "none")] * 4
    ctx = SimpleNamespace(space=space, data=data, seed=0, train={}, task=task_for(data.spec), extra={})
    slow = cpu_hint(ctx, EpochEstimator(per_batch=1e-3, per_flop=1e-9), 128)  # a machine at 1 GFLOP/s
    assert slow.startswith("hint: on this CPU the largest architectures of search_space=cnn would take about ")
    assert "constraints.max_epoch_seconds=600" in slow and "conv[128k7 128k7 128k7 128k7]" in slow
    assert cpu_hint(ctx, EpochEstimator(per_batch=1e-4, per_flop=1e-13), 128) is None  # fast enough
    ctx.extra["limits"] = {"max_epoch_seconds": 300.0}
    assert cpu_hint(ctx, EpochEstimator(per_batch=1e-3, per_flop=1e-9), 128) is None  # already limited


def test_fit_checks_inside_the_epoch_at_the_configured_interval(monkeypatch):
    import torch

    from nas_cli.data import load_dataset
    from nas_cli.errors import TrialStopped
    from nas_cli.trial import batch_checks
    from nas_cli.trial.fit import Hparams, fit

    data = load_dataset("digits")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    calls = []
    monkeypatch.setattr(batch_checks, "CHECK_SECONDS", 0.0)  # check after every batch
    fit(model, data, Hparams(lr=1e-3, batch_size=500), 1, on_batch=lambda *a: calls.append(a[:3]))
    assert calls[:3] == [(1, 1, 3), (1, 2, 3), (1, 3, 3)]  # after each training batch
    assert len(calls) > 3 and set(calls[3:]) == {(1, 3, 3)}  # then between the layers of the validation pass

    def stop(epoch, done, batches, seconds):
        if done == 2:
            raise TrialStopped("stop", {"epoch": epoch, "batch": done, "batches": batches})

    with pytest.raises(TrialStopped) as info:
        fit(model, data, Hparams(lr=1e-3, batch_size=500), 2, on_batch=stop)
    assert info.value.where == {"epoch": 1, "batch": 2, "batches": 3}


def test_the_entry_point_skips_python_finalisation_but_runs_exit_handlers_and_flushes(tmp_path):
    """`run` leaves with os._exit (Python's own teardown after torch took seconds after a Ctrl-C): the
    exit handlers still run (log files, temporary directories) and buffered output is not lost."""
    import subprocess
    import sys

    marker = tmp_path / "atexit.txt"
    code = ("import atexit, sys\n"
            f"atexit.register(lambda: open({str(marker)!r}, 'w').write('ran'))\n"
            "sys.stdout.write('buffered, no newline')\n"
            "sys.argv = ['nas', '--version']\n"
            "from nas_cli.cli import run\n"
            "run()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("buffered, no newline") and "nas " in proc.stdout
    assert marker.read_text() == "ran"


def test_a_feasible_trial_sets_each_constraint_once_without_optuna_warnings(compose_cfg, tmp_path):
    """The cost is checked after each stage (params and FLOPs, memory, latency, epoch estimate): a
    constraint value already set is not set again (Optuna would warn "already set" on the terminal)."""
    import warnings

    run = tmp_path / "run"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, summary = run_in_process(compose_cfg, run, ["study.n_trials=1", "search_space=cnn",
                                                           "constraints.max_flops=1e12",
                                                           "constraints.max_epoch_seconds=1e6"])
    assert code == 0, summary.get("error")
    assert not [w for w in caught if "already set" in str(w.message)], [str(w.message) for w in caught]
    trial = load_trials(run / "study.journal")[0]
    assert set(trial.constraints) == {"max_flops", "max_epoch_seconds"} and max(trial.constraints.values()) < 0


def test_live_view_shows_batches_samples_per_second_and_etas():
    from nas_cli.study.progress import Reporter

    rep = Reporter(n_trials=3, verbosity=1, live=True, every=60)
    rep.start()
    try:
        rep.batch(0, {"epoch": 1, "epochs": 2, "batch": 10, "batches": 40, "seconds": 5.0, "estimate": 21.0,
                      "batch_size": 32})
        description = rep._progress.tasks[0].description
    finally:
        rep.stop()
    assert description.startswith("trial 0 epoch 1/2 batch 10/40 64 samples/s, trial ETA 35s, study ETA 1m55s")
    assert "(estimated 21s/epoch, measured 20s)" in description
