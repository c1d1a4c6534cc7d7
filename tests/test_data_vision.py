"""Vision datasets from tiny files in the real on-disk formats; batch augmentation; image_folder end to end."""

from __future__ import annotations

import json
import pickle
import struct

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nas_cli.data import DATASETS, load_dataset  # noqa: E402
from nas_cli.data.augment import CropFlip, make_augment  # noqa: E402
from nas_cli.errors import ConfigError  # noqa: E402
from tests.conftest import TINY, only_run_dir  # noqa: E402


def _labels(n, classes):
    return np.arange(n) % classes


def _images(labels, shape):
    """Each image is constant at (20 * label + 1) mod 256: lets a test see that pixels stayed with their labels."""
    return np.broadcast_to((labels * 20 + 1).astype(np.uint8).reshape(-1, *[1] * len(shape)),
                           (len(labels), *shape)).copy()


def write_mnist(root, folder="MNIST", n_train=40, n_test=10):
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        y = _labels(n, 10)
        x = _images(y, (28, 28))
        # idx format: magic (0, 0, type 0x08 = ubyte, ndims), big-endian int32 sizes, raw bytes.
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">BBBBiii", 0, 0, 8, 3, n, 28, 28) + x.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">BBBBi", 0, 0, 8, 1, n) + y.astype(np.uint8).tobytes())
    return raw


