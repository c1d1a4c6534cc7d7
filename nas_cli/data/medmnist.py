"""MedMNIST v2 / MedMNIST+ (`dataset=medmnist`) and any image `.npz` file (`dataset=npz`), decoded once.

`dataset=medmnist dataset.flag=chestmnist dataset.size=64` reads ROOT/chestmnist_64.npz (28:
ROOT/chestmnist.npz), the official train/val/test splits as given. `dataset.download=true` fetches
the file from the MedMNIST Zenodo record; offline, a missing file is a ConfigError naming it and
where it is expected. Labels: one class per image (binary, multi-class, ordinal grades as classes)
or one 0/1 column per finding (ChestMNIST: the `multilabel` task).
"""

from __future__ import annotations

import os
from pathlib import Path

from nas_cli.errors import ConfigError

ZENODO = "https://zenodo.org/records/10519652/files/{file}?download=1"  # MedMNIST v3 record (2D and 3D, all sizes)
SIZES = (28, 64, 128, 224)
# flag -> label names (index order), from MedMNIST's INFO; ordinal grades (retinamnist) are classes.
FLAGS: dict[str, list[str]] = {
    "pathmnist": ["adipose", "background", "debris", "lymphocytes", "mucus", "smooth muscle",
                  "normal colon mucosa", "cancer-associated stroma", "colorectal adenocarcinoma epithelium"],
    "chestmnist": ["atelectasis", "cardiomegaly", "effusion", "infiltration", "mass", "nodule", "pneumonia",
                   "pneumothorax", "consolidation", "edema", "emphysema", "fibrosis", "pleural", "hernia"],
    "dermamnist": ["actinic keratoses and intraepithelial carcinoma", "basal cell carcinoma",
                   "benign keratosis-like lesions", "dermatofibroma", "melanoma", "melanocytic nevi",
                   "vascular lesions"],
    "octmnist": ["choroidal neovascularization", "diabetic macular edema", "drusen", "normal"],
    "pneumoniamnist": ["normal", "pneumonia"],
    "retinamnist": ["0", "1", "2", "3", "4"],
    "breastmnist": ["malignant", "normal, benign"],
    "bloodmnist": ["basophil", "eosinophil", "erythroblast", "immature granulocytes", "lymphocyte", "monocyte",
                   "neutrophil", "platelet"],
    "tissuemnist": ["Collecting Duct, Connecting Tubule", "Distal Convoluted Tubule", "Glomerular endothelial cells",
                    "Interstitial endothelial cells", "Leukocytes", "Podocytes", "Proximal Tubule Segments",
                    "Thick Ascending Limb"],
    **{f"organ{v}mnist": ["bladder", "femur-left", "femur-right", "heart", "kidney-left", "kidney-right", "liver",
                          "lung-left", "lung-right", "pancreas", "spleen"] for v in "acs"},
}
MEDMNIST_KEYS = {f"{s}_{k}": f"{s}_{k}" for s in ("train", "val", "test") for k in ("images", "labels")}
_DECODED: dict[tuple, dict] = {}


def file_name(flag: str, size: int) -> str:
    return f"{flag}.npz" if int(size) == 28 else f"{flag}_{int(size)}.npz"


def medmnist_path(flag, size, root) -> Path:
    """ROOT/<flag>.npz or ROOT/<flag>_<size>.npz, checked names (the file may not exist yet)."""
    if not flag or flag == "???":
        raise ConfigError(f"dataset=medmnist needs dataset.flag=NAME; known: {', '.join(FLAGS)}")
    if not str(flag).replace("_", "").isalnum():
        raise ConfigError(f"dataset.flag={flag!r} must be a MedMNIST file name stem like chestmnist")
    if int(size) not in SIZES:
        raise ConfigError(f"dataset.size={size!r} is not a MedMNIST size; choose one of: {', '.join(map(str, SIZES))}")
    return Path(os.path.expanduser(str(root))).resolve() / file_name(str(flag), int(size))


def download(path: Path) -> None:
    """Fetch one MedMNIST file from Zenodo into `path`, checked against the record's MD5 (atomically: a
    partial or corrupt file never stays)."""
    import hashlib
    import urllib.request

    from nas_cli.data.medmnist_md5 import MD5
    from nas_cli.rundir import atomic_write_stream

    url = ZENODO.format(file=path.name)
    expected = MD5.get(path.name)

    def verify(digest) -> None:
        if expected is not None and digest.hexdigest() != expected:
            raise ValueError(f"MD5 {digest.hexdigest()} is not the record's {expected} (a corrupt or changed file)")

    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            atomic_write_stream(path, response, digest=hashlib.md5(), check=verify)
    except Exception as exc:  # network, HTTP, checksum or disk failure
        raise ConfigError(f"dataset.download=true: could not download {url} into {path}: {exc}") from None


def _existing(path: Path, want_download: bool) -> Path:
    if not path.is_file() and want_download:
        download(path)
    if not path.is_file():
        raise ConfigError(f"dataset medmnist: {path.name} is missing in {path.parent} (dataset.root); download it "
                          f"with dataset.download=true, or fetch {ZENODO.format(file=path.name)} into that directory")
    return path


