"""The text spaces without files: every space builds, trains a step at every length, exports to
ONNX with dynamic batch and length and matches PyTorch; token-deletion robustness."""

from __future__ import annotations

import pytest
import torch

from nas_cli.data import DataSpec

SPEC = DataSpec(name="t", input_shape=(12,), num_classes=3, text={"vocab_size": 50, "max_length": 12, "pad_id": 0,
                                                                 "cls_id": 2})


def ids(n=8, length=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(3, 50, (n, length), generator=g)
    lengths = torch.randint(1, length + 1, (n,), generator=g)
    x[torch.arange(length)[None, :] >= lengths[:, None]] = 0
    x[:, 0] = 2
    return x


def arch_of(space, seed=0):
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return space.sample(study.ask())


@pytest.mark.parametrize("name", ["textcnn", "rnn", "transformer"])
@pytest.mark.parametrize("seed", [0, 1])
def test_text_spaces_train_on_every_length(name, seed):
    from nas_cli.spaces import build_space
    from nas_cli.tasks import get_task

    space = build_space(name, spec=SPEC)
    model = space.build(arch_of(space, seed), SPEC)
    task = get_task("classification")
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    for length in (1, 5, 12):
        x, y = ids(length=length), torch.randint(0, 3, (8,))
        loss = task.loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert torch.isfinite(loss)
    model.eval()
    x = ids()
    with torch.no_grad():
        assert torch.allclose(model(x), model(*task.export_inputs(SPEC, x)), atol=1e-6)


@pytest.mark.parametrize("name", ["textcnn", "rnn", "transformer"])
def test_text_onnx_export_has_dynamic_length_and_matches_pytorch(name, tmp_path):
    import onnxruntime as ort

    from nas_cli.deploy.export import export_all
    from nas_cli.spaces import build_space
    from nas_cli.tasks import get_task

    task = get_task("classification")
    space = build_space(name, spec=SPEC)
    arch = arch_of(space, 3)
    model = space.build(arch, SPEC).eval()
    result = export_all(model, space_name=name, arch=arch, hparams={}, spec=SPEC, config={},
                        inputs=task.export_inputs(SPEC, ids(16)), out_dir=tmp_path, signature=task.signature(SPEC))
    assert result["onnx_max_abs_diff"] < 1e-4
    sess = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["input_ids", "attention_mask"]
    dynamic = isinstance(sess.get_inputs()[0].shape[1], str)
    assert dynamic or name == "rnn"  # torch.export fixes a GRU/LSTM's length: it runs at max_length
    for length in (3, 7, 12) if dynamic else (12,):  # other lengths than the export's example
        x = ids(5, length, seed=length)
        ref = model(x).detach().numpy()
        got = sess.run(None, {"input_ids": x.numpy(), "attention_mask": (x != 0).long().numpy()})[0]
        assert abs(got - ref).max() < 1e-4, length


def test_text_space_refuses_other_data_and_token_deletion_scores():
    from nas_cli.errors import ConfigError
    from nas_cli.spaces import build_space
    from nas_cli.tasks import get_task
    from nas_cli.tasks.text_robustness import delete_tokens, typo

    with pytest.raises(ConfigError, match="is for text"):
        build_space("textcnn", spec=DataSpec(name="digits", input_shape=(1, 8, 8), num_classes=10))
    x = torch.tensor([[2, 5, 6, 7, 0, 0]])
    out = delete_tokens(x, 0, 1.0, torch.Generator().manual_seed(0))
    assert out.tolist() == [[2, 0, 0, 0, 0, 0]]  # every real token but [CLS] deleted, the rest padding
    import numpy as np

    assert typo("hello world", 0.0, np.random.default_rng(0)) == "hello world"
    assert typo("hello world", 1.0, np.random.default_rng(0)) != "hello world"
    space = build_space("textcnn", spec=SPEC)
    rob = get_task("classification").robustness(space.build(arch_of(space), SPEC), ids(32), torch.randint(0, 3, (32,)),
                                                noise_std=0.1, fgsm_epsilon=0.1, spec=SPEC)
    assert rob["delete_accuracy"] is not None and rob["typo_accuracy"] is None and "not applicable" in rob["fgsm"]


@pytest.mark.parametrize("pool", ["max", "mean"])
def test_textcnn_and_transformer_ignore_padding(pool):
    """Extra [PAD] columns change nothing: pads are zeroed before the convolutions and left out of pooling
    (textcnn), masked as attention keys (transformer). A recurrent net reads pads backwards, hence is not here."""
    from nas_cli.spaces import build_space

    x = ids(length=7)
    longer = torch.cat([x, torch.zeros(8, 5, dtype=torch.long)], dim=1)  # the same texts padded to 12
    archs = {"textcnn": {"embedding_dim": 16, "kernels": "3,4,5", "filters": 8, "pool": pool, "dropout": 0.0},
             "transformer": {"n_layers": 2, "width": 16, "heads": 2, "ff_factor": 2, "dropout": 0.0,
                             "pool": "mean" if pool == "mean" else "first"}}
    for name, arch in archs.items():
        torch.manual_seed(0)
        model = build_space(name, spec=SPEC).build(arch, SPEC).eval()
        with torch.no_grad():
            assert torch.allclose(model(x), model(longer), atol=1e-5), name
            changed = x.clone()
            changed[:, 1] = torch.where(x[:, 1] == 3, 4, 3)  # a real token: the output must move
            assert not torch.allclose(model(x), model(changed), atol=1e-5), name
