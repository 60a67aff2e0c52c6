"""Other cameras: the input normalisation, strong augmentation, and --images with labels."""

import argparse
import json

import keras
import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

import aug_utils
import predict
from conftest import synthetic_sample
from vesselseg.cohort.scores import BINS
from vesselseg.data.image_files import match_companion
from vesselseg.inference import photographs, segment
from vesselseg.inference.normalisation import (
    fill_outside,
    fold_standardisation,
    model_normalisation,
    normalise_image,
    normalise_images,
)
from vesselseg.training import batches as training_batches
from vesselseg.training import camera_aug


def photograph_and_fov(seed=0, height=40, width=48):
    rng = np.random.default_rng(seed)
    image = rng.random((height, width, 3)).astype(np.float32) * np.array([0.9, 0.5, 0.3], dtype=np.float32)
    fov = np.zeros((height, width), dtype=bool)
    fov[5:35, 6:40] = True
    # A bright surround that must not enter the statistics.
    image[~fov] = 1.0
    return image, fov


def test_standardisation_uses_fov_pixels_only_and_zeroes_the_rest():
    image, fov = photograph_and_fov()
    result = normalise_image(image, fov, "fov_standardise")
    assert result.dtype == np.float32 and result.shape == image.shape
    np.testing.assert_allclose(result[fov].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(result[fov].std(axis=0), 1, atol=1e-4)
    assert not result[~fov].any()
    # A camera's gain and offset per channel do not change the network's input.
    recoloured = np.clip(image * np.array([0.6, 1.3, 0.8], dtype=np.float32) + 0.05, 0, 2)
    np.testing.assert_allclose(normalise_image(recoloured, fov, "fov_standardise"), result, atol=1e-4)
    # RGB/255 is the faithful default, unchanged; a flat image gives zeros, not NaN.
    np.testing.assert_array_equal(normalise_image(image, fov, "rgb255"), image)
    assert not normalise_image(np.full_like(image, 0.5), fov, "fov_standardise").any()


def test_model_normalisation_defaults_to_rgb255_and_refuses_unknown_names():
    assert model_normalisation(None) == model_normalisation({}) == "rgb255"
    assert model_normalisation({"normalisation": "fov_standardise"}) == "fov_standardise"
    with pytest.raises(ValueError, match="normalisation must be one of"):
        model_normalisation({"normalisation": "clahe"})


def test_training_crops_equal_the_inference_input():
    """Without augmentation, a training crop is the crop of what segment_images feeds the network."""
    image, fov = photograph_and_fov(1, 32, 32)
    masks = np.zeros((1, 32, 32))
    camera = camera_aug.CameraAugmentation(image[None], fov[None], normalisation="fov_standardise")
    crops, _ = aug_utils.sample_batch(
        image[None],
        masks,
        np.random.default_rng(0),
        augmentation=False,
        images_per_batch=1,
        crops_per_image=1,
        crop=32,
        camera=camera,
    )
    np.testing.assert_allclose(crops[0], normalise_images(image[None], fov[None], "fov_standardise")[0], atol=1e-5)


def test_strong_augmentation_standardises_with_the_augmented_statistics():
    image, fov = photograph_and_fov(2, 64, 64)
    camera = camera_aug.CameraAugmentation(image[None], fov[None], normalisation="fov_standardise", strong=True)
    batch, _ = aug_utils.sample_batch(
        image[None],
        np.zeros((1, 64, 64)),
        np.random.default_rng(3),
        images_per_batch=8,
        crops_per_image=1,
        crop=32,
        camera=camera,
        zoom=((0.7, 1.4), 0.5),
    )
    inside = batch[batch != 0]
    assert batch.shape == (8, 32, 32, 3) and np.isfinite(batch).all()
    assert abs(inside.mean()) < 0.5 and 0.5 < inside.std() < 2
    # The colour transforms act on crops and statistics alike.
    crops, sample = camera_aug.strong_photometric(image[None, :8, :8], image[fov][:50], np.random.default_rng(0))
    assert crops.dtype == sample.dtype == np.float32 and 0 <= crops.min() and crops.max() <= 1


def test_faithful_batches_are_unchanged_by_the_new_options():
    images = np.random.default_rng(4).random((2, 40, 40, 3)).astype(np.float32)
    masks = np.zeros((2, 40, 40))
    config = {"seed": 3, "augmentation": True, "batch_size": 8, "crop": 16, "steps_per_epoch": 2}
    old_style = aug_utils.sample_batch(images, masks, np.random.default_rng([3, 0, 0]), images_per_batch=2, crop=16)
    new_style = training_batches.CropBatches(images, masks, config)[0]
    np.testing.assert_array_equal(old_style[0], new_style[0])


def test_folding_the_statistics_keeps_the_first_convolution_output():
    rng = np.random.default_rng(5)
    kernel, bias = rng.normal(size=(3, 3, 3, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    mean, std = np.array([0.6, 0.3, 0.2], np.float32), np.array([0.2, 0.1, 0.05], np.float32)
    standardised = rng.normal(size=(1, 10, 10, 3)).astype(np.float32)
    layer = keras.layers.Conv2D(4, 3)
    layer.build((None, 10, 10, 3))
    layer.set_weights([kernel, bias])
    expected = keras.ops.convert_to_numpy(layer(standardised * std + mean))
    layer.set_weights(list(fold_standardisation(kernel, bias, mean, std)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(standardised)), expected, atol=1e-4)


def test_segment_images_normalises_as_the_model_was_trained():
    image, fov = photograph_and_fov(6, 48, 64)
    inputs = keras.Input((None, None, 3))
    red = keras.Model(inputs, keras.layers.Lambda(lambda x: x[..., :1])(inputs))
    maps = segment.segment_images(red, image[None], fovs=fov[None], normalisation="fov_standardise", progress=False)
    np.testing.assert_allclose(maps[0], normalise_image(image, fov, "fov_standardise")[..., 0], atol=1e-5)


def test_labels_and_masks_are_matched_as_datasets_name_them(tmp_path):
    for name in (
        "Image_01L_1stHO.png",
        "Image_01R-vessels.png",
        "Image_02L.png",
        "Image_02L_1stHO.png",
        "Image_03L.gif",
        "01_test_mask.gif",
        "notes.txt",
    ):
        (tmp_path / name).write_bytes(b"")
    assert match_companion(tmp_path, "Image_01L").name == "Image_01L_1stHO.png"
    assert match_companion(tmp_path, "Image_01R").name == "Image_01R-vessels.png"
    assert match_companion(tmp_path, "Image_03L").name == "Image_03L.gif"
    assert match_companion(tmp_path, "Image_04L") is None
    assert match_companion(tmp_path, "Image_0") is None  # a prefix that is not followed by _ or - is no match
    with pytest.raises(ValueError, match="2 files .* could belong to Image_02L"):
        match_companion(tmp_path, "Image_02L")
    assert match_companion(tmp_path, "01_manual1", by_leading_id=True).name == "01_test_mask.gif"
    # A file that belongs to another image beside it is never taken by the number alone.
    assert match_companion(tmp_path, "01_manual1", by_leading_id=True, siblings={"01_test"}) is None
    assert match_companion(None, "anything") is None


def test_vessel_fraction_warning():
    assert "nearly empty" in photographs.vessel_fraction_warning(0.01)
    assert "over-full" in photographs.vessel_fraction_warning(0.4)
    assert photographs.vessel_fraction_warning(0.11) is None
    fov = np.ones((10, 10), dtype=bool)
    assert photographs.vessel_fraction(np.full((10, 10), 0.2), fov, 0.5) == 0.0


def write_dataset(folder, rng, names, label_suffix="_1stHO", size=(120, 112)):
    """A CHASE_DB1-like tree: images/NAME.jpg, labels/NAME_1stHO.png (0/1), masks/NAME.png (0/255)."""
    for sub in ("images", "labels", "masks"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for name in names:
        image, vessels, fov = synthetic_sample(rng, *size)
        Image.fromarray(image).save(folder / "images" / f"{name}.jpg", quality=95)
        Image.fromarray(vessels.astype(np.uint8)).save(folder / "labels" / f"{name}{label_suffix}.png")
        Image.fromarray(fov.astype(np.uint8) * 255).save(folder / "masks" / f"{name}.png")


def test_images_with_labels_score_the_folder_and_warn(tmp_path, weights_file, capsys):
    write_dataset(tmp_path / "set", np.random.default_rng(7), ["Image_01L", "Image_01R", "Image_02L"])
    out = tmp_path / "out"
    flags = [
        "--images",
        str(tmp_path / "set" / "images"),
        "--labels",
        str(tmp_path / "set" / "labels"),
        "--masks",
        str(tmp_path / "set" / "masks"),
        "--weights",
        str(weights_file),
        "--output-dir",
        str(out),
        "--no-tta",
    ]
    assert predict.main(predict.get_args([*flags, "--name", "demo"])) == 0
    printed = capsys.readouterr()
    assert "Pooled over the FOV of 3 photographs: AUC" in printed.out and "vessel fraction" in printed.out
    folder = out / "demo" / "set_images"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["images"] == ["Image_01L", "Image_01R", "Image_02L"] and len(metrics["per_image"]) == 3
    assert metrics["fov_diameters"] == list(segment.PHOTOGRAPH_FOV_DIAMETERS)
    assert metrics["weights"] == [str(weights_file)]
    assert metrics["pooled_from"].startswith(f"running sums over {BINS:,} probability bins")
    for name in ("difference_grid.png", "per_image.csv", "vessel_fractions.csv"):
        assert (folder / name).stat().st_size > 0
    # An independent scorer over the saved maps agrees with the pooled AUC.
    from vesselseg.data.image_reading import read_binary_map

    maps, truths = [], []
    for name in metrics["images"]:
        fov = read_binary_map(tmp_path / "set" / "masks" / f"{name}.png").astype(bool)
        maps.append(np.load(folder / f"{name}_prob.npy")[fov])
        truths.append(read_binary_map(tmp_path / "set" / "labels" / f"{name}_1stHO.png")[fov])
        assert np.load(folder / f"{name}_prob.npy").shape == (120, 112)
    expected = roc_auc_score(np.concatenate(truths), np.concatenate(maps))
    assert round(metrics["pooled"]["roc_auc"], 4) == round(expected, 4)
    assert len(list(folder.glob("*_overlay.png"))) == 3

    # --no-figures: the same maps and scores, without the overlays and the difference grid.
    assert predict.main(predict.get_args([*flags, "--no-figures", "--name", "bare"])) == 0
    bare = out / "bare" / "set_images"
    assert not list(bare.glob("*_overlay.png")) and not (bare / "difference_grid.png").exists()
    assert len(list(bare.glob("*_vessels.png"))) == 3
    assert json.loads((bare / "metrics.json").read_text())["pooled"] == metrics["pooled"]

    # Artery/vein labels in RITE's coding score the same maps: every labelled class is vessel.
    coded = tmp_path / "set" / "coded"
    coded.mkdir()
    for name in metrics["images"]:
        vessels = read_binary_map(tmp_path / "set" / "labels" / f"{name}_1stHO.png")
        codes = vessels * (1 + np.arange(vessels.size).reshape(vessels.shape) % 3)
        Image.fromarray(codes.astype(np.uint8)).save(coded / f"{name}_av.png")
    labels_at = flags.index("--labels") + 1
    coded_flags = [*flags[:labels_at], str(coded), *flags[labels_at + 1 :]]
    assert predict.main(predict.get_args([*coded_flags, "--no-figures", "--name", "coded"])) == 0
    assert json.loads((out / "coded" / "set_images" / "metrics.json").read_text())["pooled"] == metrics["pooled"]


def test_a_missing_label_or_a_label_of_another_size_is_an_error(tmp_path, weights_file, capsys):
    write_dataset(tmp_path / "set", np.random.default_rng(8), ["a", "b"])
    (tmp_path / "set" / "labels" / "b_1stHO.png").unlink()
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(tmp_path / "set" / "labels" / "a_1stHO.png")
    args = predict.get_args(
        [
            "--images",
            str(tmp_path / "set" / "images"),
            "--labels",
            str(tmp_path / "set" / "labels"),
            "--weights",
            str(weights_file),
            "--output-dir",
            str(tmp_path / "out"),
            "--no-tta",
        ]
    )
    assert predict.main(args) == 1
    errors = capsys.readouterr().err
    assert "no annotation for b" in errors
    assert "a_1stHO.png is 50x50 but its image" in errors


def test_args_of_photographs_are_checked(tmp_path, weights_file):
    with pytest.raises(FileNotFoundError, match="--labels .* is not a folder"):
        photographs.check_folders(argparse.Namespace(masks=None, labels=str(tmp_path / "nowhere")))
    with pytest.raises(ValueError, match="go with --images"):
        predict.main(predict.get_args(["--labels", str(tmp_path), "--weights", str(weights_file)]))


def test_drive_mode_refuses_the_flags_of_photographs(synthetic_drive, weights_file):
    """Without --images, the clinical and scale flags would be ignored; they are refused by name,
    and their defaults given explicitly are not."""
    drive = ["--data-dir", str(synthetic_drive), "--weights", str(weights_file)]
    with pytest.raises(ValueError, match=r"^--field-degrees, --disc-diameter go with --images: without it"):
        predict.main(predict.get_args([*drive, "--field-degrees", "45", "--disc-diameter", "80"]))
    with pytest.raises(ValueError, match=r"^--fov-diameters, --min-quality go with --images"):
        predict.main(predict.get_args([*drive, "--fov-diameters", "500", "540", "--min-quality", "0.4"]))
    defaults = predict.get_args([*drive, "--fov-diameters", "540", "--rim-fill", "0"])
    assert not predict.images_only_flags_given(defaults)


def test_fill_outside_copies_the_nearest_inside_pixel():
    image = np.arange(5 * 6 * 1, dtype=np.float32).reshape(5, 6, 1)
    inside = np.zeros((5, 6), dtype=bool)
    inside[1:4, 2:5] = True
    filled = fill_outside(image, inside)
    np.testing.assert_array_equal(filled[inside], image[inside])
    assert filled[0, 0, 0] == image[1, 2, 0] and filled[4, 5, 0] == image[3, 4, 0] and filled[2, 0, 0] == image[2, 2, 0]
    np.testing.assert_array_equal(fill_outside(image, np.ones((5, 6), dtype=bool)), image)


def test_the_rim_fill_hides_a_dark_rim_inside_the_mask():
    """A model that returns its red input channel shows what the network sees: with the rim fill
    (--rim-fill 6, off by default) the mask's dark outer ring takes the values further in;
    without it the ring stays darker."""
    rows, columns = np.mgrid[0:120, 0:120]
    radius = np.hypot(rows - 60, columns - 60)
    fov = radius <= 54
    image = np.where((radius <= 50)[..., None], np.float32(0.6), np.float32(0.05)) * np.ones(3, dtype=np.float32)
    inputs = keras.Input((None, None, 3))
    red = keras.Model(inputs, keras.layers.Lambda(lambda x: x[..., :1])(inputs))
    ring = fov & (radius > 52)
    own_scale = (segment.fov_diameter(fov),)  # keep the photograph at its own scale
    plain = segment.segment_photograph(
        red, image, fov, normalisation="fov_standardise", rim_fill_px=0, fov_diameters=own_scale
    )
    filled = segment.segment_photograph(
        red, image, fov, normalisation="fov_standardise", rim_fill_px=6, fov_diameters=own_scale
    )
    assert plain[ring].mean() < plain[fov & (radius < 40)].mean() - 1
    assert abs(filled[ring].mean() - filled[fov & (radius < 40)].mean()) < 0.05
    assert predict.get_args([]).rim_fill == 0
    with pytest.raises(ValueError, match="--rim-fill must be 0"):
        predict.main(predict.get_args(["--images", "x.png", "--rim-fill", "-1"]))


def test_the_maps_of_several_fov_diameters_are_averaged(monkeypatch):
    """segment_photograph rescales the FOV to each diameter in turn and averages the maps; a stand-in
    for one scale's segmentation returns its scale, so the average is the mean of the scales."""
    image, fov = photograph_and_fov()
    diameter = segment.fov_diameter(fov)
    scales = []

    def one_scale(model, image, fov, scale, tta, normalisation, rim_fill_px):
        scales.append(scale)
        return np.full(image.shape[:2], scale, dtype=np.float32)

    monkeypatch.setattr(segment, "segment_at_scale", one_scale)
    monkeypatch.setattr(segment, "MIN_IMAGE_SIZE", 8)
    averaged = segment.segment_photograph(None, image, fov, fov_diameters=(68, 51, 34))
    assert scales == [68 / diameter, 51 / diameter, 34 / diameter]
    np.testing.assert_allclose(averaged[fov], np.mean(scales), rtol=1e-6)
    assert not averaged[~fov].any()
    scales.clear()
    segment.segment_photograph(None, image, fov)
    assert scales == [segment.DRIVE_FOV_DIAMETER / diameter]


def test_a_real_model_at_several_scales_keeps_the_photograph_size(weights_file):
    model = segment.load_model(weights_file)
    image, fov = photograph_and_fov(height=100, width=90)
    fov[:] = False
    fov[10:90, 5:85] = True
    one = segment.segment_photograph(model, image, fov, fov_diameters=(80,))
    several = segment.segment_photograph(model, image, fov, fov_diameters=(80, 64))
    alone_at_64 = segment.segment_photograph(model, image, fov, fov_diameters=(64,))
    assert one.shape == several.shape == (100, 90) and several.dtype == np.float32
    np.testing.assert_allclose(several, (one + alone_at_64) / 2, atol=1e-6)


def test_the_network_sees_the_fov_box_and_its_map_goes_back_in_place(monkeypatch):
    """A photograph twice as wide as its FOV is cut to the FOV's box, widened by the margin and
    with its corner on the U-Net's grid; a model that returns its red input channel, which the
    cut does not change, gives the same map as the whole input does."""
    rows, columns = np.mgrid[0:100, 0:260]
    fov = np.hypot(rows - 50, columns - 140) <= 45  # columns 95 to 185
    image = np.random.default_rng(5).random((100, 260, 3)).astype(np.float32)
    top, left, bottom, right = segment.fov_box(fov, 1.0, (100, 260))
    assert (top, bottom) == (0, 100)
    assert left == 48  # 95 - 32, down to a multiple of 16
    assert right == 186 + segment.FOV_BOX_MARGIN
    assert segment.fov_box(np.zeros_like(fov), 1.0, (100, 260)) == (0, 0, 100, 260)
    cut, corner = segment.network_input(image, fov, 1.0, "fov_standardise", 0)
    assert cut.shape == (100, right - left, 3) and corner == (0, left)

    inputs = keras.Input((None, None, 3))
    red = keras.Model(inputs, keras.layers.Lambda(lambda x: x[..., :1])(inputs))
    own_scale = (segment.fov_diameter(fov),)
    boxed = segment.segment_photograph(red, image, fov, normalisation="fov_standardise", fov_diameters=own_scale)
    monkeypatch.setattr(segment, "FOV_BOX_MARGIN", 1000)
    whole = segment.segment_photograph(red, image, fov, normalisation="fov_standardise", fov_diameters=own_scale)
    assert boxed.shape == whole.shape == (100, 260)
    np.testing.assert_array_equal(boxed, whole)
    assert boxed[fov].std() > 0.5


def test_fov_diameters_below_the_smallest_image_are_refused():
    with pytest.raises(ValueError, match="--fov-diameters must each be at least 64"):
        predict.main(predict.get_args(["--images", "x.png", "--fov-diameters", "540", "32"]))


def test_other_fov_diameters_get_their_own_output_folder():
    default = predict.get_args(["--images", "x.png", "--no-tta"])
    narrow = predict.get_args(["--images", "x.png", "--no-tta", "--fov-diameters", "540", "450", "380"])
    assert predict.output_name(default, "unet_camera") == "unet_camera"
    assert predict.output_name(narrow, "unet_camera") == "unet_camera_fov540-450-380"


def test_a_photograph_rescaled_by_known_factors_is_segmented_alike(drive_dir):
    """The scale is found from the photograph's FOV alone: DRIVE's image 21 at 0.6x and 1.6x its
    resolution is rescaled back by the inverse factor (within 10%), and its map, brought back to
    the original size, scores as the original's does and matches it pixel for pixel."""
    from skimage import transform

    from vesselseg.data.drive_data import load_split
    from vesselseg.inference.models import IMAGES_DEFAULT_WEIGHTS, weights_choice

    split = load_split(drive_dir, "training")
    image, fov, manual = split.images[0], split.masks[0], split.manual1[0]
    choice = weights_choice(IMAGES_DEFAULT_WEIGHTS)
    model = segment.load_model(IMAGES_DEFAULT_WEIGHTS)
    reference = segment.segment_photograph(model, image, fov, normalisation=choice.normalisation)
    reference_scale = segment.network_scales(fov)[0]
    reference_auc = roc_auc_score(manual[fov], reference[fov])
    for factor in (0.6, 1.6):
        scaled_image = transform.rescale(image, factor, channel_axis=-1, order=1, anti_aliasing=factor < 1)
        scaled_fov = transform.rescale(fov.astype(np.float32), factor, order=1) >= 0.5
        assert segment.network_scales(scaled_fov)[0] * factor == pytest.approx(reference_scale, rel=0.10)
        probabilities = segment.segment_photograph(
            model, scaled_image.astype(np.float32), scaled_fov, normalisation=choice.normalisation
        )
        back = transform.resize(probabilities, fov.shape, order=1)
        assert abs(roc_auc_score(manual[fov], back[fov]) - reference_auc) < 0.005
        assert np.corrcoef(back[fov], reference[fov])[0, 1] > 0.95
