"""Medical data: MedMNIST-layout .npz files (binary, multi-class, multi-label; 28 and 64 px; grey and RGB),
any .npz with its own key names, DICOM folders (rescale, window, unreadable files skipped), the
multi-label task's metrics and balanced class weights."""

from __future__ import annotations

import numpy as np
import pytest

from nas_cli.errors import ConfigError
from tests.medical_files import write_dicom, write_dicom_folder, write_medmnist


def test_medmnist_binary_grey_uses_the_official_splits_and_names(tmp_path):
    from nas_cli.data import load_dataset

    write_medmnist(tmp_path / "pneumoniamnist.npz", "binary", n=(40, 12, 16))
    data = load_dataset("medmnist", flag="pneumoniamnist", root=str(tmp_path))
    assert data.spec.task == "classification" and data.spec.num_classes == 2
    assert data.spec.input_shape == (1, 28, 28)
    assert (len(data.train_y), len(data.val_y), len(data.test_y)) == (40, 12, 16)  # as given, nothing carved
    assert data.preprocess["classes"] == ["normal", "pneumonia"]
    assert data.info["official_splits"] == ["val", "test"] and data.info["class_counts"] == [20, 20]


def test_medmnist_plus_rgb_64_keeps_all_classes_of_the_flag(tmp_path):
    from nas_cli.data import load_dataset

    write_medmnist(tmp_path / "bloodmnist_64.npz", "multiclass", size=64, rgb=True, labels=5)
    data = load_dataset("medmnist", flag="bloodmnist", size=64, root=str(tmp_path))
    assert data.spec.input_shape == (3, 64, 64)
    assert data.spec.num_classes == 8  # BloodMNIST's 8 cells, though this tiny file holds 5 of them
    assert data.train_x.dtype.is_floating_point and data.train_y.dtype.is_signed


def test_retinamnist_ordinal_grades_are_classes(tmp_path):
    from nas_cli.data import load_dataset, resolve_task

    write_medmnist(tmp_path / "retinamnist.npz", "multiclass", rgb=True, labels=5)
    assert resolve_task({"name": "medmnist", "flag": "retinamnist", "root": str(tmp_path)}) == "classification"
    data = load_dataset("medmnist", flag="retinamnist", root=str(tmp_path))
    assert data.spec.task == "classification" and data.preprocess["classes"] == ["0", "1", "2", "3", "4"]


def test_chestmnist_is_a_multilabel_task_from_the_labels_shape(tmp_path):
    from nas_cli.data import load_dataset, resolve_task

    write_medmnist(tmp_path / "chestmnist.npz", "multilabel", labels=14)
    assert resolve_task({"name": "medmnist", "flag": "chestmnist", "root": str(tmp_path), "label_type": "auto"}) \
        == "multilabel"
    data = load_dataset("medmnist", flag="chestmnist", root=str(tmp_path))
    assert data.spec.task == "multilabel" and data.spec.num_classes == 14
    assert tuple(data.train_y.shape) == (60, 14) and data.train_y.dtype.is_floating_point
    assert data.preprocess["classes"][0] == "atelectasis"


def test_a_missing_medmnist_file_names_the_file_the_directory_and_the_download(tmp_path):
    from nas_cli.data import load_dataset

    with pytest.raises(ConfigError, match=r"dermamnist_128\.npz is missing in .*dataset\.download=true.*zenodo"):
        load_dataset("medmnist", flag="dermamnist", size=128, root=str(tmp_path))
    with pytest.raises(ConfigError, match="dataset.size=100"):
        load_dataset("medmnist", flag="dermamnist", size=100, root=str(tmp_path))


def test_medmnist_download_fetches_the_file_by_its_url_and_never_leaves_a_partial_one(tmp_path, monkeypatch):
    """dataset.download=true through the real urllib path, served from a local file:// "record"."""
    from nas_cli.data import load_dataset, medmnist

    record = tmp_path / "record"
    record.mkdir()
    write_medmnist(record / "pneumoniamnist.npz", "binary", n=(20, 6, 8))
    monkeypatch.setattr(medmnist, "ZENODO", record.as_uri() + "/{file}")
    root = tmp_path / "data"
    # the record's MD5 of the real file: the tiny stand-in does not match it, and is not kept
    with pytest.raises(ConfigError, match=r"pneumoniamnist\.npz.*MD5 [0-9a-f]{32} is not the record's 28209eda"):
        load_dataset("medmnist", flag="pneumoniamnist", root=str(root), download=True)
    assert not root.exists() or not any(root.iterdir())
    import hashlib

    from nas_cli.data import medmnist_md5

    monkeypatch.setitem(medmnist_md5.MD5, "pneumoniamnist.npz",
                        hashlib.md5((record / "pneumoniamnist.npz").read_bytes()).hexdigest())
    data = load_dataset("medmnist", flag="pneumoniamnist", root=str(root), download=True)
    assert len(data.train_y) == 20
    assert (root / "pneumoniamnist.npz").read_bytes() == (record / "pneumoniamnist.npz").read_bytes()
    with pytest.raises(ConfigError, match=r"could not download .*breastmnist\.npz"):
        load_dataset("medmnist", flag="breastmnist", root=str(root), download=True)
    assert sorted(p.name for p in root.iterdir()) == ["pneumoniamnist.npz"]  # no partial file left