def write_cifar(root, hundred=False, per_batch=10, n_test=20):
    """CIFAR python pickles exactly as torchvision lays them out (dicts of numpy data and label lists)."""
    classes = 100 if hundred else 10
    folder = root / ("cifar-100-python" if hundred else "cifar-10-batches-py")
    folder.mkdir(parents=True)
    label_key = "fine_labels" if hundred else "labels"
    train_files = ["train"] if hundred else [f"data_batch_{i}" for i in range(1, 6)]
    for name, n in [(f, per_batch * (5 if hundred else 1)) for f in train_files] + [("test" if hundred else "test_batch", n_test)]:
        y = _labels(n, classes)
        entry = {"data": _images(y, (3072,)), label_key: y.tolist(), "batch_label": name,
                 "filenames": [f"{i}.png" for i in range(n)]}
        if hundred:
            entry["coarse_labels"] = (y // 5).tolist()
        with open(folder / name, "wb") as fh:
            pickle.dump(entry, fh, protocol=2)
    meta = ({"fine_label_names": [f"c{i}" for i in range(100)], "coarse_label_names": [f"g{i}" for i in range(20)]}
            if hundred else {"label_names": [f"c{i}" for i in range(10)], "num_cases_per_batch": per_batch})
    with open(folder / ("meta" if hundred else "batches.meta"), "wb") as fh:
        pickle.dump(meta, fh, protocol=2)
    return folder


def write_image_folder(root, classes=("cat", "dog", "eel"), per_class=8, size=(12, 10), splits=("train",)):
    from PIL import Image

    for split in splits:
        for c, name in enumerate(classes):
            d = root / split / name
            d.mkdir(parents=True)
            for i in range(per_class):
                colour = (40 * c + 30, 5 * i, 200 - 40 * c)
                Image.new("RGB", size, colour).save(d / f"{i}.png")
    return root


def _pixel_label_agree(data, mean, std):
    """Undo normalisation of channel 0 and check each image's value is (20 * label + 1) mod 256."""
    for x, y in ((data.train_x, data.train_y), (data.val_x, data.val_y), (data.test_x, data.test_y)):
        raw = (x[:, 0, 0, 0] * std[0] + mean[0]) * 255
        assert torch.allclose(raw, ((y * 20 + 1) % 256).float(), atol=0.05)


def test_vision_datasets_are_registered():
    assert {"mnist", "fashion_mnist", "cifar10", "cifar100", "image_folder"} <= set(DATASETS)


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_family_reads_idx_files(tmp_path, name, folder):
    write_mnist(tmp_path, folder)
    data = load_dataset(name, root=str(tmp_path), val_fraction=0.25, mean=[0.1], std=[0.3])
    assert data.spec.input_shape == (1, 28, 28) and data.spec.num_classes == 10
    assert (len(data.train_y), len(data.val_y), len(data.test_y)) == (30, 10, 10)
    assert data.train_x.dtype == torch.float32
    _pixel_label_agree(data, [0.1], [0.3])
    again = load_dataset(name, root=str(tmp_path), val_fraction=0.25, mean=[0.1], std=[0.3])
    assert torch.equal(again.val_y, data.val_y) and torch.equal(again.val_x, data.val_x)  # fixed split seed


def test_cifar10_reads_pickles_and_checks_md5(tmp_path):
    write_cifar(tmp_path)
    with pytest.raises(ConfigError, match="md5.*dataset.verify=false"):
        load_dataset("cifar10", root=str(tmp_path))
    data = load_dataset("cifar10", root=str(tmp_path), verify=False, val_fraction=0.2, mean=None, std=None,
                        augment="crop_flip")
    assert data.spec.input_shape == (3, 32, 32) and data.spec.num_classes == 10
    assert (len(data.train_y), len(data.val_y), len(data.test_y)) == (40, 10, 20)
    # Statistics computed from the training split: normalised training pixels have mean 0, std 1.
    assert abs(float(data.train_x.mean())) < 1e-4 and abs(float(data.train_x.std()) - 1) < 0.02
    _pixel_label_agree(data, data.info["mean"], data.info["std"])
    assert isinstance(data.augment, CropFlip)


def test_tiny_classes_still_get_a_validation_split(tmp_path):
    write_cifar(tmp_path)  # 5 images per class: a stratified 10% rounds to 0 in every class
    data = load_dataset("cifar10", root=str(tmp_path), verify=False)
    assert (len(data.train_y), len(data.val_y)) == (45, 5)
    with pytest.raises(ConfigError, match="dataset.val_fraction"):
        load_dataset("cifar10", root=str(tmp_path), verify=False, val_fraction=0.001)


def test_cifar100_fine_labels_and_max_train(tmp_path):
    write_cifar(tmp_path, hundred=True, per_batch=40, n_test=100)
    data = load_dataset("cifar100", root=str(tmp_path), verify=False, max_train=50, mean=[0.5], std=[0.25])
    assert data.spec.num_classes == 100 and len(data.train_y) == 50 and len(data.test_y) == 100
    _pixel_label_agree(data, [0.5], [0.25])


@pytest.mark.parametrize("name, folder, missing", [
    ("cifar10", "cifar-10-batches-py", "data_batch_1"),
    ("cifar100", "cifar-100-python", "train"),
    ("mnist", "MNIST/raw", "train-images-idx3-ubyte"),
    ("fashion_mnist", "FashionMNIST/raw", "t10k-labels-idx1-ubyte"),
])
def test_missing_files_offline_name_directory_files_and_override(tmp_path, name, folder, missing):
    with pytest.raises(ConfigError) as err:
        load_dataset(name, root=str(tmp_path / "nowhere"))
    message = str(err.value)
    assert f"nowhere/{folder}" in message and missing in message and "dataset.download=true" in message


def test_corrupted_files_are_config_errors(tmp_path):
    folder = write_cifar(tmp_path / "c")
    (folder / "data_batch_3").write_bytes(b"\x80\x02not a pickle")
    with pytest.raises(ConfigError, match="data_batch_3.*corrupted"):
        load_dataset("cifar10", root=str(tmp_path / "c"), verify=False)
    raw = write_mnist(tmp_path / "m")
    (raw / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 5)
    with pytest.raises(ConfigError, match="train-images-idx3-ubyte.*corrupted"):
        load_dataset("mnist", root=str(tmp_path / "m"))


def test_image_folder_carves_splits_and_computes_statistics(tmp_path):
    write_image_folder(tmp_path)
    data = load_dataset("image_folder", root=str(tmp_path), image_size=[8, 6], val_fraction=0.25, test_fraction=0.25)
    assert data.spec.input_shape == (3, 8, 6) and data.spec.num_classes == 3
    assert data.info["classes"] == ["cat", "dog", "eel"]
    assert (len(data.train_y), len(data.val_y), len(data.test_y)) == (12, 6, 6)
    assert abs(float(data.train_x.mean(dim=(0, 2, 3))[0])) < 1e-4  # training statistics used
    # Pixels stay with their class: red channel is 40 * class + 30.
    red = data.train_x[:, 0, 0, 0] * data.info["std"][0] + data.info["mean"][0]
    assert torch.allclose(red * 255, (40 * data.train_y + 30).float(), atol=0.1)


def test_image_folder_uses_val_and_test_folders_and_greyscale(tmp_path):
    write_image_folder(tmp_path, per_class=4, splits=("train", "val", "test"))
    data = load_dataset("image_folder", root=str(tmp_path), channels=1, image_size=5, mean=[0.5], std=[0.5])
    assert data.spec.input_shape == (1, 5, 5)
    assert (len(data.train_y), len(data.val_y), len(data.test_y)) == (12, 12, 12)
    assert sorted(data.info["splits_from_folders"]) == ["test", "val"]


def test_image_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="dataset.root"):
        load_dataset("image_folder", root=None)
    with pytest.raises(ConfigError, match="train/<class>"):
        load_dataset("image_folder", root=str(tmp_path / "missing"))
    write_image_folder(tmp_path, per_class=3)
    (tmp_path / "train" / "dog" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(ConfigError, match="broken.png"):
        load_dataset("image_folder", root=str(tmp_path), image_size=4)
    (tmp_path / "train" / "dog" / "broken.png").unlink()
    with pytest.raises(ConfigError, match="dataset.augment"):
        load_dataset("image_folder", root=str(tmp_path), augment="mixup")


def _reference_crop_flip(x, p, oy, ox, flip):
    out = torch.nn.functional.pad(x, (p, p, p, p))
    h, w = x.shape[-2:]
    rows = [out[i, :, oy[i] : oy[i] + h, ox[i] : ox[i] + w] for i in range(x.shape[0])]
    return torch.stack([r.flip(-1) if f else r for r, f in zip(rows, flip, strict=True)])


def test_crop_flip_matches_a_per_image_reference_and_is_reproducible():
    x = torch.randn(64, 3, 8, 8)
    aug = make_augment("crop_flip", padding=2)
    out = aug(x, torch.Generator().manual_seed(5))
    assert out.shape == x.shape
    assert torch.equal(out, aug(x, torch.Generator().manual_seed(5)))
    # Replay the generator to recover offsets and flips, then compare with image-by-image cropping.
    g = torch.Generator().manual_seed(5)
    oy = torch.randint(0, 5, (64, 1), generator=g)[:, 0]
    ox = torch.randint(0, 5, (64, 1), generator=g)[:, 0]
    flip = (torch.rand((64, 1), generator=g) < 0.5)[:, 0]
    assert torch.equal(out, _reference_crop_flip(x, 2, oy, ox, flip))
    assert 0 < int(flip.sum()) < 64 and len(set(oy.tolist())) > 1
    assert make_augment("none") is None
    flipped = make_augment("flip")(x, torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) or torch.equal(a, b.flip(-1)) for a, b in zip(flipped, x, strict=True))


