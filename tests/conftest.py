"""Shared fixtures: the real DRIVE when it is present, and a tiny synthetic DRIVE tree."""

import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from vesselseg import quiet_startup  # noqa: F401, E402  (before TensorFlow loads: drops its start-up noise)
from vesselseg.data.drive_data import find_drive_dir_for_checks  # noqa: E402


def real_drive_dir():
    """DRIVE from $DRIVE_DIR or input/, else the team's copy in ../shared/DRIVE, else None."""
    return find_drive_dir_for_checks()


@pytest.fixture(scope="session")
def drive_dir():
    """The real DRIVE folder, or skip the test with the reason."""
    found = real_drive_dir()
    if found is None:
        pytest.skip("DRIVE not found: set DRIVE_DIR, unzip it into input/, or provide ../shared/DRIVE")
    return found


def synthetic_sample(rng, height, width):
    """An image whose vessels are darker lines, their annotation and a round FOV."""
    rows, columns = np.mgrid[0:height, 0:width]
    fov = (rows - height / 2) ** 2 + (columns - width / 2) ** 2 < (0.48 * min(height, width)) ** 2
    vessels = np.zeros((height, width), dtype=bool)
    for _ in range(4):
        slope, offset = rng.uniform(-1.5, 1.5), rng.uniform(0, width)
        vessels |= np.abs(columns - (slope * (rows - height / 2) + offset)) < rng.uniform(1, 3)
    vessels &= fov
    image = np.stack([0.7 * fov, 0.35 * fov, 0.15 * fov], axis=-1) - 0.25 * vessels[..., None]
    image += rng.normal(0, 0.02, image.shape)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8), vessels, fov


def save_binary_gif(path, array, one_value=255):
    """Save like DRIVE: 0/255 grey GIFs, or (one_value=1) palette GIFs with indices 0/1."""
    if one_value == 1:
        image = Image.fromarray(array.astype(np.uint8), mode="P")
        image.putpalette([0, 0, 0, 255, 255, 255] + [0, 0, 0] * 254)
    else:
        image = Image.fromarray((array * 255).astype(np.uint8), mode="L")
    image.save(path)


def write_dicom(
    path, pixels, photometric="RGB", bits_stored=8, jpeg=False, frames=1, preamble=True, spacing=None, field=None
):
    """A DICOM ophthalmic photograph of `pixels` (H, W[, 3]); with jpeg, its pixel data in JPEG
    baseline (YCbCr), as cameras' archives export them; with frames, that many copies; with
    spacing (rows, columns in mm), a Pixel Spacing; with field (degrees), a Horizontal Field of View."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.77.1.5.1"  # ophthalmic photography, 8 bit
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = JPEGBaseline8Bit if jpeg else ExplicitVRLittleEndian
    dataset = pydicom.Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID, dataset.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    if jpeg:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
        dataset.Rows, dataset.Columns = pixels.shape[:2]
        dataset.SamplesPerPixel, dataset.PlanarConfiguration = 3, 0
        dataset.PhotometricInterpretation = "YBR_FULL_422"
        dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 8, 8, 7, 0
        dataset.PixelData = encapsulate([buffer.getvalue()])
        dataset["PixelData"].VR = "OB"
    else:
        stack = np.stack([pixels] * frames) if frames > 1 else pixels
        dataset.set_pixel_data(stack, photometric, bits_stored)
    if spacing is not None:
        dataset.PixelSpacing = list(spacing)
    if field is not None:
        dataset.HorizontalFieldOfView = field
    dataset.save_as(path, enforce_file_format=preamble)


def write_synthetic_drive(root, height=96, width=80, train_ids=(21, 22, 23), test_ids=(1, 2), seed=0):
    """Write a DRIVE-layout tree with the real files' encodings under `root`; returns root."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for split, ids in (("training", train_ids), ("test", test_ids)):
        folders = ["images", "1st_manual", "mask"] + (["2nd_manual"] if split == "test" else [])
        for folder in folders:
            (root / split / folder).mkdir(parents=True, exist_ok=True)
        for image_id in ids:
            image, vessels, fov = synthetic_sample(rng, height, width)
            Image.fromarray(image).save(root / split / "images" / f"{image_id:02d}_{split}.tif")
            save_binary_gif(root / split / "1st_manual" / f"{image_id:02d}_manual1.gif", vessels)
            save_binary_gif(root / split / "mask" / f"{image_id:02d}_{split}_mask.gif", fov)
            if split == "test":
                save_binary_gif(root / split / "2nd_manual" / f"{image_id:02d}_manual2.gif", vessels, one_value=1)
    return root


@pytest.fixture
def synthetic_drive(tmp_path):
    return write_synthetic_drive(tmp_path / "DRIVE")


@pytest.fixture(scope="session")
def weights_file(tmp_path_factory):
    """Weights of a scratch U-Net with random (seeded) weights, for tests of the plumbing."""
    import keras

    from vesselseg.unet import build_unet

    path = tmp_path_factory.mktemp("weights") / "random.weights.h5"
    keras.utils.set_random_seed(1)
    build_unet("scratch").save_weights(path)
    return path
