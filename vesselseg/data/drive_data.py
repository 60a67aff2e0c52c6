"""Load the DRIVE database (Staal et al., IEEE TMI 2004) into NumPy arrays.

DRIVE is distributed as a zip that unpacks to `training/` (ids 21-40) and `test/` (ids 01-20).
Put it under `input/`, either as `input/DRIVE/{training,test}` or as `input/{training,test}`;
`--data-dir` or the environment variable `DRIVE_DIR` point elsewhere.

    from vesselseg.data.drive_data import find_drive_dir, load_split
    train = load_split(find_drive_dir(), "training")
    train.images.shape   # (20, 584, 565, 3), float32 in [0, 1]
    train.manual1.shape  # (20, 584, 565), uint8 in {0, 1}
    train.masks.shape    # (20, 584, 565), bool field of view
"""

import dataclasses
import os
import re
from pathlib import Path

import numpy as np

from vesselseg.data.image_reading import check_same_size, read_binary_map, read_rgb_image
from vesselseg.paths import INPUT_DIR, SHARED_DIR

DEFAULT_INPUT_DIR = INPUT_DIR
# Where the development team's copy lies beside the checkout; tests and benchmarks fall back on it.
SHARED_DRIVE_DIR = SHARED_DIR / "DRIVE"
SPLITS = ("training", "test")
# RITE's artery/vein labels of DRIVE's photographs: <split>/av/NN_<split>_av.png.
RITE_PATTERN = r"(\d+)_(?:training|test)_av\.png"
SHARED_RITE_DIR = SHARED_DIR / "RITE"
# DRIVE's training split holds images 21-40; a validation run holds the last of them out.
TRAINING_IMAGES = 20

# File name patterns of the distribution; each captures the numeric image id.
IMAGE_PATTERN = r"(\d+)_(?:training|test)\.tif"
MANUAL1_PATTERN = r"(\d+)_manual1\.gif"
MANUAL2_PATTERN = r"(\d+)_manual2\.gif"
MASK_PATTERN = r"(\d+)_(?:training|test)_mask\.gif"

EXPECTED_TREE = """\
input/DRIVE/
  training/images/21_training.tif ... 40_training.tif
  training/1st_manual/21_manual1.gif ...
  training/mask/21_training_mask.gif ...
  test/images/01_test.tif ... 20_test.tif
  test/1st_manual/01_manual1.gif ...
  test/2nd_manual/01_manual2.gif ...
  test/mask/01_test_mask.gif ..."""


@dataclasses.dataclass
class DriveSplit:
    """One split of DRIVE, every array indexed like `ids`."""

    name: str
    ids: list
    images: np.ndarray  # (N, H, W, 3) float32 in [0, 1]
    manual1: np.ndarray  # (N, H, W) uint8 in {0, 1}
    masks: np.ndarray  # (N, H, W) bool, True inside the field of view
    manual2: np.ndarray = None  # (N, H, W) uint8 in {0, 1}; test split only


def is_drive_dir(path):
    """True when `path` holds both DRIVE splits."""
    path = Path(path)
    return all((path / split / "images").is_dir() for split in SPLITS)


def find_drive_dir(data_dir=None):
    """Return the DRIVE root: `data_dir`, else $DRIVE_DIR, else input/DRIVE or input/.

    Raises FileNotFoundError when none holds DRIVE: one line naming the folder when one was
    named (a typo must not pass for "DRIVE absent"), or the expected layout of input/.
    """
    named = data_dir if data_dir is not None else os.environ.get("DRIVE_DIR") or None
    if named is not None:
        for candidate in (Path(named), Path(named) / "DRIVE"):
            if is_drive_dir(candidate):
                return candidate
        source = "--data-dir" if data_dir is not None else "DRIVE_DIR"
        raise FileNotFoundError(
            f"{source} {named} holds no DRIVE database (expected training/images and "
            f"test/images in it or in {Path(named) / 'DRIVE'})."
        )
    for candidate in (DEFAULT_INPUT_DIR / "DRIVE", DEFAULT_INPUT_DIR):
        if is_drive_dir(candidate):
            return candidate
    raise FileNotFoundError(
        f"DRIVE not found in {DEFAULT_INPUT_DIR / 'DRIVE'} or {DEFAULT_INPUT_DIR}. Unzip the DRIVE database into "
        f"{DEFAULT_INPUT_DIR} so that it looks like this:\n{EXPECTED_TREE}\n"
        "or pass --data-dir / set DRIVE_DIR to the folder that holds training/ and test/."
    )


