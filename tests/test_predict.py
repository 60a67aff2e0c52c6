import json
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

import predict
from conftest import PROJECT_DIR, synthetic_sample, write_synthetic_drive
from vesselseg.data import drive_data
from vesselseg.inference import models, segment
from vesselseg.unet import build_unet


def first_channel_model():
    """A fully convolutional stand-in for the U-Net that returns its input's red channel."""
    inputs = keras.Input((None, None, 3))
    return keras.Model(inputs, keras.layers.Lambda(lambda x: x[..., :1])(inputs))


@pytest.mark.parametrize("tta", [False, True])
def test_padding_gives_back_every_pixel_in_place(tta):
    images = np.random.default_rng(0).random((3, 584, 565, 3)).astype(np.float32)
    maps = segment.segment_images(first_channel_model(), images, batch_size=2, tta=tta, progress=False)
    assert maps.shape == (3, 584, 565)
    np.testing.assert_allclose(maps, images[..., 0], atol=1e-6)


def test_pad_to_multiple_reflects_at_bottom_right():
    padded = segment.pad_to_multiple(np.arange(20.0).reshape(1, 4, 5, 1), multiple=8)
    assert padded.shape == (1, 8, 8, 1)
    np.testing.assert_array_equal(padded[0, :4, :5, 0], np.arange(20.0).reshape(4, 5))
    assert padded[0, 4, 0, 0] == padded[0, 2, 0, 0]


def test_fov_estimate_matches_drive_masks(drive_dir):
    for split in ("training", "test"):
        data = drive_data.load_split(drive_dir, split)
        for image, mask in zip(data.images, data.masks):
            estimate = segment.estimate_fov(image)
            assert (estimate & mask).sum() / (estimate | mask).sum() >= 0.95


def run_predict(*flags):
    return subprocess.run(
        [sys.executable, str(PROJECT_DIR / "predict.py"), *flags], capture_output=True, text=True, timeout=600
    )


def test_drive_run_writes_every_file_and_scores_reproducibly(tmp_path, weights_file):
    data_dir = write_synthetic_drive(tmp_path / "DRIVE", height=64, width=72, test_ids=(1, 2, 3))
    output = tmp_path / "out"
    assert (
        predict.main(
            predict.get_args(
                [
                    "--data-dir",
                    str(data_dir),
                    "--weights",
                    str(weights_file),
                    "--output-dir",
                    str(output),
                    "--name",
                    "demo",
                ]
            )
        )
        == 0
    )
    test_dir = output / "demo" / "test"
    for image_id in (1, 2, 3):
        for suffix in ("_prob.npy", "_prob.png", "_prediction.png", "_difference.png"):
            assert (test_dir / f"{image_id:02d}{suffix}").stat().st_size > 0
    for name in ("difference_grid.png", "curves.png", "metrics.json", "per_image.csv"):
        assert (test_dir / name).stat().st_size > 0
    assert (output / "results.md").read_text().count("| demo (TTA) |") == 1

    # An independent scorer: the saved maps, the masks and scikit-learn.
    test = drive_data.load_split(data_dir, "test")
    maps = np.stack([np.load(test_dir / f"{image_id:02d}_prob.npy") for image_id in test.ids])
    assert maps.shape == test.manual1.shape and maps.dtype == np.float32
    metrics = json.loads((test_dir / "metrics.json").read_text())
    for key, truth in (("vs_1st_manual", test.manual1), ("vs_2nd_manual", test.manual2)):
        expected = roc_auc_score(truth[test.masks], maps[test.masks])
        assert round(metrics[key]["pooled"]["roc_auc"], 4) == round(expected, 4)
    assert len(metrics["vs_1st_manual"]["per_image"]) == 3

    with pytest.raises(FileExistsError, match="--overwrite"):
        predict.main(
            predict.get_args(
                [
                    "--data-dir",
                    str(data_dir),
                    "--weights",
                    str(weights_file),
                    "--output-dir",
                    str(output),
                    "--name",
                    "demo",
                ]
            )
        )

    # Another inference setting of the same weights goes to its own folder and row.
    assert (
        predict.main(
            predict.get_args(
                [
                    "--data-dir",
                    str(data_dir),
                    "--weights",
                    str(weights_file),
                    "--output-dir",
                    str(output),
                    "--no-tta",
                    "--precision",
                    "bfloat16",
                ]
            )
        )
        == 0
    )
    assert json.loads((output / "random_bfloat16" / "test" / "metrics.json").read_text())["precision"] == "bfloat16"
    table = (output / "results.md").read_text()
    assert "| random_bfloat16 (bfloat16) |" in table and "| demo (TTA) |" in table

    # --no-figures keeps the maps and the scores, and draws nothing.
    assert (
        predict.main(
            predict.get_args(
                [
                    "--data-dir",
                    str(data_dir),
                    "--weights",
                    str(weights_file),
                    "--output-dir",
                    str(output),
                    "--no-figures",
                    "--name",
                    "bare",
                ]
            )
        )
        == 0
    )
    bare = output / "bare" / "test"
    assert sorted(path.name for path in bare.glob("*.png")) == ["01_prob.png", "02_prob.png", "03_prob.png"]
    assert len(list(bare.glob("*_prob.npy"))) == 3
    assert json.loads((bare / "metrics.json").read_text())["vs_1st_manual"] == metrics["vs_1st_manual"]


