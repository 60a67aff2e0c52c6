"""A cheap check that a photograph is a fundus photograph of usable quality.

    checks = photograph_checks(image, fov)          # before segmentation, on the photograph
    checks.update(map_checks(vessels, fov))         # after it, on the binary vessel map
    score, grade, weakest = grade_quality(checks)   # 0-1, "good" / "usable" / "poor", the reason

Each check is a score from 0 (certainly wrong) to 1 (as fundus photographs are), and the
photograph's quality score is the lowest of them, so that one failure is enough and the manifest
can name it. The checks look at what a fundus photograph has and other photographs lack:

- field of view: a round bright disc on a dark surround, covering a fair part of the frame;
- colour: the retina is red, brighter in red than in green and in green than in blue; a
  monochrome photograph (red-free, or any grey one) has no colour to check, and is judged by the
  other checks alone;
- illumination: bright enough to see vessels in, and not burnt out;
- sharpness: fine detail (vessel edges) in the green channel, which blur removes;
- the vessel map: a plausible vessel fraction, and vessels that join into a tree rather than
  scattered fragments.

The limits were set on the development photographs (DRIVE's training images, CHASE_DB1,
DR HAGIS, LES-AV), which must all grade at least "usable", against scikit-image's photographs of
other things and degraded copies of development photographs, which must grade "poor"
(docs/predict.md, quality; tests/test_cohort.py).
"""

import functools

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from vesselseg.data.morphology import erode
from vesselseg.inference.photographs import PLAUSIBLE_VESSEL_FRACTION

# The checks run on the photograph shrunk to about this width: enough for the FOV's shape and
# for the vessels' edges, and a few milliseconds whatever the camera's resolution.
CHECK_WIDTH = 512
# Each check maps its measure linearly from 0 at `poor` to 1 at `good`; in brackets the range of
# the development photographs, then of the photographs that must fail.
LIMITS = {
    # The FOV's share of the frame (0.44-0.72; the Hubble deep field 0.00).
    "fov_area": (0.15, 0.3),
    # The FOV's area over its convex hull's (0.89-1.00; a portrait 0.84, the Hubble field 0.80).
    "fov_solidity": (0.85, 0.93),
    # Mean brightness of the surround over that of the FOV (0.01-0.15; a cup of coffee 0.33, a cat 1.0).
    "surround_darkness": (0.3, 0.15),
    # Mean red over mean green inside the FOV (1.22-3.9; a rocket 0.91).
    "redness": (1.0, 1.15),
    # Mean brightness of the FOV, its brightest channel (0.25-0.97; a photograph at 12% 0.05-0.09).
    "brightness": (0.1, 0.2),
    # Share of the FOV whose green is burnt out above 0.9 (0.00-0.01; three times the exposure 0.19-0.99).
    "burnt_out": (0.15, 0.05),
    # Fine detail of the green channel: its high-pass standard deviation over its own (0.037-0.31;
    # blurred by 6 pixels at DRIVE's scale 0.010-0.024).
    "sharpness": (0.025, 0.035),
    # Share of the vessel pixels in the largest connected vessel tree.
    "vessel_tree": (0.25, 0.45),
}
# Green above this level is burnt out.
BURNT_LEVEL = 0.9
# A photograph whose channels differ by no more than this anywhere in its FOV (as the check sees
# it) is monochrome: a red-free photograph or a grey one saved as RGB, whose "redness" is 1 by
# construction and says nothing.
MONOCHROME_TOLERANCE = 2 / 255
# A vessel fraction outside PLAUSIBLE_VESSEL_FRACTION scores 0 at these limits, 1 inside it.
IMPLAUSIBLE_VESSEL_FRACTION = (0.01, 0.4)
# The grades by quality score.
GRADES = ((0.7, "good"), (0.4, "usable"), (0.0, "poor"))


def ramp(value, poor, good):
    """0 at `poor`, 1 at `good`, linear between and clipped (either may be the larger)."""
    return float(np.clip((value - poor) / (good - poor), 0.0, 1.0))


def shrink(image, fov):
    """The photograph and its FOV at about CHECK_WIDTH pixels wide (never enlarged). Each channel
    is averaged over the area that a small pixel covers (PIL's box filter on 32-bit floats): an
    anti-aliased shrink, several times faster than a Gaussian blur and interpolation."""
    factor = min(1.0, CHECK_WIDTH / image.shape[1])
    if factor == 1.0:
        return image, fov
    size = (CHECK_WIDTH, max(1, round(image.shape[0] * factor)))
    channels = [
        np.asarray(Image.fromarray(np.ascontiguousarray(image[..., channel], dtype=np.float32)).resize(size, Image.BOX))
        for channel in range(image.shape[-1])
    ]
    small_fov = np.asarray(Image.fromarray(np.asarray(fov, dtype=np.uint8) * 255).resize(size, Image.NEAREST)) > 0
    return np.stack(channels, axis=-1), small_fov


