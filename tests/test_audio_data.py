"""Audio loading: WAV/FLAC at several rates and channel counts through decode, mono mixdown,
resampling and pad/trim; log-mel features; grouped splits; SpecAugment; the spaces on spectrograms;
bad inputs as one clear line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.audio_files import write_clips

PATTERNS = {"label_pattern": r"^([a-z]+)_", "group_pattern": r"^[a-z]+_([a-z]+)_"}
FRONT = {"sample_rate": 8000, "duration": 0.25, "n_mels": 16, "n_fft": 256, "win_length": 200, "hop_length": 80}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    return write_clips(tmp_path_factory.mktemp("clips") / "data")


def load(root, **options):
    from nas_cli.data import load_dataset

    return load_dataset("audio_folder", root=str(root), **{**FRONT, **PATTERNS, **options})


def test_clips_become_log_mel_tensors_with_mono_resampled_fixed_length_waves(clips, tmp_path):
    import soundfile as sf

    from nas_cli.data.audio_read import clip_stats, decode_clip

    data = load(clips)
    assert data.spec.input_shape == (1, 16, 1 + 2000 // 80)
    assert data.info["classes"] == ["high", "low", "noise"] and data.spec.num_classes == 3
    assert data.train_x.shape[1:] == (1, 16, 26) and data.train_x.dtype.is_floating_point
    assert abs(float(data.train_x.mean())) < 1e-3 and abs(float(data.train_x.std()) - 1) < 1e-2  # training stats
    assert data.raw["train"]["waves"].shape[1] == 2000
    assert len(data.train_y) + len(data.val_y) + len(data.test_y) == 54

    # Stereo: the channel mean; 22,050 Hz -> 8,000 Hz keeps a 300 Hz tone at 300 Hz.
    t = np.arange(22050 // 5) / 22050
    left, right = np.sin(2 * np.pi * 300 * t), 0.5 * np.sin(2 * np.pi * 300 * t)
    sf.write(tmp_path / "st.wav", np.stack([left, right], 1).astype(np.float32), 22050)
    mono, seconds = decode_clip(tmp_path / "st.wav", 8000)
    assert seconds == pytest.approx(0.2, abs=1e-3) and len(mono) == pytest.approx(1600, abs=1)
    assert np.abs(mono).max() == pytest.approx(0.75, abs=0.02)
    assert clip_stats(mono, 8000)[1] == pytest.approx(300, abs=15)


def test_a_grouped_split_never_puts_one_speaker_in_two_splits(clips):
    for seed in range(4):
        data = load(clips, seed=seed)
        groups = {s: set(data.raw[s]["groups"]) for s in ("train", "val", "test")}
        assert groups["train"] and groups["val"] and groups["test"]
        assert not (groups["train"] & groups["val"]) and not (groups["train"] & groups["test"])
        assert not (groups["val"] & groups["test"])
    # Without group_pattern the split is per file: speakers do leak (why the option exists).
    plain = load(clips, group_pattern=None)
    speakers = {s: {Path(p).stem.split("_")[1] for p in plain.raw[s]["paths"]} for s in ("train", "test")}
    assert speakers["train"] & speakers["test"]


def test_folder_layout_with_test_folder_and_a_manifest(tmp_path):
    import soundfile as sf

    root = write_clips(tmp_path / "folders", speakers=("ann", "bob", "cat", "dan"), per=2, layout="folders")
    test_dir = root / "test" / "low"
    test_dir.mkdir(parents=True)
    sf.write(test_dir / "low_zed_0.wav", np.zeros(800, np.float32) + 0.1, 8000)
    data = load(root, label_pattern=None, group_pattern=None)
    assert data.raw["test"]["paths"] == [str(test_dir / "low_zed_0.wav")] and data.info["classes"] == ["high", "low", "noise"]

    rows = ["path,label,split"] + [f"{p.relative_to(root)},{p.parent.name},{'test' if 'dan' in p.name else ''}"
                                   for p in sorted((root / "train").rglob("*.*"))]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    data = load(root, manifest=str(tmp_path / "labels.csv"), label_pattern=None,
                group_pattern=r"^[a-z]+_([a-z]+)_")
    assert set(data.raw["test"]["groups"]) == {"dan"} and "dan" not in set(data.raw["train"]["groups"])


def test_spec_augment_masks_bands_and_frames_reproducibly():
    import torch

    from nas_cli.data.spec_augment import make_spec_augment

    aug = make_spec_augment("specaugment", freq_mask=4, time_mask=6, masks=2)
    x = torch.randn(32, 1, 16, 26) + 5.0  # no exact zeros before masking
    a, b = aug(x, torch.Generator().manual_seed(1)), aug(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == x.shape
    zero = a == 0
    assert zero.any() and not zero.all()
    # A masked band is zero over every frame; a masked span over every band: zeros come in full rows/columns.
    full_rows, full_cols = zero.all(dim=3), zero.all(dim=2)
    assert torch.equal(zero, full_rows[..., None] | full_cols[:, :, None, :])
    assert int(full_rows.sum(dim=2).max()) <= 2 * 4 and int(full_cols.sum(dim=2).max()) <= 2 * 6
    assert make_spec_augment("none") is None


@pytest.mark.parametrize("space", ["cnn", "mobilenet", "audio_cnn"])
def test_image_and_audio_spaces_build_on_spectrograms(space):
    import optuna
    import torch

    from nas_cli.data import DataSpec
    from nas_cli.spaces import build_space

    spec = DataSpec(name="audio_folder", input_shape=(1, 16, 26), num_classes=3, audio={})
    sp = build_space(space, spec=spec)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(3):
        arch = sp.sample(study.ask())
        assert sp.build(arch, spec).eval()(torch.randn(2, 1, 16, 26)).shape == (2, 3)


@pytest.mark.parametrize(("options", "message"), [
    ({"bogus": 1}, "dataset.bogus is not an audio_folder option"),
    ({"label_pattern": "^[a-z]+_"}, "must have exactly one (group)"),
    ({"group_pattern": r"^(\d+)_"}, "does not match dataset.group_pattern"),
    ({"sample_rate": 8000, "duration": 0.01}, "fewer than dataset.n_fft"),
    ({"augment": "mixup"}, "dataset.augment='mixup' is not allowed"),
    ({"root": "/no/such/dir"}, "does not exist"),
    ({"manifest": "labels.csv"}, "dataset.manifest and dataset.label_pattern both give labels"),
])
def test_bad_options_name_the_key(clips, options, message):
    from nas_cli.errors import ConfigError

    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(options.pop("root", clips), **options)


def test_a_corrupt_wav_stops_the_load_with_one_line_naming_it(tmp_path, nas):
    root = write_clips(tmp_path / "data", speakers=("ann", "bob", "cat"), per=1)
    (root / "low_bob_9.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    result = nas(["search", "dataset=audio_folder", f"dataset.root={root}", "dataset.label_pattern='^([a-z]+)_'",
                  "study.n_trials=1", "hardware=cpu"], cwd=tmp_path)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "low_bob_9.wav: not a readable audio file" in errors[0]
    assert "Traceback" not in result.stderr


def test_drift_tells_level_duration_and_spectral_centroid_apart():
    from nas_cli.data.audio_read import clip_stats
    from nas_cli.deploy.audio_drift import audio_reference, compare_audio

    rng = np.random.default_rng(0)

    def stats(freq, level, seconds, n=60):
        rows = []
        for _ in range(n):
            t = np.arange(int(8000 * seconds * rng.uniform(0.9, 1.1))) / 8000
            x = level * rng.uniform(0.8, 1.2) * np.sin(2 * np.pi * freq * rng.uniform(0.9, 1.1) * t)
            rows.append((*clip_stats(x + rng.normal(0, 0.005, len(t)), 8000)[:1], len(t) / 8000,
                         clip_stats(x, 8000)[1]))
        return np.asarray(rows)

    reference = audio_reference(stats(300, 0.3, 0.25))
    assert compare_audio(reference, stats(300, 0.3, 0.25))["drifted"] is False
    for new, feature in ((stats(1500, 0.3, 0.25), "centroid_hz"), (stats(300, 0.03, 0.25), "level_db"),
                         (stats(300, 0.3, 0.6), "seconds")):
        result = compare_audio(reference, new)
        assert result["drifted_features"] == [feature], result["verdict"]
