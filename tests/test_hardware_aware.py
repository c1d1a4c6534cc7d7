"""Cost on the deployment runtime, constraints before training, multi-objective studies."""

from __future__ import annotations

import json

import pytest

from tests.conftest import TINY

pytestmark = pytest.mark.filterwarnings("ignore")


def _run(compose_cfg, tmp_path, overrides):
    from nas_cli.study.runner import run_study

    cfg = compose_cfg([*TINY, f"runs_dir={tmp_path}", *overrides])
    code = run_study(cfg, tmp_path / "run")
    return code, json.loads((tmp_path / "run" / "summary.json").read_text())


def test_cost_measures_latency_memory_on_both_runtimes():
    import torch

    from nas_cli.trial.cost import measure_cost

    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(8 * 8 * 8, 10))
    weights_mb = sum(p.numel() * 4 for p in model.parameters()) / 2**20
    for runtime in ("onnxruntime", "torch"):
        cost = measure_cost(model, (1, 8, 8), runtime=runtime, batch_sizes=(1, 16), repeats=5, warmup=1, threads=1)
        assert cost["latency_runtime"] == runtime and cost["latency_threads"] == 1
        for bs in (1, 16):
            assert 0 < cost[f"latency_ms_b{bs}"] <= cost[f"latency_p90_ms_b{bs}"]
        assert cost["latency_ms"] == cost["latency_ms_b1"]
        assert cost["params"] == 8 * 9 + 8 + 512 * 10 + 10
        assert cost["flops"] > 0
        # weights plus at least the conv output (8x8x8 floats) are alive at the peak
        assert cost["memory_mb"] >= weights_mb + 8 * 8 * 8 * 4 / 2**20


def test_infeasible_architectures_are_rejected_before_training(compose_cfg, tmp_path):
    code, summary = _run(compose_cfg, tmp_path, ["constraints.max_params=10", "constraints.max_rejected=4"])
    assert code != 0
    assert summary["status"] == "failed"
    assert "no feasible architecture" in summary["error"] and "constraints.max_params=10" in summary["error"]
    assert summary["constraints"]["rejected"] == 2 + 4  # n_trials (2) + max_rejected (4), none trained
    assert summary["trials"]["rejected"] == 6 and summary["trials"]["pruned"] == 0  # not early-stopped ones
    import optuna

    from nas_cli.study.storage import open_storage

    study = optuna.load_study(study_name="nas", storage=open_storage(summary["storage"]))
    for t in study.trials:
        assert t.state == optuna.trial.TrialState.PRUNED
        assert t.constraints["max_params"] > 0  # the sampler sees the violation
        assert "params" in t.user_attrs["infeasible"]
        tdir = tmp_path / "run" / "trials" / str(t.number)
        assert not (tdir / "metrics.jsonl").exists()  # no epoch was trained
        assert json.loads((tdir / "result.json").read_text())["state"] == "INFEASIBLE"
        assert "memory_mb" not in json.loads((tdir / "result.json").read_text())["cost"]  # stopped at params


def test_feasible_trials_are_trained_and_rejected_ones_do_not_use_up_n_trials(compose_cfg, tmp_path):
    code, summary = _run(compose_cfg, tmp_path, ["constraints.max_params=60000", "finetune.enabled=false",
                                                 "study.n_trials=2"])
    assert code == 0, summary.get("error")
    trained = summary["trials"]["complete"] + summary["trials"]["failed"]
    assert trained == 2
    assert summary["trials"]["total"] == 2 + summary["constraints"]["rejected"]
    assert summary["trials"]["rejected"] == summary["constraints"]["rejected"]
    for row in summary["best_trials"]:
        assert row["metrics"]["params"] <= 60000
        assert {"latency_ms", "latency_p90_ms_b1", "memory_mb", "latency_runtime"} <= set(row["metrics"])


def _check_front(summary, run):
    assert summary["objectives"] == ["accuracy:max", "latency_ms:min"]
    assert summary["pruning"].startswith("off")
    front = summary["pareto_front"]
    assert front and all(set(r["values"]) == {"accuracy", "latency_ms"} for r in front)
    for a in front:  # no point of the front dominates another
        for b in front:
            assert not (a["values"]["accuracy"] >= b["values"]["accuracy"]
                        and a["values"]["latency_ms"] <= b["values"]["latency_ms"] and a["values"] != b["values"])
    assert (run / "pareto.png").stat().st_size > 1000
    assert summary["finetune"]["select"] == "pareto"
    assert {m["trial"] for m in summary["finetune"]["models"]} <= {r["number"] for r in front}
    return front


