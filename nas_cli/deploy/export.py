"""Export a trained network as ONNX, torch.export (.pt2) and a self-describing checkpoint; verify each."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from nas_cli.errors import NasError
from nas_cli.rundir import atomic_save_with, atomic_write_text


def save_checkpoint(path: Path, model, space_name: str, arch: dict, hparams: dict, spec, config: dict,
                    preprocess: dict | None = None) -> Path:
    """`{space, arch, hparams, spec, config, state_dict}`: enough to rebuild the network anywhere."""
    import torch

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    ckpt = {"format": "nas-checkpoint-1", "space": space_name, "arch": arch, "hparams": hparams,
            "spec": dataclasses.asdict(spec), "config": config, "preprocess": preprocess, "state_dict": state}
    return atomic_save_with(path, lambda tmp: torch.save(ckpt, tmp))


def load_checkpoint(path: str | Path):
    """Rebuild the network saved by `save_checkpoint`; returns (model in eval mode, checkpoint dict)."""
    import torch

    from nas_cli.data import DataSpec
    from nas_cli.spaces import build_space
    from nas_cli.spaces.ensemble import build

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        spec_d = dict(ckpt["spec"])
        spec = DataSpec(**{**spec_d, "input_shape": tuple(spec_d["input_shape"])})
        space = build_space(ckpt["space"], spec=spec)
        model = build(space, ckpt["arch"], spec)  # one network, or an ensemble of the space's networks
        if getattr(spec, "audio", None) is not None:  # audio exports take raw samples: front end + network
            from nas_cli.data.audio_features import log_mel, with_front_end

            model = with_front_end(model, log_mel(spec.audio, filterbank=False))  # the state_dict fills it
        model.load_state_dict(ckpt["state_dict"])
    except FileNotFoundError:
        raise NasError(f"{path}: no such checkpoint file") from None
    except Exception as exc:
        raise NasError(f"{path} is not a readable nas checkpoint ({type(exc).__name__}: {exc})") from None
    return model.eval(), ckpt


def _as_tuple(inputs) -> tuple:
    return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)


def _dynamic_batch(example: tuple, signature=None) -> tuple:
    """torch.export dynamic shapes: the batch axis of every input, and any other axis the signature
    names (text: "length"); one Dim per name, shared by the inputs that carry it."""
    import torch

    dims = {"batch": torch.export.Dim("batch", min=1, max=65536)}
    if signature is None:
        return tuple({0: dims["batch"]} for _ in example)
    out = []
    for tensor in signature.inputs:
        # Other named axes (text: "length") stay dynamic where the network allows it; a network that
        # needs a fixed size there (a GRU/LSTM under torch.export) is exported at the example's size.
        out.append({i: dims["batch"] if d == "batch" else torch.export.Dim.AUTO
                    for i, d in enumerate(tensor.shape) if isinstance(d, str)})
    return tuple(out)


def export_onnx(model, example, path: Path, signature=None) -> Path:
    """One ONNX file (no external data), inputs and outputs named as the task's `signature` says."""
    import torch

    example = _as_tuple(example)
    names = (signature.input_names, signature.output_names) if signature is not None else (["input"], ["logits"])

    def write(tmp):
        import warnings

        with warnings.catch_warnings():  # several inputs share the batch axis: the exporter says so, harmlessly
            warnings.filterwarnings("ignore", message=".*axis name.*will not be used.*")
            torch.onnx.export(model, example, str(tmp), input_names=names[0], output_names=names[1],
                              dynamic_shapes=_dynamic_batch(example, signature), external_data=False, verbose=False)

    return atomic_save_with(path, write)


def onnx_max_abs_diff(model, path: Path, inputs) -> float:
    """Largest |onnxruntime - PyTorch| over `inputs` (a real batch), at batch 1 and the full batch,
    divided by the largest |output| when that is above 1."""
    import numpy as np
    import onnxruntime as ort
    import torch

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs, worst = _as_tuple(inputs), 0.0
    for xs in (tuple(x[:1] for x in inputs), inputs):
        with torch.inference_mode():
            ref = model(*xs).float().numpy()
        got = sess.run(None, {i.name: x.numpy() for i, x in zip(sess.get_inputs(), xs, strict=True)})[0]
        # Relative to the outputs' size once they exceed 1: float32 rounding grows with the magnitude
        # (a regression in the target's units, logits in the hundreds), not with a wrong graph.
        scale = max(1.0, float(np.max(np.abs(ref))))
        worst = max(worst, float(np.max(np.abs(got - ref))) / scale)
    return worst


