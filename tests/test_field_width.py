"""--fov-diameters auto: the FOV widths chosen from the median size of a folder's optic discs."""

import json
from pathlib import Path

import numpy as np
import pytest

import predict
from conftest import PROJECT_DIR
from vesselseg.cohort import field_width
from vesselseg.data.image_files import Companions, list_images
from vesselseg.inference import segment

SHARED = PROJECT_DIR.parent / "shared"


def test_the_median_disc_chooses_the_widths():
    narrow, median = field_width.fov_diameters_for_discs([110.0, 120.0, float("nan"), 95.0])
    assert narrow == segment.NARROW_FIELD_FOV_DIAMETERS and median == 110.0
    wide, median = field_width.fov_diameters_for_discs([74.0, 80.0, 120.0])
    assert wide == segment.PHOTOGRAPH_FOV_DIAMETERS and median == 80.0
    # No disc found: the 45-degree default, and no median.
    for diameters in ([], [float("nan")]):
        widths, median = field_width.fov_diameters_for_discs(diameters)
        assert widths == segment.PHOTOGRAPH_FOV_DIAMETERS and np.isnan(median)


def test_the_sample_spreads_over_the_folder_in_its_order():
    paths = [Path(f"eye{index:03d}.png") for index in range(100)]
    sample = field_width.spread_sample(paths, 32)
    assert len(sample) == 32 and sample == sorted(sample)
    assert sample[0] == paths[0] and sample[-1] == paths[-1]
    assert field_width.spread_sample(paths[:5], 32) == paths[:5]


def test_fov_diameters_take_widths_or_auto_alone():
    assert predict.get_args(["--images", "x.png"]).fov_diameters == segment.PHOTOGRAPH_FOV_DIAMETERS
    auto = predict.get_args(["--images", "x.png", "--no-tta", "--fov-diameters", "auto"])
    assert auto.fov_diameters == predict.AUTO
    assert predict.output_name(auto, "unet_camera") == "unet_camera_fovauto"
    with pytest.raises(ValueError, match="'auto' alone"):
        predict.get_args(["--images", "x.png", "--fov-diameters", "auto", "540"])


def test_a_resumed_folder_keeps_the_widths_it_was_begun_with(tmp_path):
    chosen = {"fov_diameters": [540, 450, 380], "median_disc_px": 112.0, "discs_found": 3, "photographs_sampled": 3}
    (tmp_path / "settings.json").write_text(json.dumps({"fov_diameters": "auto", "fov_diameters_chosen": chosen}))
    args = predict.get_args(["--images", str(tmp_path), "--fov-diameters", "auto"])
    # The photographs are not read: the choice comes from settings.json.
    assert predict.chosen_fov_diameters([tmp_path / "missing.png"], args, tmp_path) == chosen


def test_unreadable_photographs_are_passed_over(tmp_path):
    (tmp_path / "broken.png").write_text("not an image")
    chosen = field_width.folder_fov_diameters([tmp_path / "broken.png"], Companions(None))
    assert chosen == {"fov_diameters": [540], "median_disc_px": None, "discs_found": 0, "photographs_sampled": 1}


@pytest.mark.skipif(
    not all((SHARED / name).is_dir() for name in ("DRIVE", "CHASEDB1")), reason="DRIVE or CHASE_DB1 not in ../shared"
)
def test_a_30_degree_folder_gets_the_narrow_widths_and_a_45_degree_one_keeps_one():
    chase = list_images(SHARED / "CHASEDB1" / "images")[:6]
    drive = list_images(SHARED / "DRIVE" / "training" / "images")[:6]
    assert field_width.folder_fov_diameters(chase, Companions(None))["fov_diameters"] == [540, 450, 380]
    assert field_width.folder_fov_diameters(drive, Companions(None))["fov_diameters"] == [540]


def test_the_working_disc_diameter_does_not_depend_on_the_resolution(drive_dir):
    from skimage import transform

    from vesselseg.data.drive_data import load_split

    split = load_split(drive_dir, "training")
    image, fov = split.images[0], split.masks[0]
    reference = field_width.working_disc_diameter(image, fov)
    assert 50 < reference < 100
    for factor in (0.6, 1.6):
        scaled_image = transform.rescale(image, factor, channel_axis=-1, order=1, anti_aliasing=factor < 1)
        scaled_fov = transform.rescale(fov.astype(np.float32), factor, order=1) >= 0.5
        diameter = field_width.working_disc_diameter(scaled_image.astype(np.float32), scaled_fov)
        assert diameter == pytest.approx(reference, rel=0.10)


def test_predict_records_the_choice_and_resumes_with_it(tmp_path, weights_file):
    import subprocess
    import sys

    from PIL import Image

    from conftest import synthetic_sample

    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(2):
        image, _, _ = synthetic_sample(np.random.default_rng(index), 120, 110)
        Image.fromarray(image).save(folder / f"eye{index}.png")
    command = [sys.executable, str(PROJECT_DIR / "predict.py"), "--images", str(folder), "--weights", str(weights_file)]
    command += ["--no-tta", "--no-clinical", "--no-figures", "--quiet", "--fov-diameters", "auto"]
    command += ["--output-dir", str(tmp_path / "out")]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    # Synthetic photographs have no disc: the 45-degree width, said so.
    assert "FOV widths 540: no disc found in 0 of 2 photographs" in first.stdout
    settings = json.loads((tmp_path / "out" / "random_fovauto" / "photos" / "settings.json").read_text())
    assert settings["fov_diameters"] == "auto" and settings["fov_diameters_chosen"]["fov_diameters"] == [540]
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "already done" in again.stdout and "FOV widths" not in again.stdout