def test_two_objective_study_writes_pareto_front(compose_cfg, tmp_path):
    code, summary = _run(compose_cfg, tmp_path, ["objectives=[accuracy:max,latency_ms:min]", "study.n_trials=3",
                                                 "export.enabled=false"])
    assert code == 0, summary.get("error")
    _check_front(summary, tmp_path / "run")
    assert "test" in summary["finetune"]["models"][0]
    import numpy as np

    with np.load(tmp_path / "run" / "test_outputs.npz") as saved:  # the first pick's, for the report's plots
        assert saved["logits"].shape[0] == saved["targets"].shape[0] > 0
        accuracy = float((saved["logits"].argmax(1) == saved["targets"]).mean())
    assert accuracy == pytest.approx(summary["finetune"]["test"]["accuracy"], abs=1e-6)


@pytest.mark.slow
def test_two_objective_study_exports_each_pick(compose_cfg, tmp_path):
    code, summary = _run(compose_cfg, tmp_path, ["objectives=[accuracy:max,params:min]", "study.n_trials=4",
                                                 "finetune.top_k=2", "export.torch_export=false"])
    assert code == 0, summary.get("error")
    assert len(summary["export"]["models"]) == len(summary["finetune"]["models"])
    for m in summary["export"]["models"]:
        assert (tmp_path / "run" / "export" / f"trial_{m['trial']}" / "model.onnx").is_file()


def test_knee_and_best_metric_selection():
    import optuna

    from nas_cli.deploy.selection import select_for_finetune
    from nas_cli.tasks import get_task

    study = optuna.create_study(directions=["maximize", "minimize"])
    points = [(0.5, 1.0), (0.9, 2.0), (0.95, 8.0), (0.96, 20.0), (0.4, 5.0)]
    for acc, lat in points:
        t = study.ask()
        t.set_user_attr("metrics", {"accuracy": acc, "latency_ms": lat, "params": int(lat * 1000)})
        study.tell(t, (acc, lat))
    objectives = [("accuracy", "maximize"), ("latency_ms", "minimize")]
    rule, knee = select_for_finetune(study, objectives, "knee", 3, get_task(None).objectives())
    assert rule == "knee" and [t.values for t in knee] == [[0.9, 2.0]]
    rule, pareto = select_for_finetune(study, objectives, "pareto", 10, get_task(None).objectives())
    assert sorted(tuple(t.values) for t in pareto) == sorted(points[:4])
    rule, best = select_for_finetune(study, objectives, "best:params", 2, get_task(None).objectives())
    assert rule == "best:params" and [t.values[1] for t in best] == [1.0, 2.0]


@pytest.mark.parametrize("override, needle", [
    ("constraints.max_params=-5", "constraints.max_params"),
    ("finetune.select=bogus", "finetune.select"),
    ("hardware.latency_runtime=tensorrt", "hardware.latency_runtime"),
    ("export.quantize=int4", "export.quantize"),
    ("export.prune=1.5", "export.prune"),
])
def test_bad_cost_keys_are_config_errors(compose_cfg, tmp_path, override, needle):
    code, summary = _run(compose_cfg, tmp_path, [override])
    assert code == 2 and summary["status"] == "config_error"
    assert needle in summary["error"]


def test_a_metric_objective_outside_the_epoch_metrics_is_what_the_pruner_sees(compose_cfg, tmp_path):
    """objectives=[auc:max]: each epoch's validation computes AUC, and the trial reports it (not accuracy)."""
    import optuna

    from nas_cli.study.storage import open_storage

    code, summary = _run(compose_cfg, tmp_path, ["objectives=[auc:max]", "study.n_trials=2", "train.epochs=2"])
    assert code == 0, summary.get("error")
    study = optuna.load_study(study_name="nas", storage=open_storage(summary["storage"]))
    for t in study.trials:
        records = [json.loads(line) for line in
                   (tmp_path / "run" / "trials" / str(t.number) / "metrics.jsonl").read_text().splitlines()]
        assert [r["val_auc"] for r in records] == [t.intermediate_values[r["epoch"]] for r in records]
        assert any(r["val_auc"] != r["val_accuracy"] for r in records)
