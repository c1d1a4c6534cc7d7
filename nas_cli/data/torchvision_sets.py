"""MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 in torchvision's on-disk layout, decoded once into tensors.

`download=true` lets torchvision fetch (and md5-check) the files. Offline, a missing file is a
ConfigError naming the directory, the files and the override that downloads them. CIFAR pickles are
read here in torchvision's format (torchvision's own class refuses any file whose md5 differs, even
with download=False); `verify=true` (default) still checks the official md5 sums first.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from nas_cli.errors import ConfigError

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
FAMILIES = {
    "mnist": {"cls": "MNIST", "kind": "idx"},
    "fashion_mnist": {"cls": "FashionMNIST", "kind": "idx"},
    "cifar10": {"cls": "CIFAR10", "kind": "pickle", "label_key": "labels", "names_key": "label_names"},
    "cifar100": {"cls": "CIFAR100", "kind": "pickle", "label_key": "fine_labels", "names_key": "fine_label_names"},
}
_DECODED: dict[tuple, tuple] = {}  # (family, root) -> (train, test, classes): decoded once per process


def load_mnist(**options) -> object:
    return load_torchvision("mnist", **options)


def load_fashion_mnist(**options) -> object:
    return load_torchvision("fashion_mnist", **options)


def load_cifar10(**options) -> object:
    return load_torchvision("cifar10", **options)


def load_cifar100(**options) -> object:
    return load_torchvision("cifar100", **options)


def load_torchvision(family: str, root: str = "data", download: bool = False, verify: bool = True,
                     val_fraction: float = 0.1, seed: int = 0, max_train=None, mean=None, std=None,
                     augment: str = "none", augment_padding: int = 4, **_: object):
    """Decoded tensors (cached per process) -> normalised train/val/test `Data`."""
    from nas_cli.data.augment import make_augment
    from nas_cli.data.images import make_image_data

    make_augment(augment, augment_padding)  # validate before the slow decode
    root_path = Path(os.path.expanduser(str(root))).resolve()
    key = (family, str(root_path))
    if key not in _DECODED:
        if download:
            _download(family, root_path)
        decode = _decode_idx if FAMILIES[family]["kind"] == "idx" else _decode_pickles
        _DECODED[key] = decode(family, root_path, bool(verify))
    train, test, classes = _DECODED[key]
    return make_image_data(family, train, test, classes=classes, val_fraction=val_fraction, seed=seed,
                           max_train=max_train, mean=mean, std=std, augment=augment,
                           augment_padding=augment_padding, info={"root": str(root_path)})


def expected_files(family: str, root: Path) -> tuple[Path, list[str]]:
    """The directory torchvision uses for `family` under `root`, and the files it must hold."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, FAMILIES[family]["cls"])
    if FAMILIES[family]["kind"] == "idx":
        return root / cls.__name__ / "raw", list(MNIST_FILES)
    return root / cls.base_folder, [f for f, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]


def _download(family: str, root: Path) -> None:
    import torchvision.datasets as tvd

    cls = getattr(tvd, FAMILIES[family]["cls"])
    try:
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except Exception as exc:  # network, disk or checksum failure
        raise ConfigError(f"dataset.download=true: could not download {family} into {root}: {exc}") from None


def _check_present(family: str, root: Path) -> Path:
    folder, files = expected_files(family, root)
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise ConfigError(
            f"dataset {family}: missing {', '.join(missing)} in {folder} (dataset.root={root}). "
            f"Download them with dataset.download=true, or point dataset.root at a directory holding "
            f"{folder.relative_to(root)}/ with: {', '.join(files)}"
        )
    return folder


def _corrupt(path: Path, reason: str) -> ConfigError:
    return ConfigError(f"{path} is corrupted or not in the expected format ({reason}); delete it and rerun "
                       f"with dataset.download=true, or replace it with the original file")


def _decode_idx(family: str, root: Path, verify: bool):
    import torch
    from torchvision.datasets.mnist import read_image_file, read_label_file

    folder = _check_present(family, root)
    splits = []
    for prefix in ("train", "t10k"):
        images_path, labels_path = folder / f"{prefix}-images-idx3-ubyte", folder / f"{prefix}-labels-idx1-ubyte"
        try:
            x = read_image_file(str(images_path))
        except Exception as exc:
            raise _corrupt(images_path, f"{type(exc).__name__}: {exc}") from None
        try:
            y = read_label_file(str(labels_path)).to(torch.int64)
        except Exception as exc:
            raise _corrupt(labels_path, f"{type(exc).__name__}: {exc}") from None
        if x.dim() != 3 or x.shape[0] != y.shape[0]:
            raise _corrupt(images_path, f"{tuple(x.shape)} images for {tuple(y.shape)} labels")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) > 9):
            raise _corrupt(labels_path, "labels outside 0..9")
        splits.append((x.unsqueeze(1).contiguous(), y))
    import torchvision.datasets as tvd

    classes = list(getattr(tvd, FAMILIES[family]["cls"]).classes)
    return splits[0], splits[1], classes


def _decode_pickles(family: str, root: Path, verify: bool):
    import numpy as np
    import torch
    import torchvision.datasets as tvd
    from torchvision.datasets.utils import check_integrity

    folder = _check_present(family, root)
    cls, fam = getattr(tvd, FAMILIES[family]["cls"]), FAMILIES[family]
    if verify:
        for name, md5 in cls.train_list + cls.test_list + [(cls.meta["filename"], cls.meta["md5"])]:
            if not check_integrity(str(folder / name), md5):
                raise ConfigError(f"{folder / name}: md5 differs from the official {family} file (corrupted or "
                                  "modified); delete it and rerun with dataset.download=true, or skip the check "
                                  "with dataset.verify=false")
    classes = _read_pickle(folder / cls.meta["filename"]).get(fam["names_key"])
    if not isinstance(classes, list) or not classes:
        raise _corrupt(folder / cls.meta["filename"], f"no {fam['names_key']!r} list")
    splits = []
    for files in (cls.train_list, cls.test_list):
        xs, ys = [], []
        for name, _ in files:
            entry = _read_pickle(folder / name)
            data, labels = entry.get("data"), entry.get(fam["label_key"])
            if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072 or labels is None \
                    or len(labels) != data.shape[0]:
                raise _corrupt(folder / name, f"expected 'data' of shape (N, 3072) and N '{fam['label_key']}'")
            xs.append(data.reshape(-1, 3, 32, 32))
            ys.append(np.asarray(labels, dtype=np.int64))
        y = np.concatenate(ys)
        if y.size and (y.min() < 0 or y.max() >= len(classes)):
            raise _corrupt(folder / files[0][0], f"labels outside 0..{len(classes) - 1}")
        splits.append((torch.from_numpy(np.ascontiguousarray(np.concatenate(xs), dtype=np.uint8)),
                       torch.from_numpy(y)))
    return splits[0], splits[1], [str(c) for c in classes]


def _read_pickle(path: Path) -> dict:
    """A CIFAR batch as torchvision reads it (latin1 pickle of a dict with str keys)."""
    try:
        with open(path, "rb") as fh:
            entry = pickle.load(fh, encoding="latin1")
    except Exception as exc:
        raise _corrupt(path, f"{type(exc).__name__}: {exc}") from None
    if not isinstance(entry, dict):
        raise _corrupt(path, f"a pickle of {type(entry).__name__}, not a dict")
    return entry
