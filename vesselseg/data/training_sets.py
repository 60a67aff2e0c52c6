"""The photographs of several vessel datasets, at the scale `predict.py --images` gives them.

A model trained on DRIVE alone has seen one camera. `--training-sets drive chasedb1 drhagis`
trains on three: DRIVE's training images, CHASE_DB1 (children's eyes, a 30-degree camera) and
DR HAGIS (diabetic eyes with co-morbidities, two 45-degree cameras). Each photograph is
rescaled as predict.py --images rescales it, its FOV to DRIVE_FOV_DIAMETER pixels across, so
that the model learns from what it will see in use. A fixed part of each set is held out for
choosing and reporting (HELD_OUT below); the held-out parts are never trained on.

A set named twice is drawn from twice as often: its photographs appear twice in the training
images, and it is still held out and scored once.

    sets = load_training_sets(["drive", "chasedb1", "drhagis"], drive_dir)
    sets.images, sets.targets, sets.fovs     # training photographs, padded to one size
    sets.held_out["chasedb1"]                # [Photograph], at their own size, for scoring
"""

import dataclasses
from pathlib import Path

import numpy as np

from vesselseg.data.image_files import list_images, match_companion
from vesselseg.data.image_reading import read_binary_map, read_rgb_image
from vesselseg.data.resampling import rescaled_shape, resize_linear
from vesselseg.paths import dataset_dir

# DRIVE's field of view is about 540 pixels across; predict.py --images rescales every
# photograph's FOV to it (inference/segment.py's DRIVE_FOV_DIAMETER, which imports this).
DRIVE_FOV_DIAMETER = 540
TRAINING_SETS = ("drive", "chasedb1", "drhagis")
# The fixed held-out parts, chosen before any training on the sets. DRIVE: the last four
# training images, as --validation-images 4 holds out. CHASE_DB1: the last four children, both
# eyes (a child's two eyes look alike, so they stay on one side). DR HAGIS: its 40 photographs
# come in four co-morbidity groups of ten, numbered in order (glaucoma, hypertension, diabetic
# retinopathy, AMD); the last two or three of each group. DR HAGIS 24 and 32 are the same
# photograph, and both are trained on, so none of the held-out part is seen in training.
HELD_OUT = {
    "drive": ("37", "38", "39", "40"),
    "chasedb1": tuple(f"Image_{child}{eye}" for child in ("11", "12", "13", "14") for eye in "LR"),
    "drhagis": ("08", "09", "10", "18", "19", "20", "29", "30", "39", "40"),
}
# Where each set keeps its photographs, annotations and FOV masks (shared/README.md).
LAYOUTS = {
    "chasedb1": ("CHASEDB1", "images", "1st_manual", "mask"),
    "drhagis": ("DRHAGIS", "image", "truth", "mask"),
}


@dataclasses.dataclass
class Photograph:
    """One annotated photograph at its own size: image (H, W, 3) in [0, 1], annotation and FOV."""

    name: str
    image: np.ndarray
    annotation: np.ndarray
    fov: np.ndarray


@dataclasses.dataclass
class TrainingSets:
    """Training photographs rescaled and padded to one size (N, H, W, ...), and the held-out
    photographs of each set at their own size."""

    images: np.ndarray
    targets: np.ndarray
    fovs: np.ndarray
    held_out: dict


def check_set_names(names):
    """ValueError unless `names` are known sets, DRIVE among them. A set may be named more than
    once, to be drawn from as many times as often."""
    unknown = [name for name in names if name not in TRAINING_SETS]
    if unknown or "drive" not in names:
        raise ValueError(
            f"--training-sets takes some of {', '.join(TRAINING_SETS)}, drive among them; got {' '.join(names)}."
        )


def fov_diameter(fov):
    """Width in pixels of the FOV's widest extent, across or down; 0 for an empty FOV."""
    columns = np.flatnonzero(fov.any(axis=0))
    rows = np.flatnonzero(fov.any(axis=1))
    return max(columns[-1] - columns[0] + 1, rows[-1] - rows[0] + 1) if columns.size else 0