def find_drive_dir_or_none(data_dir=None):
    """Like find_drive_dir, but None when no folder was named (neither data_dir nor $DRIVE_DIR)
    and input/ holds no DRIVE. A named folder without DRIVE is still an error."""
    if data_dir is None and not os.environ.get("DRIVE_DIR"):
        try:
            return find_drive_dir()
        except FileNotFoundError:
            return None
    return find_drive_dir(data_dir)


def find_drive_dir_for_checks(data_dir=None):
    """For tests and benchmarks: find_drive_dir_or_none, then the team's ../shared/DRIVE, else None."""
    return find_drive_dir_or_none(data_dir) or (SHARED_DRIVE_DIR if is_drive_dir(SHARED_DRIVE_DIR) else None)


def index_by_id(folder, pattern):
    """Map image id -> file path for the files in `folder` whose names match `pattern`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"Missing folder {folder}. Expected DRIVE layout:\n{EXPECTED_TREE}")
    files = {}
    for path in sorted(folder.iterdir()):
        match = re.fullmatch(pattern, path.name)
        if match:
            files[int(match.group(1))] = path
    if not files:
        raise FileNotFoundError(f"No files matching {pattern} in {folder}.")
    return files


def load_split(drive_dir, split):
    """Load one DRIVE split ("training" or "test"), pairing files by their numeric id."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    root = Path(drive_dir) / split
    image_files = index_by_id(root / "images", IMAGE_PATTERN)
    companions = {
        "manual1": index_by_id(root / "1st_manual", MANUAL1_PATTERN),
        "masks": index_by_id(root / "mask", MASK_PATTERN),
    }
    if split == "test":
        companions["manual2"] = index_by_id(root / "2nd_manual", MANUAL2_PATTERN)

    ids = sorted(image_files)
    for kind, files in companions.items():
        missing = [image_id for image_id in ids if image_id not in files]
        if missing:
            first = image_files[missing[0]]
            raise FileNotFoundError(
                f"{first} has no {kind} file in {root}: expected one for each image, missing for ids {missing}."
            )

    images, arrays = [], {kind: [] for kind in companions}
    for image_id in ids:
        image = read_rgb_image(image_files[image_id])
        images.append(image)
        for kind, files in companions.items():
            array = read_binary_map(files[image_id])
            check_same_size(image_files[image_id], image.shape, files[image_id], array)
            arrays[kind].append(array)

    shapes = {image.shape for image in images}
    if len(shapes) > 1:
        raise ValueError(f"Images in {root / 'images'} differ in size: {sorted(shapes)}")
    return DriveSplit(
        name=split,
        ids=ids,
        images=np.stack(images),
        manual1=np.stack(arrays["manual1"]),
        masks=np.stack(arrays["masks"]).astype(bool),
        manual2=np.stack(arrays["manual2"]) if "manual2" in arrays else None,
    )


def find_rite_dir(rite_dir=None):
    """The RITE folder (training/av and test/av): `rite_dir`, else $RITE_DIR, else input/RITE, else
    the team's ../shared/RITE. Raises FileNotFoundError naming what was looked for."""
    named = rite_dir if rite_dir is not None else os.environ.get("RITE_DIR") or None
    candidates = [Path(named)] if named is not None else [DEFAULT_INPUT_DIR / "RITE", SHARED_RITE_DIR]
    for candidate in candidates:
        if all((candidate / split / "av").is_dir() for split in SPLITS):
            return candidate
    looked = ", ".join(str(candidate) for candidate in candidates)
    raise FileNotFoundError(
        f"No RITE artery/vein labels (training/av and test/av) in {looked}. "
        "Put RITE under input/RITE, or pass --rite-dir / set RITE_DIR."
    )


def load_rite_labels(rite_dir, split, ids, shape=None):
    """RITE's artery/vein labels of DRIVE's `split` for `ids`, uint8 (N, H, W) in {0, 1, 2, 3}."""
    from vesselseg.artery_vein import read_av_labels

    files = index_by_id(Path(rite_dir) / split / "av", RITE_PATTERN)
    missing = [image_id for image_id in ids if image_id not in files]
    if missing:
        raise FileNotFoundError(f"{Path(rite_dir) / split / 'av'} has no labels for ids {missing}.")
    labels = np.stack([read_av_labels(files[image_id]) for image_id in ids])
    if shape is not None and labels.shape[1:3] != tuple(shape[:2]):
        raise ValueError(f"RITE labels are {labels.shape[2]}x{labels.shape[1]}, the photographs {shape[1]}x{shape[0]}.")
    return labels