def test_image_folder_search_end_to_end(nas, tmp_path):
    write_image_folder(tmp_path / "photos", per_class=10)
    work = tmp_path / "work"
    work.mkdir()
    proc = nas(["search", "dataset=image_folder", f"dataset.root={tmp_path / 'photos'}", "dataset.image_size=16",
                "dataset.augment=crop_flip", "search_space.filters=[8,16]", "search_space.dense_units=[0,16]", *TINY],
               cwd=work)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    summary = json.loads((only_run_dir(work) / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["dataset"] == "image_folder"
    assert summary["data"]["input_shape"] == [3, 16, 16] and summary["data"]["num_classes"] == 3
    assert summary["data"]["classes"] == ["cat", "dog", "eel"]
    assert summary["trials"]["total"] == 2 and summary["export"]["onnx_max_abs_diff"] <= 1e-4


def test_missing_cifar_from_the_cli_exits_2(nas, tmp_path):
    proc = nas(["search", "dataset=cifar10", f"dataset.root={tmp_path}", *TINY], cwd=tmp_path)
    assert proc.returncode == 2
    assert "cifar-10-batches-py" in proc.stderr and "dataset.download=true" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("dataset, space, extra", [
    ("cifar10", "nb201", ["search_space.channels=4", "search_space.cells_per_stage=1", "dataset.verify=false"]),
    ("mnist", "mobilenet", ["search_space.width_mults=[0.5]", "search_space.depths=[1]"]),
    ("fashion_mnist", "cnn", ["search_space.filters=[8,16]", "search_space.dense_units=[0,16]"]),
])
def test_vision_search_end_to_end(nas, tmp_path, dataset, space, extra):
    from tests.conftest import REPO

    assert (REPO / "configs" / "search_space" / f"{space}.yaml").is_file()
    if dataset == "cifar10":
        write_cifar(tmp_path / "data")
    else:
        write_mnist(tmp_path / "data", "MNIST" if dataset == "mnist" else "FashionMNIST", n_train=60)
    proc = nas(["search", f"dataset={dataset}", f"search_space={space}", f"dataset.root={tmp_path / 'data'}",
                *extra, *TINY], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    summary = json.loads((only_run_dir(tmp_path) / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["search_space"] == space