def test_npz_with_own_keys_and_carved_test_split(tmp_path):
    from nas_cli.data import load_dataset

    keys = {"train_images": "x_train", "train_labels": "y_train", "val_images": "x_val", "val_labels": "y_val",
            "test_images": "x_unused", "test_labels": "y_unused"}
    path = write_medmnist(tmp_path / "scans.npz", "multiclass", n=(60, 20, 20), keys=keys)
    data = load_dataset("npz", path=str(path), train_images="x_train", train_labels="y_train", val_images="x_val",
                        val_labels="y_val", test_images=None, test_labels=None, test_fraction=0.2,
                        label_names=["a", "b", "c"])
    assert len(data.test_y) == 12 and len(data.train_y) == 48 and len(data.val_y) == 20
    assert data.preprocess["classes"] == ["a", "b", "c"]
    with pytest.raises(ConfigError, match=r"has no array 'train_labels' \(dataset.train_labels\); the file holds: "
                                          r"x_train, x_unused, x_val, y_train, y_unused, y_val$"):
        load_dataset("npz", path=str(path))


def test_bad_npz_contents_are_named(tmp_path):
    from nas_cli.data import load_dataset

    bad = tmp_path / "bad.npz"
    np.savez(bad, train_images=np.zeros((4, 2), np.uint8), train_labels=np.zeros(4))
    with pytest.raises(ConfigError, match=r"train_images has shape \(4, 2\)"):
        load_dataset("npz", path=str(bad), val_images=None, test_images=None)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="cannot be read as a .npz file"):
        load_dataset("npz", path=str(tmp_path / "junk.npz"))


def test_dicom_rescale_and_window_are_applied(tmp_path):
    from nas_cli.data.dicom_folder import read_dicom

    stored = np.array([[0, 500], [1000, 1500]], dtype=np.int16)  # slope 2, intercept -1000: -1000, 0, 1000, 2000 HU
    path = write_dicom(tmp_path / "a.dcm", stored, slope=2.0, intercept=-1000.0, window=(500.0, 1000.0))
    own = read_dicom(path, (2, 2), 1, None)[..., 0]  # the file's window: 0..1000 HU -> 0..255
    assert own.tolist() == [[0, 0], [255, 255]]
    given = read_dicom(path, (2, 2), 1, (0.0, 2000.0))[..., 0]  # -1000..1000 HU
    assert given.tolist() == [[0, 128], [255, 255]]
    inverted = write_dicom(tmp_path / "b.dcm", stored, slope=2.0, intercept=-1000.0, window=(500.0, 1000.0),
                           photometric="MONOCHROME1")
    assert read_dicom(inverted, (2, 2), 1, None)[..., 0].tolist() == [[255, 255], [0, 0]]


def test_dicom_folder_skips_unreadable_files_with_their_names(tmp_path, capsys):
    from pydicom.encaps import encapsulate

    from nas_cli.data import load_dataset

    root = write_dicom_folder(tmp_path / "ct", per_class=6, size=12)
    write_dicom(root / "normal" / "nopixels.dcm", np.zeros((4, 4)), with_pixels=False)
    (root / "lesion" / "junk.dcm").write_bytes(b"not a dicom file")
    compressed = write_dicom(root / "lesion" / "j2k.dcm", np.zeros((4, 4)))
    import pydicom

    ds = pydicom.dcmread(compressed)
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.201"  # HTJ2K: no decoder here
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"\x00" * 16])
    ds.save_as(compressed)
    data = load_dataset("dicom_folder", root=str(root), image_size=16, test_fraction=0.2)
    err = capsys.readouterr().err
    for name in ("nopixels.dcm", "junk.dcm", "j2k.dcm"):
        assert name in err
    assert sorted(p.rsplit("/", 1)[1] for p in data.info["skipped"]) == ["j2k.dcm", "junk.dcm", "nopixels.dcm"]
    assert data.spec.input_shape == (1, 16, 16) and len(data.train_y) + len(data.val_y) + len(data.test_y) == 12
    assert data.preprocess["dicom"] == {"window": None}