def infer_task_of_options(options: dict) -> str:
    """`dataset.task=auto` for medmnist/npz: multilabel when the training labels have one column per label."""
    from nas_cli.data.npz_arrays import label_type_of, member, open_npz

    if options.get("name") == "medmnist":
        flag = options.get("flag")
        if flag in FLAGS and options.get("label_type", "auto") == "auto":  # known without opening the file
            return "multilabel" if flag == "chestmnist" else "classification"
        path = medmnist_path(flag, options.get("size", 28), options.get("root", "data"))
        path = _existing(path, bool(options.get("download")))
        key = "train_labels"
    else:
        path, key = npz_path(options.get("path")), options.get("train_labels") or "train_labels"
    with open_npz(path) as archive:
        kind = label_type_of(member(archive, path, key, "dataset.train_labels"), options.get("label_type", "auto"))
    return "multilabel" if kind == "multilabel" else "classification"


def npz_path(path) -> Path:
    if path in (None, "", "???"):
        raise ConfigError("dataset=npz needs dataset.path=FILE.npz (arrays of images and labels)")
    resolved = Path(os.path.expanduser(str(path))).resolve()
    if not resolved.is_file():
        raise ConfigError(f"dataset.path={path}: no such file ({resolved})")
    return resolved


def load_medmnist(flag=None, size: int = 28, root: str = "data", download: bool = False, label_type: str = "auto",
                  **options):
    """A MedMNIST file by flag and size, official splits as given."""
    path = _existing(medmnist_path(flag, size, root), bool(download))
    names = FLAGS.get(str(flag))
    return _build("medmnist", path, dict(MEDMNIST_KEYS), label_type, names, {"flag": flag, "size": int(size)},
                  **options)


def load_npz(path=None, train_images: str = "train_images", train_labels: str = "train_labels",
             val_images: str | None = "val_images", val_labels: str | None = "val_labels",
             test_images: str | None = "test_images", test_labels: str | None = "test_labels",
             label_names=None, label_type: str = "auto", **options):
    """Any .npz of image and label arrays (key names configurable); a null val/test key: carved from train."""
    keys = {"train_images": train_images, "train_labels": train_labels, "val_images": val_images,
            "val_labels": val_labels, "test_images": test_images, "test_labels": test_labels}
    return _build("npz", npz_path(path), keys, label_type, list(label_names) if label_names else None, {}, **options)


def _build(family: str, path: Path, keys: dict, label_type: str, names, info: dict, *, val_fraction: float = 0.1,
           test_fraction: float = 0.1, seed: int = 0, max_train=None, mean=None, std=None, augment: str = "none",
           augment_padding: int = 2, task: str = "auto", **_: object):
    import dataclasses

    from nas_cli.data.augment import make_augment
    from nas_cli.data.images import carve, check_fraction, make_image_data

    make_augment(augment, augment_padding)  # validate before the slow decode
    cache = (str(path), path.stat().st_mtime_ns, tuple(sorted((k, str(v)) for k, v in keys.items())), label_type)
    if cache not in _DECODED:
        _DECODED[cache] = _read(path, keys, label_type)
    splits = _DECODED[cache]
    kind, width = splits["label_type"], splits["labels"]
    if task not in ("auto", None) and (task == "multilabel") != (kind == "multilabel"):
        raise ConfigError(f"dataset.task={task} but {path} holds {kind} labels; use dataset.task=auto")
    if names and kind == "classes" and width <= len(names):  # a subset may lack the last classes
        width = len(names)
    names = [str(n) for n in names] if names else [str(i) for i in range(width)]
    if len(names) != width:
        raise ConfigError(f"{path}: the labels have {width} {'columns' if kind == 'multilabel' else 'classes'} "
                          f"but {len(names)} names are given (dataset.label_names)")
    train, val, test = splits["train"], splits.get("val"), splits.get("test")
    if test is None:  # stratified by class; multi-label rows: a plain seeded split
        fraction = check_fraction("test_fraction", test_fraction)
        rest, held = carve(train[1].numpy(), fraction, int(seed) + 1, "test_fraction") if train[1].dim() == 1 \
            else _plain(len(train[1]), fraction, int(seed) + 1)
        train, test = (train[0][rest], train[1][rest]), (train[0][held], train[1][held])
    if val is None and train[1].dim() > 1:
        kept, held = _plain(len(train[1]), check_fraction("val_fraction", val_fraction), int(seed))
        train, val = (train[0][kept], train[1][kept]), (train[0][held], train[1][held])
    data = make_image_data(family, train, test, val=val, classes=names, val_fraction=val_fraction, seed=seed,
                           max_train=max_train, mean=mean, std=std, augment=augment, augment_padding=augment_padding,
                           info={"path": str(path), "label_type": kind, **info,
                                 "official_splits": [s for s in ("val", "test") if s in splits]})
    if kind == "multilabel":
        data.spec = dataclasses.replace(data.spec, task="multilabel")
    data.info["class_counts"] = _counts(data.train_y)
    return data


def _plain(n: int, fraction: float, seed: int):
    from nas_cli.data import split_indices

    kept, held = split_indices(n, (fraction,), seed)
    return kept, held


def _counts(y) -> list[int]:
    """Training examples per class (or positives per label): what class weights come from."""
    import torch

    if y.dim() > 1:
        return [int(v) for v in y.sum(0).tolist()]
    return [int(v) for v in torch.bincount(y).tolist()]


def _read(path: Path, keys: dict, label_type: str) -> dict:
    from nas_cli.data.npz_arrays import read_splits

    return read_splits(path, keys, label_type)
