"""Data drift for images: same distribution -> no drift; brighter images -> drift, in plain words."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nas_cli.deploy.drift import compare_images, feature_names, image_reference
from nas_cli.errors import ConfigError


def _images(n: int, seed: int, brightness: float = 1.0) -> np.ndarray:
    """Textured uint8 NCHW images: a per-image level, a horizontal gradient and noise."""
    rng = np.random.default_rng(seed)
    level = rng.normal(110, 25, size=(n, 3, 1, 1))
    gradient = np.linspace(-30, 30, 16)[None, None, None, :] * rng.uniform(0.5, 1.5, size=(n, 1, 1, 1))
    x = (level + gradient + rng.normal(0, 20, size=(n, 3, 16, 16))) * brightness
    return np.clip(x, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def reference():
    # Through JSON, as it is stored beside the export.
    return json.loads(json.dumps(image_reference(_images(600, seed=0), max_samples=400)))


def test_same_distribution_reports_no_drift(reference):
    result = compare_images(reference, _images(400, seed=1))
    assert not result["drifted"], result["verdict"]
    assert result["verdict"].startswith("no drift detected (0 of 22 features differ")
    assert result["drifted_features"] == []
    assert all(abs(c["mean_shift_in_std"]) < 0.25 for c in result["channels"])


def test_brighter_images_report_drift_in_words(reference):
    result = compare_images(reference, _images(400, seed=2, brightness=1.3))
    assert result["drifted"]
    assert result["verdict"].startswith("drift: channel ")
    assert "features differ (KS, p<0.01 after Bonferroni)" in result["verdict"]
    assert {"mean_c0", "mean_c1", "mean_c2"} <= set(result["drifted_features"])
    assert all(c["mean_shift"] > 0.05 for c in result["channels"])
    for test in result["features"]:  # Bonferroni: corrected = min(1, p * number of features)
        assert test["p_corrected"] == pytest.approx(min(1.0, test["p_value"] * 22))


def test_reference_is_json_and_sampled_with_a_seed():
    x = _images(300, seed=3)
    ref = image_reference(x, max_samples=100, seed=5)
    again = json.loads(json.dumps(ref))
    assert again == ref and again == image_reference(x, max_samples=100, seed=5)
    assert ref["features"] == feature_names(3) and len(ref["features"]) == 22
    assert np.asarray(ref["sample"]).shape == (100, 22) and ref["count"] == 300
    # Channel statistics cover the whole split, in [0, 1] units.
    np.testing.assert_allclose(ref["mean"], (x / 255.0).mean(axis=(0, 2, 3)), atol=1e-9)
    np.testing.assert_allclose(ref["std"], (x / 255.0).std(axis=(0, 2, 3)), atol=1e-6)


def test_grey_images_and_uneven_sizes_work():
    x = _images(200, seed=4)[:, :1, :, :10]  # 1 channel, 16 x 10 pixels
    ref = image_reference(x)
    assert len(ref["features"]) == 18
    assert not compare_images(ref, _images(200, seed=5)[:, :1, :, :10])["drifted"]


def test_wrong_input_is_a_clear_error():
    ref = image_reference(_images(50, seed=6))
    with pytest.raises(ConfigError, match="channel"):
        compare_images(ref, _images(50, seed=7)[:, :1])
    with pytest.raises(ConfigError, match="uint8"):
        compare_images(ref, _images(50, seed=7).astype(np.float32))