def test_a_dicom_class_without_readable_pixels_is_one_line_exit_2(tmp_path):
    from tests.conftest import run_nas

    root = tmp_path / "ct"
    write_dicom(root / "a" / "x.dcm", np.zeros((4, 4)), with_pixels=False)
    write_dicom(root / "b" / "y.dcm", np.ones((4, 4)))
    proc = run_nas(["search", "dataset=dicom_folder", f"dataset.root={root}", "hardware=cpu"], cwd=tmp_path,
                   timeout=120)
    assert proc.returncode == 2
    line = [x for x in proc.stderr.splitlines() if x.startswith("error")]
    assert len(line) == 1 and "every .dcm file of class 'a' is unreadable" in line[0] and "Traceback" not in proc.stderr


def test_multilabel_metrics_match_scikit_learn_and_the_numpy_path():
    import torch
    from sklearn.metrics import roc_auc_score

    from nas_cli.tasks import get_task

    rng = np.random.default_rng(0)
    y = (rng.random((50, 3)) < 0.4).astype(np.float32)
    z = rng.normal(size=(50, 3)) + 2 * y
    task = get_task("multilabel")
    full = task.evaluate(torch.tensor(z, dtype=torch.float32), torch.tensor(y), full=True)
    assert full["auc"] == pytest.approx(np.mean([roc_auc_score(y[:, k], z[:, k]) for k in range(3)]))
    assert full["accuracy"] == pytest.approx(((z > 0) == y).mean())
    numpy = task.evaluate_numpy(z, y, full=True)
    assert numpy["loss"] == pytest.approx(full["loss"], rel=1e-5) and numpy["auc"] == pytest.approx(full["auc"])


def test_balanced_class_weights_come_from_the_training_split():
    import torch

    from nas_cli.tasks import get_task
    from nas_cli.tasks.class_weights import apply_class_weights, balanced_weights

    y = torch.tensor([0] * 8 + [1] * 2)
    assert balanced_weights(y, "classification").tolist() == pytest.approx([10 / 16, 10 / 4])
    labels = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert balanced_weights(labels, "multilabel").tolist() == pytest.approx([3.0, 1.0])

    class Data:
        train_y = y
        spec = type("Spec", (), {"num_classes": 2})()

    plain = get_task("classification")
    weighted = apply_class_weights(plain, Data, "balanced")
    logits, target = torch.zeros(2, 2), torch.tensor([0, 1])
    logits[1, 1] = 3.0  # the rare class right, the common one unsure: weighting rewards it more
    assert float(weighted.loss(logits, target)) < float(plain.loss(logits, target))
    assert apply_class_weights(plain, Data, None) is plain
    with pytest.raises(ConfigError, match="train.class_weights='inverse'"):
        apply_class_weights(plain, Data, "inverse")


@pytest.mark.parametrize("task,targets,classes", [
    ("classification", np.array([0, 1, 1, 0, 1, 0]), ["normal", "pneumonia"]),
    ("classification", np.array([0, 1, 2, 0, 1, 2]), ["a", "b", "c"]),
    ("multilabel", np.array([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0], [0, 1]]), ["x", "y"]),
])
def test_report_draws_confusion_matrix_and_roc_from_saved_test_outputs(tmp_path, task, targets, classes):
    import matplotlib

    matplotlib.use("Agg")
    from nas_cli.report.test_plots import test_figures

    logits = np.random.default_rng(0).normal(size=(6, len(classes)))
    np.savez(tmp_path / "test_outputs.npz", logits=logits, targets=targets, classes=np.asarray(classes),
             task=np.asarray(task))
    notes: list[str] = []
    figures = test_figures(tmp_path, tmp_path, notes)
    assert [f[0] for f in figures] == ["confusion_matrix.png", "roc_curves.png"] and not notes
    assert "macro AUC" in figures[1][2] and (tmp_path / "roc_curves.png").stat().st_size > 1000
    assert test_figures(tmp_path / "none", tmp_path, notes) == [] and "test_outputs.npz is missing" in notes[0]


def test_multilabel_robustness_reports_auc_under_noise_and_fgsm():
    import torch

    from nas_cli.deploy.robustness import robustness_rows
    from nas_cli.tasks import get_task

    torch.manual_seed(0)
    x = torch.randn(64, 4)
    y = (x[:, :2] > 0).float()  # label k is the sign of feature k: a linear model can be near perfect
    model = torch.nn.Linear(4, 2)
    with torch.no_grad():
        model.weight.zero_()
        model.weight[0, 0] = model.weight[1, 1] = 5.0
        model.bias.zero_()
    task = get_task("multilabel")
    rob = task.robustness(model, x, y, noise_std=0.1, fgsm_epsilon=0.5)
    assert rob["clean_auc"] == pytest.approx(1.0) and rob["fgsm_auc"] < rob["clean_auc"]
    assert [r[0] for r in robustness_rows(rob, task.score)] == ["clean", "Gaussian noise, std 0.1",
                                                                 "FGSM attack, epsilon 0.5"]
