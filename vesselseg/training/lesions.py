"""Synthetic lesions: bright and dark blobs painted on training crops beside the vessels.

Diseased eyes hold exudates, drusen, laser scars, haemorrhages and pigment, and a vessel model
that has seen few of them marks their edges as vessels. --lesions P paints such blobs on the
crops of a fraction P of the photographs drawn for a batch, never on a marked vessel or next
to one, so the labels stay true and the network learns that a blob's edge is not a vessel.

    crops = paint_lesions(crops, vessels, rng)   # crops (N, h, w, 3) in [0, 1], vessels (N, h, w)

The values were fixed before the run that judged them (docs/results/any_camera.md, synthetic
lesions) and are not tuned.
"""

import numpy as np
from scipy import ndimage

# Lesions per crop on average, per 64x64 pixels of crop (Poisson).
LESIONS_PER_64_PIXELS = 2.0
# The longer semi-axis (pixels, at the network's scale) and the shorter one as a share of it.
SEMI_AXIS_PX = (2.0, 12.0)
ASPECT = (0.5, 1.0)
# The outer share of the radius over which a lesion fades into the retina around it.
SOFT_EDGE = 0.3
# Per-channel gains (red, green, blue): bright lesions are yellowish white, dark ones dark red.
BRIGHT_GAINS = ((1.2, 1.6), (1.3, 1.9), (1.0, 1.3))
DARK_GAINS = ((0.5, 0.8), (0.3, 0.6), (0.3, 0.6))
# How strongly a lesion is blended in at its core.
STRENGTH = (0.5, 1.0)


def lesion_weight(rows, columns, centre, semi_axes, angle):
    """A lesion's blending weight (h, w) in [0, 1] over a crop whose pixel coordinates are `rows`
    and `columns` (h, w): 1 in its elliptical core, falling linearly to 0 over the outer
    SOFT_EDGE of its radius."""
    rows, columns = rows - centre[0], columns - centre[1]
    cosine, sine = np.cos(angle), np.sin(angle)
    along, across = columns * cosine + rows * sine, -columns * sine + rows * cosine
    radius = np.sqrt((along / semi_axes[0]) ** 2 + (across / semi_axes[1]) ** 2)
    return np.clip((1.0 - radius) / SOFT_EDGE, 0.0, 1.0)


def random_gains(rng, ranges):
    return np.array([rng.uniform(*channel) for channel in ranges], dtype=np.float32)


def paint_lesions(crops, vessels, rng):
    """The crops (N, h, w, 3) float32 in [0, 1] with random lesions painted on them, each kept off
    the vessel pixels of `vessels` (N, h, w) and their 8-neighbours. Returns a new array."""
    crops = np.array(crops, dtype=np.float32)
    keep_clear = ndimage.binary_dilation(np.asarray(vessels) > 0, structure=np.ones((1, 3, 3), dtype=bool))
    height, width = crops.shape[1:3]
    mean_count = LESIONS_PER_64_PIXELS * height * width / 64**2
    # The crop's pixel coordinates, made once for every lesion of every crop.
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    for crop, clear in zip(crops, keep_clear):
        for _ in range(rng.poisson(mean_count)):
            long_axis = rng.uniform(*SEMI_AXIS_PX)
            semi_axes = (long_axis, long_axis * rng.uniform(*ASPECT))
            centre = (rng.uniform(0, height), rng.uniform(0, width))
            weight = lesion_weight(rows, columns, centre, semi_axes, rng.uniform(0, np.pi))
            gains = random_gains(rng, BRIGHT_GAINS if rng.random() < 0.5 else DARK_GAINS)
            weight = (rng.uniform(*STRENGTH) * weight * ~clear)[..., None]
            target = np.clip(crop * gains, 0.0, 1.0)
            crop += weight * (target - crop)
    return crops
