"""CI gates: a run that misses a `gate.*` threshold exits 3 after saving everything.

A run that meets its gates exits 0: tests/test_report.py's run has gates set and checks that.
"""

from __future__ import annotations

import json

import pytest

from nas_cli.deploy.gate import check_gate
from tests.conftest import TINY, only_run_dir

FAST = [*TINY, "study.n_trials=1", "export.onnx=false", "export.torch_export=false"]


def _summary(accuracy=0.9, latency=1.5, params=50_000, finetuned=True) -> dict:
    best = {"number": 4, "metrics": {"accuracy": accuracy - 0.01, "latency_ms": latency, "params": params}}
    summary = {"best_trials": [best]}
    if finetuned:
        summary["finetune"] = {"selected_trial": 4, "test": {"accuracy": accuracy},
                               "cost": {"params": params, "latency_ms_batch1_torch": latency}}
    return summary


def test_no_gate_set_means_no_verdict():
    assert check_gate({"min_accuracy": None, "max_latency_ms": None, "max_params": None}, _summary()) is None
    assert check_gate(None, _summary()) is None


@pytest.mark.parametrize("gate, passed, needle", [
    ({"min_accuracy": 0.9}, True, ""),
    ({"min_accuracy": 0.95}, False, "accuracy 0.9 does not meet gate.min_accuracy=0.95"),
    ({"max_latency_ms": 1.5, "max_params": 50_000}, True, ""),
    ({"max_latency_ms": 1.0}, False, "gate.max_latency_ms=1"),
    ({"max_params": 10_000, "min_accuracy": 0.99}, False, "gate.max_params=10000"),
])
def test_gate_compares_the_selected_model(gate, passed, needle):
    result = check_gate({"min_accuracy": None, **gate}, _summary())
    assert result["passed"] is passed
    assert needle in result["reason"]
    assert "\n" not in result["reason"]
    assert len(result["checks"]) == len(gate)
    assert result["source"].startswith("fine-tuned trial 4")


def test_without_finetuning_the_gate_uses_the_best_trial_and_says_so():
    result = check_gate({"min_accuracy": 0.885}, _summary(finetuned=False))
    assert result["passed"] and "validation" in result["source"]
    result = check_gate({"min_accuracy": 0.5}, {"best_trials": []})
    assert not result["passed"] and "accuracy missing" in result["reason"]


def test_a_failing_gate_exits_3_after_everything_is_saved(nas, tmp_path):
    proc = nas(["search", *FAST, "gate.max_params=10", "gate.min_accuracy=0.0"], cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr + proc.stdout
    reason = [line for line in proc.stderr.splitlines() if "gate failed" in line]
    assert len(reason) == 1 and "params" in reason[0] and "gate.max_params=10" in reason[0], proc.stderr
    assert "Traceback" not in proc.stderr
    run = only_run_dir(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["gate"]["passed"] is False
    assert [c["passed"] for c in summary["gate"]["checks"]] == [True, False]  # min_accuracy, max_params
    assert (run / "export" / "model.pt").is_file() and (run / "export" / "model_card.md").is_file()
    assert "robustness" in summary


@pytest.mark.parametrize("override, needle", [
    ("gate.min_accuracy=1.5", "gate.min_accuracy"),
    ("gate.max_params=many", "gate.max_params"),
    ("robustness.fgsm_epsilon=-1", "robustness.fgsm_epsilon"),
])
def test_bad_gate_or_robustness_value_exits_2(override, needle, compose_cfg):
    from omegaconf import OmegaConf

    from nas_cli.errors import ConfigError
    from nas_cli.study.validate import validate

    settings = OmegaConf.to_container(compose_cfg([override]), resolve=True)
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")) as info:
        validate(settings)
    assert info.value.exit_code == 2