def solidity(region):
    """A bool region's area over its convex hull's, both in pixels. The hull is that of the edge
    pixels' centres, filled with its outline by PIL's scan lines: within 0.002 of scikit-image's
    regionprops solidity on fundus photographs and others, and many times faster, since that
    tests every pixel of the region's box against the hull."""
    rows, columns = np.nonzero(region & ~erode(region))
    if len(np.unique(rows)) < 2 or len(np.unique(columns)) < 2:
        return 1.0
    points = np.stack([columns, rows], axis=1)
    try:
        hull = points[ConvexHull(points).vertices]
    except QhullError:
        # The edge pixels lie on one line: the region is a line, its own hull.
        return 1.0
    canvas = Image.new("1", (region.shape[1], region.shape[0]), 0)
    ImageDraw.Draw(canvas).polygon([tuple(point) for point in hull.tolist()], fill=1, outline=1)
    filled = np.asarray(canvas, dtype=bool)
    return float(np.count_nonzero(region) / max(1, np.count_nonzero(filled | region)))


def photograph_checks(image, fov):
    """{check: score 0-1} of the photograph (H, W, 3) in [0, 1] with its FOV (H, W) bool."""
    image, fov = shrink(image, fov)
    if not fov.any():
        return {"fov_area": 0.0}
    # The brightest channel, compared plane by plane: NumPy's max over a last axis of three takes
    # about ten times as long for the same values.
    brightness = functools.reduce(np.maximum, [image[..., channel] for channel in range(image.shape[-1])])
    inside = float(brightness[fov].mean())
    surround = float(brightness[~fov].mean()) / max(inside, 1e-6) if (~fov).any() else 0.0
    red, green = (float(image[..., channel][fov].mean()) for channel in range(2))
    green_channel = image[..., 1]
    detail = green_channel - ndimage.gaussian_filter(green_channel, 2.0)
    # The FOV's edge is the sharpest thing in the photograph, and is left out of the detail.
    interior = erode(fov, iterations=8) if fov.sum() > 1000 else fov
    spread = max(float(green_channel[fov].std()), 1e-3)
    measures = {
        "fov_area": float(fov.mean()),
        "fov_solidity": solidity(fov),
        "surround_darkness": surround,
        "redness": red / max(green, 1e-3),
        "brightness": inside,
        "burnt_out": float((green_channel[fov] > BURNT_LEVEL).mean()),
        "sharpness": float(detail[interior].std()) / spread if interior.any() else 0.0,
    }
    if is_monochrome(image, fov):
        del measures["redness"]
    return {name: ramp(value, *LIMITS[name]) for name, value in measures.items()}


def is_monochrome(image, fov):
    """True when the photograph's (H, W, 3) channels are the same within MONOCHROME_TOLERANCE
    over its FOV (H, W) bool."""
    channels = [image[..., channel][fov] for channel in range(image.shape[-1])]
    return all(float(np.abs(channel - channels[0]).max()) <= MONOCHROME_TOLERANCE for channel in channels[1:])


def map_checks(vessels, fov):
    """{check: score 0-1} of a binary vessel map (H, W) with its FOV (H, W) bool."""
    fraction = float(vessels[fov].mean()) if fov.any() else 0.0
    (low, high), (floor, ceiling) = PLAUSIBLE_VESSEL_FRACTION, IMPLAUSIBLE_VESSEL_FRACTION
    plausible = ramp(fraction, floor, low) if fraction < low else ramp(fraction, ceiling, high)
    labels, count = ndimage.label(vessels & fov, structure=np.ones((3, 3)))
    largest = np.bincount(labels.ravel())[1:].max() if count else 0
    share = largest / max(1, int((vessels & fov).sum()))
    return {"vessel_fraction": plausible, "vessel_tree": ramp(share, *LIMITS["vessel_tree"])}


def grade_quality(checks):
    """(score 0-1, grade, the weakest check's name) of a dict of check scores."""
    weakest = min(checks, key=checks.get)
    score = checks[weakest]
    grade = next(name for limit, name in GRADES if score >= limit)
    return round(score, 4), grade, weakest
