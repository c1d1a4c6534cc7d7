"""Compressed export variants: each loads in ONNX Runtime, and its measured accuracy/size/latency is recorded."""

from __future__ import annotations

import json

import pytest

from tests.conftest import TINY

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small CNN trained a few epochs on digits, its fp32 ONNX file, and a trial context."""
    import torch

    from nas_cli.data import load_dataset
    from nas_cli.spaces import build_space
    from nas_cli.trial.cost import export_onnx_bytes
    from nas_cli.trial.fit import Hparams, fit
    from nas_cli.trial.objective import TrialContext

    torch.manual_seed(0)
    data = load_dataset("digits")
    space = build_space("cnn", spec=data.spec)
    arch = {"layers": [{"filters": 16, "kernel": 3, "pool": "max"}, {"filters": 32, "kernel": 3, "pool": "none"}],
            "activation": "relu", "batch_norm": False, "dropout": 0.0, "dense_units": 64}
    model = space.build(arch, data.spec)
    hp = Hparams(lr=3e-3, batch_size=64)
    fit(model, data, hp, 4, seed=0)
    out = tmp_path_factory.mktemp("export") / "model.onnx"
    out.write_bytes(export_onnx_bytes(model, data.spec.input_shape))
    ctx = TrialContext(space=space, data=data, train={"max_batches": None}, run_dir=out.parent, seed=0,
                       objectives=[("accuracy", "maximize")], device=torch.device("cpu"))
    return model.eval(), hp, out, ctx


def _opts():
    return {"batch_size": 8, "repeats": 3, "warmup": 1, "threads": 1}


def test_every_variant_loads_in_onnxruntime_and_its_accuracy_is_recorded(trained):
    import onnxruntime as ort

    from nas_cli.deploy.compress import export_variants, onnx_score

    model, hp, fp32, ctx = trained
    ex = {"quantize": "static", "calibration_samples": 128, "prune": 0.5, "prune_epochs": 1, "max_accuracy_drop": 0.05}
    out = export_variants(model, ctx, hp, fp32, ex, _opts())
    names = [r["variant"] for r in out["variants"]]
    assert names == ["fp32", "int8_static", "pruned_0.5"]
    base = out["variants"][0]
    assert base["test_accuracy"] > 0.8  # the model really learned; variants are compared against this
    for row in out["variants"]:
        sess = ort.InferenceSession(row["file"], providers=["CPUExecutionProvider"])
        assert onnx_score(sess, ctx.data.test_x, ctx.data.test_y) == pytest.approx(row["test_accuracy"])
        assert row["size_bytes"] > 0 and row["latency_ms_b1"] > 0 and row["latency_ms_b8"] > 0
        assert row["accuracy_drop"] == pytest.approx(base["test_accuracy"] - row["test_accuracy"], abs=1e-6)
        if row["accuracy_drop"] > 0.05:
            assert not row["recommended"] and "export.max_accuracy_drop" in row["reason"]
        elif not row["recommended"]:  # within the budget, so only a measured slowdown can rule it out
            assert "slower" in row["reason"]
    pruned = out["variants"][2]
    assert 0.45 <= pruned["sparsity"] <= 0.55  # half the conv/linear weights are zero in the exported file
    assert out["variants"][1]["size_ratio"] < 0.5  # int8 weights


def test_dynamic_quantization_writes_an_int8_model(trained):
    import onnx

    from nas_cli.deploy.compress import quantize

    model, hp, fp32, ctx = trained
    path = quantize(fp32, "dynamic", ctx.data, 16)
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert ops & {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "DynamicQuantizeMatMul"}


def test_a_variant_over_the_accuracy_budget_is_not_recommended():
    from nas_cli.deploy.compress import judge

    rows = [{"variant": "fp32", "test_accuracy": 0.95, "size_bytes": 1000, "latency_ms_b1": 1.0, "latency_ms_b8": 4.0},
            {"variant": "int8_static", "test_accuracy": 0.90, "size_bytes": 300, "latency_ms_b1": 0.5,
             "latency_ms_b8": 2.0},
            {"variant": "int8_dynamic", "test_accuracy": 0.95, "size_bytes": 1200, "latency_ms_b1": 2.0,
             "latency_ms_b8": 8.0}]
    judge(rows, max_drop=0.01, batch_size=8)
    assert rows[0]["recommended"]
    assert not rows[1]["recommended"] and "export.max_accuracy_drop=0.01" in rows[1]["reason"]
    assert not rows[2]["recommended"] and "slower" in rows[2]["reason"]  # measured, not assumed


@pytest.mark.slow
def test_search_exports_variants_into_summary_and_model_card(compose_cfg, tmp_path):
    from nas_cli.study.runner import run_study

    cfg = compose_cfg([*TINY, "export.quantize=dynamic", "export.prune=0.3", "export.prune_epochs=1",
                       "export.torch_export=false"])
    assert run_study(cfg, tmp_path / "run") == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    variants = summary["export"]["variants"]
    assert [v["variant"] for v in variants] == ["fp32", "int8_dynamic", "pruned_0.3"]
    card = (tmp_path / "run" / "export" / "model_card.md").read_text()
    assert "Compressed variants" in card and "int8_dynamic" in card