def export_pt2(model, example, path: Path, signature=None) -> tuple[Path, float]:
    """torch.export with a dynamic batch; returns the path and the round-trip max abs difference."""
    import torch

    example = _as_tuple(example)
    program = torch.export.export(model, example, dynamic_shapes=_dynamic_batch(example, signature))
    atomic_save_with(path, lambda tmp: torch.export.save(program, str(tmp)))
    loaded = torch.export.load(str(path)).module()
    with torch.inference_mode():
        diff = float((loaded(*example) - model(*example)).abs().max())
    return path, diff


def export_all(model, *, space_name: str, arch: dict, hparams: dict, spec, config: dict, inputs, out_dir: Path,
               tolerance: float = 1e-4, onnx: bool = True, torch_export: bool = True, signature=None,
               preprocess: dict | None = None) -> dict:
    """Write model.pt, model.onnx and model.pt2 into `out_dir`; raise NasError if ONNX disagrees with PyTorch."""
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu", memory_format=torch.contiguous_format).float().eval()
    # A real batch of the model's inputs (the task's dtypes kept: integer ids stay integers).
    inputs = tuple(x.detach().to("cpu").contiguous() for x in _as_tuple(inputs))
    inputs = tuple(x.float() if x.is_floating_point() else x for x in inputs)
    example = tuple(x[:2] for x in inputs)
    result: dict = {"files": {}, "tolerance": tolerance}
    start = time.perf_counter()
    result["files"]["checkpoint"] = str(save_checkpoint(out_dir / "model.pt", model, space_name, arch, hparams,
                                                       spec, config, preprocess))
    if onnx:
        path = export_onnx(model, example, out_dir / "model.onnx", signature)
        diff = onnx_max_abs_diff(model, path, inputs)
        result["files"]["onnx"] = str(path)
        result["onnx_max_abs_diff"] = diff
        if not diff <= tolerance:
            raise NasError(f"ONNX export disagrees with PyTorch: max abs difference {diff:.3g} > "
                           f"export.tolerance={tolerance} ({path})")
    if torch_export:
        path, diff = export_pt2(model, example, out_dir / "model.pt2", signature)
        result["files"]["torch_export"] = str(path)
        result["pt2_max_abs_diff"] = diff
    result["seconds"] = time.perf_counter() - start
    return result


def _describe_inputs(signature) -> str:
    if signature is None:
        return "input 'input': float32 [batch, *input_shape]"
    return ", ".join(f"input {t.name!r}: {t.dtype} {list(t.shape)}" for t in signature.inputs)


def write_model_card(path: Path, *, space_name: str, description: str, arch: dict, hparams: dict, test: dict,
                     cost: dict, export: dict, dataset: str, signature=None) -> Path:
    import json

    files = export.get("files", {})
    lines = [
        f"# Model card: {space_name} on {dataset}", "",
        f"Architecture: `{description}`", "",
        "## Test metrics (held-out test split, evaluated once)", "",
        "| metric | value |", "| --- | --- |",
        *[f"| {k} | {v:.4f} |" for k, v in test.items() if isinstance(v, float)], "",
        "## Cost", "", "| measure | value |", "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in cost.items()], "",
        "## Files", "",
        *[f"- `{Path(p).name}` ({k})" for k, p in files.items()], "",
        f"ONNX Runtime vs PyTorch max abs difference: {export.get('onnx_max_abs_diff', 'n/a')}", "",
        "## How to load it", "",
        "```python",
        "from nas_cli.deploy.export import load_checkpoint",
        "model, ckpt = load_checkpoint('model.pt')   # rebuilt from the arch dict, eval mode", "",
        "import onnxruntime as ort",
        f"sess = ort.InferenceSession('model.onnx')   # {_describe_inputs(signature)}", "",
        "import torch",
        "program = torch.export.load('model.pt2').module()",
        "```", "",
        "On raw files (the saved preprocessing in `preprocess.json` applied; ONNX Runtime, no torch):", "",
        "```bash",
        "nas predict RUN_DIR_or_EXPORT_DIR images/ --out predictions.csv",
        "nas evaluate RUN_DIR dataset.root=NEW_LABELLED_DATA   # metrics beside this run's, drift check",
        "```", "",
        "```python",
        "import nas_cli.deploy",
        "predictor = nas_cli.deploy.load('export/')   # or the run directory",
        "probabilities = predictor.predict(['a.png', 'b.jpg'])   # [N, classes]; predictor.classes names them",
        "```", "",
        "## Architecture and hyperparameters", "", "```json",
        json.dumps({"arch": arch, "hparams": hparams}, indent=2), "```", "",
    ]
    return atomic_write_text(path, "\n".join(lines))
