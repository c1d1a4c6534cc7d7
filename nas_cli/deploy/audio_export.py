"""Exporting an audio classifier: the searched network trained on log-mel features gets the log-mel
front end (`data/audio_features.py`, with the training mean/std) in front of it, so `model.onnx`,
`model.pt2` and `model.pt` take a raw mono waveform `[batch, samples]` at the training sample rate.
ONNX Runtime is checked against PyTorch on real test waveforms. Also writes `preprocess.json` and the
drift reference (level, duration, centroid of the training clips)."""

from __future__ import annotations

from pathlib import Path

INPUT_NAME = "waveform"


def audio_export_parts(body, data, signature):
    """(waveform model, up to 256 raw test waveforms, its Signature) for `export_all`."""
    import torch

    from nas_cli.data.audio_features import log_mel, with_front_end
    from nas_cli.tasks import Signature, TensorSpec

    audio = data.spec.audio
    front = log_mel(audio, mean=audio["mean"], std=audio["std"]).eval()
    model = with_front_end(body.to("cpu", memory_format=torch.contiguous_format).float(), front).eval()
    waves = torch.as_tensor(data.raw["test"]["waves"][:256], dtype=torch.float32)
    if len(waves) < 2:  # export traces with 2 examples
        waves = torch.cat([waves, torch.zeros((2 - len(waves), audio["samples"]))])
    sig = Signature(inputs=(TensorSpec(INPUT_NAME, "float32", ("batch", int(audio["samples"]))),),
                    outputs=signature.outputs)
    return model, waves, sig


def audio_variant_view(ctx, signature):
    """The compressed variants' view of an audio run (`deploy/compress.py`): calibrated on training
    clips and measured on the test clips as raw waveforms; a pruned network is exported with the same
    log-mel front end as `model.onnx`."""
    from types import SimpleNamespace

    import torch

    from nas_cli.data.audio_features import log_mel, with_front_end
    from nas_cli.deploy.export import export_onnx

    data, audio = ctx.data, ctx.data.spec.audio
    waves = {split: torch.as_tensor(data.raw[split]["waves"], dtype=torch.float32) for split in ("train", "test")}
    clips = SimpleNamespace(train_x=waves["train"], test_x=waves["test"], test_y=data.test_y.cpu(), spec=None)

    def write_onnx(network, path: Path) -> Path:
        front = log_mel(audio, mean=audio["mean"], std=audio["std"]).eval()
        wrapped = with_front_end(network.to("cpu", memory_format=torch.contiguous_format).float(), front).eval()
        return export_onnx(wrapped, waves["test"][:2], path, signature)

    return SimpleNamespace(data=clips, example=(int(audio["samples"]),), write_onnx=write_onnx)


def write_audio_files(data, export_dir: Path, signature) -> dict:
    """preprocess.json and drift_reference.json (training clips' level, duration, centroid)."""
    from nas_cli.deploy.audio_drift import audio_reference
    from nas_cli.deploy.audio_preprocess import audio_preprocess
    from nas_cli.deploy.preprocess import write_preprocess
    from nas_cli.rundir import atomic_write_json

    info = audio_preprocess(data.preprocess, signature)
    files = {"preprocess": str(write_preprocess(export_dir, info))}
    train = (data.raw or {}).get("train")
    if train is not None and len(train["stats"]):
        files["drift_reference"] = str(atomic_write_json(export_dir / "drift_reference.json",
                                                         audio_reference(train["stats"])))
    return files
