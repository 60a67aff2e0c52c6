"""vesselseg.segmenter: predict.py --images from Python gives what the command writes."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from conftest import PROJECT_DIR
from vesselseg.artery_vein import ARTERY, VEIN
from vesselseg.cohort.work import plain
from vesselseg.segmenter import Segmenter, as_rgb

SAMPLE = Path(skimage.data.__file__).parent / "retina.jpg"


@pytest.fixture(scope="module")
def segmenter():
    return Segmenter(tta=False)


def test_a_photograph_gives_the_maps_and_rows_that_predict_writes(tmp_path, segmenter):
    result = segmenter.segment(SAMPLE)
    command = [sys.executable, str(PROJECT_DIR / "predict.py"), "--images", str(SAMPLE), "--no-tta", "--no-figures"]
    completed = subprocess.run([*command, "--output-dir", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    folder = next(tmp_path.glob("*/*"))
    np.testing.assert_array_equal(result.probabilities, np.load(folder / "retina_prob.npy"))
    record = json.loads((folder / "manifest.jsonl").read_text())
    assert plain(result.measurements) == record["measurements"]
    assert plain(result.clinical) == record["clinical"]
    assert (result.quality, result.quality_grade) == (record["quality"], record["quality_grade"])
    coloured = np.asarray(Image.open(folder / "retina_av.png"))
    np.testing.assert_array_equal(result.classes == ARTERY, coloured[..., 0] == 255)
    np.testing.assert_array_equal(result.classes == VEIN, coloured[..., 2] == 255)
    # The same photograph as an array, its FOV given as the one predict.py estimated.
    fov = np.asarray(Image.open(folder / "retina_fov.png")) > 0
    again = segmenter.segment(np.asarray(Image.open(SAMPLE)), fov=fov, name="retina.jpg")
    np.testing.assert_array_equal(again.probabilities, result.probabilities)
    assert (again.name, again.fov_source, again.clinical["crae_px"]) == (
        "retina.jpg",
        "mask",
        result.clinical["crae_px"],
    )


def test_bad_arguments_are_one_clear_error(segmenter):
    with pytest.raises(FileNotFoundError, match="no photograph at"):
        segmenter.segment("no_such_eye.jpg")
    with pytest.raises(ValueError, match="at least 64 pixels"):
        segmenter.segment(np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(ValueError, match="FOV mask is"):
        segmenter.segment(np.zeros((100, 100, 3), np.uint8), fov=np.ones((90, 100), bool))
    with pytest.raises(ValueError, match="unknown option"):
        Segmenter(ttaa=False)
    with pytest.raises(ValueError, match="list of FOV widths"):
        Segmenter(fov_diameters="auto")


def test_arrays_are_read_as_files_are():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (70, 80, 3), dtype=np.uint8)
    np.testing.assert_array_equal(as_rgb(pixels), pixels.astype(np.float32) / 255)
    np.testing.assert_array_equal(as_rgb(pixels.astype(np.uint16) * 257), pixels.astype(np.float32) / 255)
    grey = as_rgb(pixels[..., 1])
    assert grey.shape == (70, 80, 3) and (grey[..., 0] == grey[..., 2]).all()
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        as_rgb(pixels.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        as_rgb(np.zeros((4, 5, 6, 3)))