def network_scale(fov, target=DRIVE_FOV_DIAMETER):
    """The factor that brings the FOV to `target` pixels across, as predict.py --images uses."""
    diameter = fov_diameter(fov)
    if diameter == 0:
        raise ValueError("the FOV is empty")
    return target / diameter


def rescale_image(image, scale):
    """An image (H, W, C) rescaled by `scale` for the network, float32: linear, anti-aliased when
    shrinking. Training (rescale_photograph) and inference (segment.segment_at_scale) share it,
    so that the model learns from the pixels it is given in use."""
    return resize_linear(image, rescaled_shape(image.shape, scale), anti_aliasing=scale < 1)


def rescale_photograph(photograph, scale):
    """(image, annotation, FOV) rescaled by `scale`: the image by rescale_image, the two binary
    maps linearly and then cut at 0.5."""
    maps = [
        rescale_image(array[..., None].astype(np.float32), scale)[..., 0] >= 0.5
        for array in (photograph.annotation, photograph.fov)
    ]
    return rescale_image(photograph.image, scale), maps[0].astype(np.uint8), maps[1]


def set_files(name, drive_dir=None):
    """[(stem, photograph, annotation, FOV mask)] paths of every annotated photograph of set
    `name`, sorted; DRIVE's stems are its ids ("21")."""
    if name == "drive":
        root = Path(drive_dir) / "training"
        image_ids = sorted(path.stem.split("_")[0] for path in list_images(root / "images"))
        found = [
            (
                image_id,
                match_companion(root / "images", f"{image_id}_training"),
                match_companion(root / "1st_manual", f"{image_id}_manual1"),
                match_companion(root / "mask", f"{image_id}_training_mask"),
            )
            for image_id in image_ids
        ]
    else:
        folder_name, images, annotations, masks = LAYOUTS[name]
        root = dataset_dir(folder_name)
        if root is None:
            raise FileNotFoundError(
                f"No {folder_name} folder: put it under input/{folder_name}, ../shared/{folder_name}, "
                f"or set {folder_name}_DIR."
            )
        found = [
            (
                path.stem,
                path,
                match_companion(Path(root) / annotations, path.stem),
                match_companion(Path(root) / masks, path.stem),
            )
            for path in list_images(Path(root) / images)
        ]
    for stem, *paths in found:
        if None in paths:
            raise FileNotFoundError(f"{name} photograph {stem} lacks its photograph, annotation or FOV mask file.")
    return found


def set_photographs(name, drive_dir=None):
    """All annotated photographs of set `name`, sorted by name, at their own size."""
    return [
        Photograph(stem, read_rgb_image(image), read_binary_map(annotation), read_binary_map(mask) > 0)
        for stem, image, annotation, mask in set_files(name, drive_dir)
    ]


def pad_to(array, shape):
    """`array` padded with zeros at the bottom and right to `shape`'s first two sizes."""
    padding = [(0, shape[0] - array.shape[0]), (0, shape[1] - array.shape[1])] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, padding)


def load_training_sets(names, drive_dir=None):
    """The training photographs of `names` at the network's scale, padded to one size with
    zeros outside the FOV, and each set's held-out photographs at their own size."""
    check_set_names(names)
    training, held_out = [], {}
    for name in dict.fromkeys(names):
        photographs = set_photographs(name, drive_dir)
        missing = sorted(set(HELD_OUT[name]) - {photograph.name for photograph in photographs})
        if missing:
            raise FileNotFoundError(f"{name} lacks its held-out photographs {', '.join(missing)}.")
        held_out[name] = [photograph for photograph in photographs if photograph.name in HELD_OUT[name]]
        rescaled = [
            rescale_photograph(photograph, network_scale(photograph.fov))
            for photograph in photographs
            if photograph.name not in HELD_OUT[name]
        ]
        training += rescaled * names.count(name)
    shape = tuple(max(image.shape[axis] for image, _, _ in training) for axis in (0, 1))
    return TrainingSets(
        images=np.stack([pad_to(image, shape) for image, _, _ in training]),
        targets=np.stack([pad_to(annotation, shape) for _, annotation, _ in training]),
        fovs=np.stack([pad_to(fov, shape) for _, _, fov in training]),
        held_out=held_out,
    )
