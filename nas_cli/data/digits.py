"""scikit-learn's handwritten digits: 1,797 8x8 grey images, 10 classes, shipped with the package."""

from __future__ import annotations

from nas_cli.data import Data, DataSpec, split_indices
from nas_cli.errors import ConfigError


def load_digits(val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0, **_: object) -> Data:
    """Stratified train/val/test split with a fixed seed; pixels scaled to [0, 1]."""
    import numpy as np
    import torch
    from sklearn.datasets import load_digits as sk_load_digits

    for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < float(value) < 0.5:
            raise ConfigError(f"dataset.{key} must be between 0 and 0.5, got {value!r}")
    bunch = sk_load_digits()
    x = torch.from_numpy((bunch.images / 16.0).astype(np.float32)).unsqueeze(1)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    # Test first, from the whole set; validation from what remains.
    rest, test = split_indices(len(y), (test_fraction,), seed, labels=bunch.target)
    train_rel, val_rel = split_indices(len(rest), (val_fraction,), seed + 1, labels=bunch.target[rest])
    train, val = rest[train_rel], rest[val_rel]
    spec = DataSpec(name="digits", input_shape=(1, 8, 8), num_classes=10)
    return Data(
        spec=spec,
        train_x=x[train], train_y=y[train],
        val_x=x[val], val_y=y[val],
        test_x=x[test], test_y=y[test],
        info={"train": len(train), "val": len(val), "test": len(test)},
        # Raw inputs are 8x8 grey images, 255 = full ink (the data's 0-16 scaled to [0, 1] as in training).
        preprocess={"kind": "image", "size": [8, 8], "channels": 1, "resize": "stretch", "scale": 255.0,
                    "mean": [0.0], "std": [1.0], "classes": [str(c) for c in range(10)]},
    )
