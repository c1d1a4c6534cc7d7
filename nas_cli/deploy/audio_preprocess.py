"""export/preprocess.json for audio: how a file becomes the exported model's waveform input (sample
rate, length, mono mixdown, resampling), the front end's settings for the record, class names."""

from __future__ import annotations

from nas_cli.deploy.export_format import FORMAT, REEXPORT
from nas_cli.errors import ConfigError


def audio_preprocess(pre: dict, signature) -> dict:
    """The preprocess.json dict of an audio classifier: `pre` is `Data.preprocess` of the audio loader."""
    keys = ("sample_rate", "samples", "n_mels", "n_fft", "win_length", "hop_length", "f_min", "f_max")
    info = {"format": FORMAT, "task": "classification",
            "input": {"kind": "audio", "name": signature.inputs[0].name, "dtype": "float32",
                      "shape": [int(pre["samples"])]},
            "audio": {**{k: pre[k] for k in keys}, "mono": "mean of channels", "resample": "scipy.signal.resample_poly",
                      "length": "zero-pad at the end or keep the first samples"},
            "classes": [str(c) for c in pre["classes"]],
            "output": {"name": signature.outputs[0].name, "kind": "logits"}}
    check_audio_preprocess(info, "preprocess")
    return info


def check_audio_preprocess(info: dict, where: str) -> None:
    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"{where}: key {key!r} {why}; {REEXPORT}")

    audio = info.get("audio")
    if not isinstance(audio, dict):
        raise bad("audio", "is missing or not an object")
    for key in ("sample_rate", "samples"):
        if isinstance(audio.get(key), bool) or not isinstance(audio.get(key), int) or audio[key] < 1:
            raise bad(f"audio.{key}", f"must be a positive int, got {audio.get(key)!r}")
    if not isinstance(info["input"].get("name"), str):
        raise bad("input.name", "must be a string")
    if not (isinstance(info.get("classes"), list) and info["classes"]):
        raise bad("classes", "must list the class names")
