"""Tiny medical files in their real on-disk formats: MedMNIST-layout .npz (binary, multi-class, multi-label,
grey or RGB) and DICOM files written with pydicom (CT-like, with rescale slope/intercept and a window)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SMALL_CNN = ["search_space.max_layers=2", "search_space.filters=[8,16]", "search_space.dense_units=[0,16]",
             "search_space.kernel_sizes=[3]"]


def make_images(rng, labels, size: int, rgb: bool):
    """uint8 images whose top-left patch is bright for class 1 (or for label 0 of multi-label rows)."""
    n = len(labels)
    x = rng.integers(0, 90, (n, size, size, 3) if rgb else (n, size, size)).astype(np.uint8)
    first = labels if labels.ndim == 1 else labels[:, 0]
    bright = (first % 2 == 1) if labels.ndim == 1 else first == 1
    x[bright, : size // 3, : size // 3] = 220
    if labels.ndim == 1:  # other classes: a stripe whose row depends on the class
        for k in np.unique(labels):
            x[labels == k, size - 3 - int(k) % (size - 4), :] = 255
    return x


def write_medmnist(path: Path, kind: str, *, n=(60, 20, 20), size: int = 28, rgb: bool = False, seed: int = 0,
                   labels: int = 3, keys: dict | None = None) -> Path:
    """A MedMNIST-layout file: kind binary | multiclass | multilabel; labels stored as MedMNIST does
    ([N, 1] uint8 for classes, [N, L] uint8 for multi-label)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, count in zip(("train", "val", "test"), n, strict=True):
        if kind == "multilabel":
            y = (rng.random((count, labels)) < 0.35).astype(np.uint8)
            y[: count // 4, 0], y[count // 4 : count // 2, 0] = 1, 0  # both values of label 0 in every split
        else:
            k = 2 if kind == "binary" else labels
            y = (np.arange(count) % k).astype(np.uint8)
        x = make_images(rng, y, size, rgb)
        names = keys or {}
        arrays[names.get(f"{split}_images", f"{split}_images")] = x
        arrays[names.get(f"{split}_labels", f"{split}_labels")] = y if kind == "multilabel" else y[:, None]
    np.savez_compressed(path, **arrays)
    return path


def write_dicom(path: Path, pixels, *, slope: float = 1.0, intercept: float = 0.0, window=None,
                photometric: str = "MONOCHROME2", with_pixels: bool = True) -> Path:
    """One uncompressed (explicit VR little endian) CT image of int16 stored values."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID = "CT", "TEST"
    pixels = np.asarray(pixels, dtype=np.int16)
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if with_pixels:
        ds.PixelData = pixels.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(str(path), enforce_file_format=True)
    return path


def write_dicom_folder(root: Path, per_class: int = 12, size: int = 24, seed: int = 0) -> Path:
    """ROOT/<class>/*.dcm for two classes: 'lesion' has a dense (high HU) blob, 'normal' does not."""
    rng = np.random.default_rng(seed)
    for label, name in enumerate(("normal", "lesion")):
        for i in range(per_class):
            hu = rng.normal(0, 30, (size, size))  # soft tissue around 0 HU
            if label:
                hu[size // 4 : size // 2, size // 4 : size // 2] = 300
            stored = np.round((hu + 1024) / 1.0).astype(np.int16)  # slope 1, intercept -1024
            write_dicom(root / name / f"{i:03d}.dcm", stored, intercept=-1024.0, window=(40.0, 400.0))
    return root