def test_bfloat16_computes_in_bfloat16_and_returns_float32_probabilities(weights_file):
    images = np.random.default_rng(2).random((2, 48, 64, 3)).astype(np.float32)
    exact = segment.load_model(weights_file)
    fast = segment.load_model(weights_file, precision="bfloat16")
    assert fast.get_layer("encoder1_conv1").compute_dtype == "bfloat16"
    assert fast.get_layer("encoder1_conv1").kernel.dtype == "float32"
    assert fast.get_layer("vessel_probability").compute_dtype == "float32"
    # The policy applies to the model being built only.
    assert (
        keras.config.dtype_policy().name == "float32" and exact.get_layer("encoder1_conv1").compute_dtype == "float32"
    )
    maps = segment.segment_images(fast, images, progress=False)
    assert maps.dtype == np.float32
    # bfloat16 keeps 8 bits of mantissa: close to float32, and not equal to it.
    difference = np.abs(maps - segment.segment_images(exact, images, progress=False))
    assert 0 < difference.max() < 0.02
    with pytest.raises(ValueError, match="precision must be one of"):
        segment.load_model(weights_file, precision="float16")


def test_own_photographs_of_any_size_and_format(tmp_path, weights_file):
    rng = np.random.default_rng(3)
    folder = tmp_path / "photos"
    folder.mkdir()
    sizes = {"small": (120, 100), "wide": (150, 200), "grey16": (128, 128), "rgba": (100, 130)}
    for name, (height, width) in sizes.items():
        image, _, _ = synthetic_sample(rng, height, width)
        if name == "grey16":
            Image.fromarray((image[..., 0].astype(np.uint16) * 257)).save(folder / f"{name}.png")
        elif name == "rgba":
            Image.fromarray(np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])).save(folder / f"{name}.png")
        else:
            Image.fromarray(image).save(folder / f"{name}.{'jpg' if name == 'small' else 'ppm'}")
    (folder / "broken.png").write_text("not an image")
    Image.fromarray(np.zeros((30, 30, 3), np.uint8)).save(folder / "tiny.png")

    result = run_predict("--images", str(folder), "--weights", str(weights_file), "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "broken.png" in result.stderr and "tiny.png" in result.stderr and "at least 64" in result.stderr
    out = tmp_path / "out" / "random_tta" / "photos"
    for name, (height, width) in sizes.items():
        assert np.load(out / f"{name}_prob.npy").shape == (height, width)
        for suffix in ("_prob.png", "_vessels.png", "_overlay.png"):
            assert (out / f"{name}{suffix}").is_file()


def test_photographs_whose_outputs_would_collide_are_refused_up_front(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    image, _, _ = synthetic_sample(np.random.default_rng(0), 100, 100)
    Image.fromarray(image).save(folder / "eye.jpg")
    Image.fromarray(image).save(folder / "eye.png")
    with pytest.raises(ValueError, match="eye.jpg and eye.png share the name 'eye'"):
        predict.main(predict.get_args(["--images", str(folder), "--output-dir", str(tmp_path / "out")]))
    assert not (tmp_path / "out").exists()
    # An output folder that cannot be made is one line naming it.
    (tmp_path / "a_file").write_text("")
    (folder / "eye.png").unlink()
    with pytest.raises(FileExistsError, match="cannot make the output folder"):
        predict.prepare_output(tmp_path / "a_file" / "out", overwrite=False)


def test_two_sets_whose_photographs_are_in_images_folders_land_apart(tmp_path):
    # DRIVE, CHASE_DB1, LES-AV and DR HAGIS all keep their photographs in a folder named images.
    def name(path):
        return predict.images_folder_name(predict.get_args(["--images", str(path)]))

    folders = [tmp_path / "CHASEDB1" / "images", tmp_path / "LESAV" / "images", tmp_path / "DRIVE" / "test" / "images"]
    for folder in [*folders, tmp_path / "cohort" / "photos"]:
        folder.mkdir(parents=True)
    assert {name(folder) for folder in folders} == {"CHASEDB1_images", "LESAV_images", "test_images"}
    assert name(tmp_path / "cohort" / "photos") == "photos"
    (tmp_path / "LESAV" / "images" / "15.png").write_bytes(b"")
    assert name(tmp_path / "LESAV" / "images" / "15.png") == "LESAV_images"


def test_missing_weights_say_how_to_train(tmp_path, monkeypatch, drive_dir):
    # DRIVE mode needs DRIVE where predict.py looks for it; without it, predict.py segments the
    # sample retina with another model, whose weights are present.
    monkeypatch.setenv("DRIVE_DIR", str(drive_dir))
    args = predict.get_args(["--output-dir", str(tmp_path / "out")])
    monkeypatch.setattr(models, "DEFAULT_WEIGHTS", tmp_path / "weights" / "unet_aug" / "model.weights.h5")
    with pytest.raises(FileNotFoundError, match="python baseline_aug.py"):
        predict.main(args)
    assert not (tmp_path / "out").exists()


def test_weights_of_another_architecture_are_refused(tmp_path, weights_file):
    result = run_predict("--weights", str(weights_file), "--encoder", "vgg16", "--output-dir", str(tmp_path / "out"))
    assert result.returncode != 0 and "does not hold weights of the vgg16 U-Net" in result.stderr
    assert not (tmp_path / "out").exists()


def test_without_drive_it_segments_the_sample_retina(tmp_path, weights_file, monkeypatch, capsys):
    monkeypatch.delenv("DRIVE_DIR", raising=False)
    monkeypatch.setattr(drive_data, "DEFAULT_INPUT_DIR", tmp_path / "empty-input")
    assert predict.main(predict.get_args(["--weights", str(weights_file), "--output-dir", str(tmp_path / "out")])) == 0
    assert "sample retina" in capsys.readouterr().out
    assert np.load(tmp_path / "out" / "random_tta" / "sample_retina" / "retina_prob.npy").shape == (1411, 1411)


def test_an_ensemble_averages_its_members_maps(tmp_path, weights_file):
    other = tmp_path / "other.weights.h5"
    keras.utils.set_random_seed(2)
    build_unet("scratch").save_weights(other)
    data_dir = write_synthetic_drive(tmp_path / "DRIVE", height=64, width=72, test_ids=(1, 2))
    output = tmp_path / "out"
    assert (
        predict.main(
            predict.get_args(
                [
                    "--data-dir",
                    str(data_dir),
                    "--weights",
                    str(weights_file),
                    str(other),
                    "--output-dir",
                    str(output),
                    "--no-tta",
                ]
            )
        )
        == 0
    )
    test_dir = output / "random+other" / "test"
    metrics = json.loads((test_dir / "metrics.json").read_text())
    assert metrics["weights"] == [str(weights_file), str(other)] and metrics["training"] is None

    test = drive_data.load_split(data_dir, "test")
    members = [
        segment.segment_images(segment.load_model(path), test.images, progress=False) for path in (weights_file, other)
    ]
    assert not np.allclose(members[0], members[1])
    for index, image_id in enumerate(test.ids):
        saved = np.load(test_dir / f"{image_id:02d}_prob.npy")
        np.testing.assert_allclose(saved, (members[0][index] + members[1][index]) / 2, atol=1e-6)


def test_an_ensemble_refuses_members_of_different_normalisations(tmp_path, weights_file):
    standardised = tmp_path / "standardised.weights.h5"
    standardised.write_bytes(weights_file.read_bytes())
    (tmp_path / "standardised.config.json").write_text(
        json.dumps(
            {"run_name": "standardised", "encoder": "scratch", "dropout": 0.1, "normalisation": "fov_standardise"}
        )
    )
    args = predict.get_args(["--weights", str(weights_file), str(standardised), "--output-dir", str(tmp_path / "out")])
    with pytest.raises(ValueError, match="share an input normalisation.*standardised: fov_standardise"):
        predict.main(args)
    assert not (tmp_path / "out").exists()
