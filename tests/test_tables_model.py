"""The table model seam without files: the MLP space's networks on packed and exported inputs, the
regression task, table robustness, and the ONNX export with named numeric/categorical inputs."""

from __future__ import annotations

import pytest
import torch

from nas_cli.data import DataSpec

SPEC = DataSpec(name="t", input_shape=(5,), num_classes=3, task="classification",
                table={"n_numeric": 3, "cardinalities": [4, 6], "numeric_names": ["a", "b", "b__missing"],
                       "categorical_names": ["c", "d"]})
REG = DataSpec(name="r", input_shape=(3,), num_classes=1, task="regression",
               table={"n_numeric": 3, "cardinalities": [], "numeric_names": ["a", "b", "c"],
                      "categorical_names": []}, target_scale=(150.0, 70.0))


def packed(spec, n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    f, cards = spec.table["n_numeric"], spec.table["cardinalities"]
    cols = [torch.randn((n, f), generator=g)]
    cols += [torch.randint(0, c, (n, 1), generator=g).float() for c in cards]
    return torch.cat(cols, 1)


def sample(space, seed=0):
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    trial = study.ask()
    return space.sample(trial), trial.params


@pytest.mark.parametrize("seed", range(6))
def test_mlp_space_builds_nets_that_take_packed_and_exported_inputs(seed):
    from nas_cli.spaces import build_space
    from nas_cli.tasks import get_task

    space = build_space("mlp", spec=SPEC)
    arch, params = sample(space, seed)
    assert ("widths" in arch) == (arch["kind"] == "mlp") and ("hidden_factor" in arch) == (arch["kind"] == "resnet")
    if arch["kind"] == "mlp":
        assert sum(k.startswith("width_") for k in params) == arch["n_layers"]  # widths of existing layers only
    model = space.build(arch, SPEC).eval()
    x = packed(SPEC)
    parts = get_task("classification").export_inputs(SPEC, x)
    assert [p.dtype for p in parts] == [torch.float32, torch.int64]
    with torch.no_grad():
        assert torch.equal(model(x), model(*parts))
    assert model(x).shape == (16, 3)


def test_space_mlp_refuses_images_and_bad_options():
    from nas_cli.errors import ConfigError
    from nas_cli.spaces import build_space

    with pytest.raises(ConfigError, match="for tables"):
        build_space("mlp", spec=DataSpec(name="digits", input_shape=(1, 8, 8), num_classes=10))
    with pytest.raises(ConfigError, match="search_space.norms"):
        build_space("mlp", spec=SPEC, norms=["group"])


def test_a_table_without_categories_has_no_embedding_choice():
    from nas_cli.spaces import build_space

    arch, params = sample(build_space("mlp", spec=REG))
    assert arch["embedding"] == "none" and "embedding" not in params


def test_regression_outputs_are_in_target_units_and_the_loss_is_unit_free():
    from nas_cli.spaces import build_space
    from nas_cli.tasks import task_for

    task = task_for(REG)
    assert task.target_std == 70.0 and task.score == "rmse" and task.losses == ("mse", "huber")
    space = build_space("mlp", spec=REG)
    model = space.build(sample(space)[0], REG).eval()
    with torch.no_grad():
        for p in model.head.parameters():
            p.zero_()
        out = model(packed(REG))
    assert torch.allclose(out, torch.full((16, 1), 150.0))  # a zero head predicts the training mean
    y = torch.full((16,), 220.0)
    assert float(task.loss(out, y)) == pytest.approx(1.0)  # (70 / 70)^2
    assert float(task.loss(out, y, loss="huber")) == pytest.approx(0.5)
    metrics = task.evaluate(out, y, full=True)
    assert metrics["rmse"] == pytest.approx(70.0) and metrics["mae"] == pytest.approx(70.0)


def test_classification_metrics_include_auc_and_balanced_accuracy():
    from nas_cli.tasks import get_task

    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [1.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    y = torch.tensor([0, 1, 1, 1, 1])
    m = get_task("classification").evaluate(logits, y, full=True)
    assert m["auc"] == pytest.approx(1.0) and m["balanced_accuracy"] == pytest.approx((1 + 0.75) / 2)
    three = get_task("classification").evaluate_numpy(torch.eye(3).numpy(), [0, 1, 2], full=True)
    assert three["auc"] == pytest.approx(1.0) and "loss" in three


def test_table_robustness_perturbs_numbers_and_flips_categories_and_says_fgsm_does_not_apply():
    from nas_cli.spaces import build_space
    from nas_cli.tasks import get_task

    space = build_space("mlp", spec=SPEC)
    model = space.build(sample(space)[0], SPEC)
    x, y = packed(SPEC, 64), torch.randint(0, 3, (64,))
    rob = get_task("classification").robustness(model, x, y, noise_std=0.5, fgsm_epsilon=0.1, spec=SPEC)
    assert rob["samples"] == 64 and {"clean_accuracy", "noise_accuracy", "flip_accuracy"} <= set(rob)
    assert "not applicable" in rob["fgsm"] and "fgsm_accuracy" not in rob


def test_onnx_export_has_named_table_inputs_and_matches_pytorch(tmp_path):
    import onnxruntime as ort

    from nas_cli.deploy.export import export_all
    from nas_cli.spaces import build_space
    from nas_cli.tasks import get_task

    task = get_task("classification")
    space = build_space("mlp", spec=SPEC)
    arch, _ = sample(space, 3)
    model = space.build(arch, SPEC).eval()
    x = packed(SPEC, 40)
    result = export_all(model, space_name="mlp", arch=arch, hparams={}, spec=SPEC, config={},
                        inputs=task.export_inputs(SPEC, x), out_dir=tmp_path, signature=task.signature(SPEC))
    assert result["onnx_max_abs_diff"] < 1e-4
    sess = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [(i.name, i.type) for i in sess.get_inputs()] == [("numeric", "tensor(float)"),
                                                            ("categorical", "tensor(int64)")]
    assert [o.name for o in sess.get_outputs()] == ["logits"]
