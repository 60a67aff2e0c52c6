"""The photographs of several vessel datasets for training, their fixed held-out parts, and the
diagnosis of faint maps."""

import subprocess
import sys

import numpy as np
import pytest

from conftest import PROJECT_DIR, synthetic_sample
from tools import faint_maps, held_out_folders
from vesselseg.data import training_sets
from vesselseg.paths import dataset_dir

SETS_PRESENT = all(dataset_dir(name) is not None for name in ("CHASEDB1", "DRHAGIS"))
NEEDS_SETS = pytest.mark.skipif(not SETS_PRESENT, reason="CHASE_DB1 or DR HAGIS not found under input/ or ../shared/")


def test_a_photograph_is_rescaled_to_drive_fov_width():
    image, vessels, fov = synthetic_sample(np.random.default_rng(0), 300, 320)
    photograph = training_sets.Photograph("x", image / 255.0, vessels.astype(np.uint8), fov)
    scale = training_sets.network_scale(fov)
    scaled_image, annotation, scaled_fov = training_sets.rescale_photograph(photograph, scale)
    assert abs(training_sets.fov_diameter(scaled_fov) - training_sets.DRIVE_FOV_DIAMETER) <= 2
    assert scaled_image.shape[:2] == annotation.shape == scaled_fov.shape
    assert set(np.unique(annotation)) <= {0, 1}
    # The vessel fraction inside the FOV survives the rescaling.
    assert annotation[scaled_fov].mean() == pytest.approx(vessels[fov].mean(), abs=0.01)


def test_set_names_are_checked():
    for names in (["chasedb1"], ["drive", "stare"]):
        with pytest.raises(ValueError, match="--training-sets takes some of"):
            training_sets.check_set_names(names)
    training_sets.check_set_names(["drive", "drhagis"])
    training_sets.check_set_names(["drive", "drive", "drhagis"])


@NEEDS_SETS
def test_three_sets_train_on_all_but_their_fixed_held_out_parts(drive_dir):
    sets = training_sets.load_training_sets(["drive", "chasedb1", "drhagis"], drive_dir)
    assert {name: len(photographs) for name, photographs in sets.held_out.items()} == {
        "drive": 4,
        "chasedb1": 8,
        "drhagis": 10,
    }
    assert len(sets.images) == 16 + 20 + 30 == len(sets.targets) == len(sets.fovs)
    assert sets.images.shape[1:3] == sets.targets.shape[1:] == sets.fovs.shape[1:]
    # Every training photograph's FOV is DRIVE's width, as predict.py --images would make it.
    widths = [training_sets.fov_diameter(fov) for fov in sets.fovs]
    assert max(abs(width - training_sets.DRIVE_FOV_DIAMETER) for width in widths) <= 3
    # Both eyes of a held-out child are held out.
    chase = {photograph.name for photograph in sets.held_out["chasedb1"]}
    assert all(name[:-1] + ("R" if name.endswith("L") else "L") in chase for name in chase)


@NEEDS_SETS
def test_a_set_named_twice_is_drawn_twice_as_often_and_held_out_once(drive_dir):
    sets = training_sets.load_training_sets(["drive", "drive", "drhagis"], drive_dir)
    assert len(sets.images) == 2 * 16 + 30
    np.testing.assert_array_equal(sets.images[:16], sets.images[16:32])
    assert {name: len(photographs) for name, photographs in sets.held_out.items()} == {"drive": 4, "drhagis": 10}


def test_several_sets_refuse_validation_images(tmp_path, drive_dir):
    result = subprocess.run(
        [
            sys.executable,
            str(PROJECT_DIR / "tools" / "train_multi_set.py"),
            "--validation-images",
            "4",
            "--data-dir",
            str(drive_dir),
            "--output-dir",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0 and "--validation-images must stay 0" in result.stderr
    assert not (tmp_path / "run").exists()


@NEEDS_SETS
def test_held_out_folders_link_exactly_the_held_out_photographs(tmp_path, drive_dir):
    held_out_folders.main(["--data-dir", str(drive_dir), "--output-dir", str(tmp_path)])
    for name, stems in training_sets.HELD_OUT.items():
        for kind in ("images", "labels", "masks"):
            files = sorted((tmp_path / name / kind).iterdir())
            assert sorted(path.stem for path in files) == sorted(stems)
            assert all(path.is_symlink() and path.resolve().is_file() for path in files)


def test_faint_vessels_have_a_lower_vessel_contrast():
    image, vessels, fov = synthetic_sample(np.random.default_rng(1), 120, 120)
    clear = image / 255.0
    # The same photograph with its vessels half as dark against the background.
    faint = np.where(vessels[..., None], clear + 0.125, clear)
    assert (
        faint_maps.image_qualities(faint, fov, vessels)["vessel_contrast"]
        < 0.7 * faint_maps.image_qualities(clear, fov, vessels)["vessel_contrast"]
    )
    f1, fraction, true_fraction = faint_maps.map_scores(vessels.astype(np.float32), vessels, fov)
    assert f1 == 1.0 and fraction == true_fraction == pytest.approx(vessels[fov].mean())
    assert faint_maps.map_scores(np.zeros(vessels.shape), vessels, fov)[:2] == (0.0, 0.0)
