"""`dataset=audio_folder`: labelled audio clips as log-mel spectrograms, decoded and featurised once.

Files come from ROOT/train/<class>/* (optional ROOT/test/<class>/*), or ROOT/<class>/*, or a
`dataset.manifest` CSV (path,label[,split]), or every audio file under ROOT labelled by
`dataset.label_pattern` (a regex with one group over the file name). Each clip is decoded, mixed
to mono, resampled and padded/trimmed (`audio_read.py`), then the log-mel front end
(`audio_features.py`) turns every split into `[N, 1, n_mels, frames]` float32 once.

Splits: with `dataset.group_pattern` (e.g. the speaker in `<digit>_<speaker>_<n>.wav`), whole groups
go to one split (scikit-learn's GroupShuffleSplit), so no test speaker is heard in training; else a
seeded split stratified by class. Raw waveforms and per-clip level/duration/centroid stay in
`Data.raw` for the export's parity check, the drift reference and `nas evaluate`.
"""

from __future__ import annotations

from pathlib import Path

from nas_cli.data import Data, DataSpec
from nas_cli.errors import ConfigError

_DECODED: dict[tuple, dict] = {}


def load_audio_folder(root=None, manifest=None, label_pattern=None, group_pattern=None, classes=None,
                      sample_rate=16000, duration=1.0, n_mels=40, n_fft=512, win_length=400, hop_length=160,
                      f_min=0.0, f_max=None, val_fraction=0.1, test_fraction=0.2, seed=0, max_train=None,
                      augment="none", freq_mask=8, time_mask=20, masks=2, task="classification", **unknown) -> Data:
    """Build train/val/test log-mel tensors from audio files (see the module docstring)."""
    from nas_cli.data.audio_features import check_front_end
    from nas_cli.data.audio_read import compile_pattern
    from nas_cli.data.images import check_fraction
    from nas_cli.data.spec_augment import make_spec_augment

    if unknown:
        raise ConfigError(f"dataset.{sorted(unknown)[0]} is not an audio_folder option; see configs/dataset/"
                          "audio_folder.yaml for the allowed keys")
    if task not in ("classification", "auto"):
        raise ConfigError(f"dataset.task={task!r}: audio_folder is classification only")
    front = check_front_end(sample_rate, duration, n_mels, n_fft, win_length, hop_length, f_min, f_max)
    augment_fn = make_spec_augment(augment, freq_mask, time_mask, masks)
    fractions = (check_fraction("val_fraction", val_fraction), check_fraction("test_fraction", test_fraction))
    label_rx = compile_pattern("label_pattern", label_pattern) if label_pattern else None
    group_rx = compile_pattern("group_pattern", group_pattern) if group_pattern else None
    rows = _list_rows(root, manifest, label_rx)
    if classes:
        rows = [r for r in rows if r[1] in {str(c) for c in classes}]
    decoded = _decode(rows, front)
    groups = None
    if group_rx is not None:
        from nas_cli.data.audio_read import match_group

        groups = [match_group(group_rx, "group_pattern", r[0]) for r in rows]
    parts = _split(rows, groups, fractions, int(seed))
    if max_train is not None:
        parts["train"] = _cap(parts["train"], max_train, int(seed))
    return _build(rows, groups, decoded, parts, front, augment_fn,
                  info={"root": str(root) if root else None, "manifest": str(manifest) if manifest else None,
                        "label_pattern": label_pattern, "group_pattern": group_pattern, "augment": augment})


def _list_rows(root, manifest, label_rx) -> list:
    from nas_cli.data.audio_read import list_by_pattern, list_folder, list_manifest

    root_path = None
    if root not in (None, "", "???"):
        root_path = Path(str(root)).expanduser().resolve()
        if not root_path.is_dir():
            raise ConfigError(f"dataset.root={root} " + ("is not a directory" if root_path.exists() else "does not exist"))
    if manifest not in (None, ""):
        if label_rx is not None:
            raise ConfigError("dataset.manifest and dataset.label_pattern both give labels; keep one of them")
        return list_manifest(manifest, root_path)
    if root_path is None:
        raise ConfigError("dataset=audio_folder needs dataset.root=PATH (train/<class>/*.wav, or any layout with "
                          "dataset.label_pattern) or dataset.manifest=labels.csv")
    return list_by_pattern(root_path, label_rx) if label_rx is not None else list_folder(root_path)


def _decode(rows: list, front: dict) -> dict:
    """{"waves": float32 [N, samples], "stats": float64 [N, 3] (level dB, seconds, centroid Hz)}, cached."""
    import numpy as np

    from nas_cli.data.audio_read import clip_stats, decode_clip, fit_length

    key = (tuple(str(r[0]) for r in rows), front["sample_rate"], front["samples"])
    if key not in _DECODED:
        waves = np.zeros((len(rows), front["samples"]), dtype=np.float32)
        stats = np.zeros((len(rows), 3), dtype=np.float64)
        for i, (path, _, _) in enumerate(rows):
            samples, seconds = decode_clip(path, front["sample_rate"])
            level, centroid = clip_stats(samples, front["sample_rate"])
            waves[i] = fit_length(samples, front["samples"])
            stats[i] = (level, seconds, centroid)
        _DECODED.clear()  # one data set per process is the common case; keep memory bounded
        _DECODED[key] = {"waves": waves, "stats": stats}
    return _DECODED[key]


def _split(rows: list, groups, fractions: tuple[float, float], seed: int) -> dict:
    """{"train"|"val"|"test": sorted row indices}; test from the rows marked test when any are."""
    import numpy as np

    labels = np.asarray([r[1] for r in rows])
    marked = np.asarray([r[2] == "test" for r in rows])
    pool = np.flatnonzero(~marked)
    if marked.any():
        test = np.flatnonzero(marked)
        if groups is not None:
            shared = sorted({groups[i] for i in test} & {groups[i] for i in pool})
            if shared:
                raise ConfigError(f"dataset.group_pattern: group {shared[0]!r} has files in both the training and "
                                  f"the test files ({len(shared)} shared group(s)); move them to one side")
    else:
        pool, test = _carve(pool, labels, groups, fractions[1], seed + 1, "test_fraction")
    train, val = _carve(pool, labels, groups, fractions[0], seed, "val_fraction")
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def _carve(index, labels, groups, fraction: float, seed: int, key: str):
    """(kept, held) subsets of `index`: whole groups held out when grouped, else stratified by class."""
    import numpy as np

    if groups is None:
        from nas_cli.data.images import carve

        kept, held = carve(labels[index], fraction, seed, key)
        return index[kept], index[held]
    from sklearn.model_selection import GroupShuffleSplit

    names = np.asarray([groups[i] for i in index])
    if len(set(names.tolist())) < 2:
        raise ConfigError(f"dataset.group_pattern finds {len(set(names.tolist()))} group(s) where dataset.{key} "
                          "needs at least 2 (one to keep, one to hold out); add speakers or drop group_pattern")
    kept, held = next(GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed).split(index, groups=names))
    return index[kept], index[held]


def _cap(index, max_train, seed: int):
    import numpy as np

    if isinstance(max_train, bool) or not isinstance(max_train, int) or max_train < 1:
        raise ConfigError(f"dataset.max_train must be a positive integer or null, got {max_train!r}")
    if max_train >= len(index):
        return index
    return np.sort(np.random.default_rng(seed + 7).permutation(index)[:max_train])


def _build(rows, groups, decoded, parts: dict, front: dict, augment_fn, info: dict) -> Data:
    import numpy as np
    import torch

    from nas_cli.data.audio_features import features, log_mel

    classes = sorted({rows[i][1] for i in parts["train"]}, key=_class_key)
    if len(classes) < 2:
        raise ConfigError(f"the training split has {len(classes)} class(es) ({', '.join(classes)}); "
                          "a classifier needs at least two")
    index = {c: k for k, c in enumerate(classes)}
    labels = {}
    for split, idx in parts.items():
        unknown = [i for i in idx if rows[i][1] not in index]
        if unknown:
            raise ConfigError(f"{rows[unknown[0]][0]} ({split} split) has the label {rows[unknown[0]][1]!r}, which "
                              f"the training split never has (classes: {', '.join(classes)})")
        labels[split] = torch.tensor([index[rows[i][1]] for i in idx], dtype=torch.long)
    front_end = log_mel(front).eval()
    feats = {split: features(front_end, decoded["waves"][idx]) for split, idx in parts.items()}
    mean, std = float(feats["train"].mean()), max(float(feats["train"].std()), 1e-3)
    for split in feats:
        feats[split].sub_(mean).div_(std)
    audio = {**front, "mean": mean, "std": std}
    spec = DataSpec(name="audio_folder", input_shape=(1, front["n_mels"], front["frames"]),
                    num_classes=len(classes), audio=audio)
    raw = {split: {"waves": decoded["waves"][idx], "stats": decoded["stats"][idx],
                   "paths": [str(rows[i][0]) for i in idx], "labels": [rows[i][1] for i in idx],
                   "groups": [groups[i] for i in idx] if groups is not None else None}
           for split, idx in parts.items()}
    summary = {"train": len(parts["train"]), "val": len(parts["val"]), "test": len(parts["test"]),
               "classes": classes, "groups": {s: len(set(raw[s]["groups"])) for s in raw} if groups else None,
               "mean_seconds": round(float(np.mean(decoded["stats"][:, 1])), 4), **front, **info}
    return Data(spec=spec, train_x=feats["train"], train_y=labels["train"], val_x=feats["val"], val_y=labels["val"],
                test_x=feats["test"], test_y=labels["test"], augment=augment_fn, info=summary,
                preprocess={"kind": "audio", **audio, "classes": classes}, raw=raw)


def _class_key(label: str):
    """Numbers in number order ("2" before "10"), then names."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)
