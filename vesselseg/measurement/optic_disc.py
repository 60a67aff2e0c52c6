"""The optic disc: its centre and diameter in a fundus photograph, found without training.

The disc is where two cues meet: it is the brightest disc-sized region of the fundus, and the
vessel tree converges on it, so its surroundings hold the most wide vessels. Neither cue alone is
reliable (bright lesions and reflexes fool the first, dense thin vessels the second); their sum,
each standardised over the field of view (FOV), is maximal at the disc. The diameter is then read
from the brightness profile along rays from that centre: the disc's rim is where it falls fastest.

A classical method rather than a learned one because no training set with disc labels is at hand
(DRIVE_zoneB marks DRIVE's test images, which are for final scores only), and because it needs
nothing but the photograph and the vessel map that predict.py already has.

    disc = locate_disc(image, fov, vessels)     # image (H, W, 3) in [0, 1], fov and vessels (H, W)
    disc.found, disc.centre, disc.diameter_px   # centre as (x, y) in the photograph's pixels

Everything is computed with the FOV rescaled to DRIVE's width (540 px), where a 45-degree camera's
disc is about 80 px across; results come back in the photograph's own pixels.
"""

import dataclasses

import numpy as np
from scipy import ndimage
from skimage import transform
from skimage.morphology import disk

from vesselseg.data.morphology import erode
from vesselseg.data.training_sets import network_scale

# The width of DRIVE's FOV, at which the constants below hold.
WORKING_FOV_DIAMETER = 540
# The two cues are computed at this fraction of the working scale, where a disc is still about 27 px
# across, and the centre is then refined at the working scale.
COARSE_FACTOR = 1 / 3
# The refinement looks this far (working pixels) from the coarse centre.
REFINE_RADIUS = 40
# The vessel cue's weight beside the brightness cue's 1: the trunk of the tree, where wide vessels
# are densest, lies beside the disc's centre rather than on it.
VESSEL_WEIGHT = 0.5
# A 45-degree camera's disc at the working scale; the rays and smoothing scale with it.
TYPICAL_DISC_DIAMETER = 80
# The disc's radius is searched between these (working pixels): diameters of 50 to 240 px cover
# 60- to 30-degree fields.
RADIUS_RANGE = (25, 120)
# Vessels at least this wide (working pixels) count as the wide vessels that converge on the disc.
WIDE_VESSEL_PX = 5
# The disc counts as found when its score stands this many standard deviations above the FOV's mean.
MIN_SCORE = 2.5
# Along a ray, the rim is the outermost fall at least this share of the steepest one.
RIM_SLOPE_SHARE = 0.5
# Dark vessels up to this width (working pixels) are closed over before brightness is read.
CLOSING_PX = 13
# Rays along which the rim is sought.
RAYS = 24
# How the disc's centre is taken near the coarse peak (refine_centre): "brightest", the brightest
# disc-sized spot, which is often the bright cup on the disc's temporal side; "trunk", the
# midpoint of that spot and the densest wide vessels, where the vessel trunk leaves the disc on
# its darker nasal side; "across", the spot's row and that midpoint's column, since the cup and
# the trunk lie on either side of the centre across the photograph while the trunk's row wanders
# with the denser arcade, and the trunk's peak alone where the two lie further apart across than
# one disc allows (ATROPHY_GAP), as when the brightest spot is pale atrophy beside the disc. The
# diameter is read from the brightest spot either way.
CENTRE_METHODS = ("brightest", "trunk", "across")
CENTRE_METHOD = "across"
# Further apart across than a typical disc's radius (working pixels), the brightest spot and the
# trunk cannot be the cup and the trunk of one disc.
ATROPHY_GAP = TYPICAL_DISC_DIAMETER / 2


@dataclasses.dataclass
class Disc:
    """An optic disc, in the photograph's pixels. found is False when no disc stood out, in which
    case centre and diameter_px hold the best guess or NaN; source says where the figures came from,
    and diameter_given is True where the user gave the diameter (--disc-diameter)."""

    found: bool
    centre: tuple  # (x, y)
    diameter_px: float
    score: float = float("nan")
    source: str = "estimated"
    diameter_given: bool = False


def close_vessels(luminance, width):
    """A grey closing with a disc `width` pixels across, which fills dark vessels up to that width
    whatever their direction (a square's reach is longer along its diagonals)."""
    return ndimage.grey_closing(luminance, footprint=disk(max(1, int(round(width / 2)))))


def masked_smooth(values, mask, sigma):
    """A Gaussian average of `values` over the pixels of `mask` only (normalised convolution), so
    that the black surround outside the FOV does not darken the pixels near its edge."""
    weights = ndimage.gaussian_filter(mask.astype(np.float64), sigma)
    smoothed = ndimage.gaussian_filter(np.where(mask, values, 0.0).astype(np.float64), sigma)
    return np.divide(smoothed, weights, out=np.zeros_like(smoothed), where=weights > 1e-3)


def standardise_inside(values, mask):
    """(values - mean) / std over the mask's pixels; 0 outside the mask."""
    inside = values[mask]
    spread = inside.std() or 1.0
    return np.where(mask, (values - inside.mean()) / spread, 0.0)


def brightness_cue(luminance, fov, factor=1.0):
    """How much brighter each pixel's disc-sized neighbourhood is than its wider surroundings, with
    the dark vessels closed over first so that the vessels on the disc do not dim it. `factor` is
    the scale of the arrays relative to the working scale."""
    closed = close_vessels(luminance, CLOSING_PX * factor)
    local = masked_smooth(closed, fov, TYPICAL_DISC_DIAMETER / 6 * factor)
    surroundings = masked_smooth(closed, fov, TYPICAL_DISC_DIAMETER * 1.5 * factor)
    return standardise_inside(local - surroundings, fov)


def wide_vessels(vessels):
    """The vessels (H, W) bool at least WIDE_VESSEL_PX wide, the trunk and its first branches that
    converge on the disc: a binary opening of the vessel map."""
    return ndimage.binary_opening(vessels, structure=np.ones((WIDE_VESSEL_PX, WIDE_VESSEL_PX), dtype=bool))


def vessel_cue(wide, fov, factor=1.0):
    """The density of wide vessels (wide_vessels, at the working scale) around each pixel,
    standardised over the FOV; the result at `factor` times the working scale."""
    coarse = transform.resize(wide.astype(float), fov.shape, order=1, anti_aliasing=True)
    return standardise_inside(masked_smooth(coarse, fov, TYPICAL_DISC_DIAMETER / 2 * factor), fov)


def refine_centre(luminance, fov, centre, method=CENTRE_METHOD, wide=None):
    """(the disc's centre, its brightest disc-sized spot), each (row, column), near the coarse
    `centre`, by `method` (CENTRE_METHODS); `wide`, the wide vessels at the working scale
    (wide_vessels), serves "trunk" and "across" (without them, the centre is the brightest spot).
    The spot is sought within REFINE_RADIUS working pixels of `centre`: the vessel cue finds the
    trunk of the tree, which runs beside the disc's brightest part; the trunk's densest wide vessels
    within the same reach. Without a photograph (`luminance` None) no spot is brighter than
    another, and both are the trunk's peak, whatever the method."""
    if method not in CENTRE_METHODS:
        raise ValueError(f"unknown disc centre method {method!r}; choose from {', '.join(CENTRE_METHODS)}")
    top, left = (max(0, int(value) - REFINE_RADIUS - TYPICAL_DISC_DIAMETER) for value in centre)
    window = (
        slice(top, int(centre[0]) + REFINE_RADIUS + TYPICAL_DISC_DIAMETER),
        slice(left, int(centre[1]) + REFINE_RADIUS + TYPICAL_DISC_DIAMETER),
    )
    rows, columns = np.indices(fov[window].shape)
    near = (np.hypot(rows + top - centre[0], columns + left - centre[1]) <= REFINE_RADIUS) & fov[window]

    def peak(values):
        row, column = np.unravel_index(int(np.argmax(np.where(near, values, -np.inf))), values.shape)
        return (row + top, column + left)

    trunk = (
        None
        if wide is None
        else peak(masked_smooth(wide[window].astype(float), fov[window], TYPICAL_DISC_DIAMETER / 6))
    )
    if luminance is None:
        if trunk is None:
            raise ValueError("the disc's centre needs a photograph or a vessel map")
        return trunk, trunk
    closed = close_vessels(luminance[window], CLOSING_PX)
    spot = peak(masked_smooth(closed, fov[window], TYPICAL_DISC_DIAMETER / 6))
    if method == "brightest" or trunk is None:
        return spot, spot
    if method == "trunk":
        return ((spot[0] + trunk[0]) / 2, (spot[1] + trunk[1]) / 2), spot
    if abs(spot[1] - trunk[1]) > ATROPHY_GAP:
        return trunk, spot
    return (spot[0], (spot[1] + trunk[1]) / 2), spot


def rim_radius(luminance, fov, centre):
    """The disc's radius (working pixels) from `centre` (row, column): along each ray, the outermost
    radius where the smoothed brightness falls steeply, the median over the rays that stay in the FOV."""
    radii = np.arange(RADIUS_RANGE[0] - 5, RADIUS_RANGE[1] + 6, dtype=float)
    # Only the rays' reach is closed and smoothed, which takes a fraction of the whole image's time.
    reach = int(radii[-1]) + CLOSING_PX + 5
    top, left = max(0, int(centre[0]) - reach), max(0, int(centre[1]) - reach)
    window = (slice(top, int(centre[0]) + reach + 1), slice(left, int(centre[1]) + reach + 1))
    smooth = ndimage.gaussian_filter(close_vessels(luminance[window], CLOSING_PX), 2.0)
    fov = fov[window]
    centre = (centre[0] - top, centre[1] - left)
    found = []
    for angle in np.linspace(0, 2 * np.pi, RAYS, endpoint=False):
        rows = centre[0] + radii * np.sin(angle)
        columns = centre[1] + radii * np.cos(angle)
        inside = ndimage.map_coordinates(fov.astype(float), [rows, columns], order=0, cval=0.0) > 0
        if not inside.all():
            continue
        profile = ndimage.map_coordinates(smooth, [rows, columns], order=1)
        slope = np.gradient(profile)
        usable = (radii >= RADIUS_RANGE[0]) & (radii <= RADIUS_RANGE[1])
        # The outermost strong fall: inside the disc, the bright cup's edge falls too, but less.
        strong = usable & (slope <= RIM_SLOPE_SHARE * slope[usable].min())
        found.append(radii[strong].max())
    return float(np.median(found)) if len(found) >= RAYS // 4 else float("nan")


def working_scale(fov):
    """The factor that brings a FOV (H, W) bool, not empty, to WORKING_FOV_DIAMETER pixels across
    its larger extent, as predict.py --images rescales photographs: a disc's diameter in the
    photograph's pixels times it is the diameter at the working scale."""
    return network_scale(fov, WORKING_FOV_DIAMETER)


def typical_diameter(fov):
    """A 45-degree camera's disc in the pixels of a photograph whose FOV is `fov` (H, W) bool:
    TYPICAL_DISC_DIAMETER at the working scale, a seventh of the FOV's width; NaN for an empty FOV."""
    fov = np.asarray(fov, dtype=bool)
    return TYPICAL_DISC_DIAMETER / working_scale(fov) if fov.any() else float("nan")


def locate_disc(image, fov, vessels=None, centre_method=CENTRE_METHOD):
    """The optic disc of a photograph (H, W, 3) in [0, 1] with its FOV (H, W) bool and, when known,
    its vessel map (H, W) bool, which sharpens the centre; `centre_method` refines the centre
    (refine_centre). Returns a Disc in the photograph's pixels. With `image` None, the vessel map
    alone gives the centre (where its wide vessels are densest) and the diameter is NaN, since
    there is no rim to see."""
    fov = np.asarray(fov, dtype=bool)
    if not fov.any():
        return Disc(False, (float("nan"), float("nan")), float("nan"))
    if image is None and vessels is None:
        raise ValueError("the optic disc needs a photograph or a vessel map")
    scale = working_scale(fov)
    # Without a photograph the zeros only give the working arrays their shapes.
    luminance = (
        np.asarray(image, dtype=np.float64) @ np.array([0.299, 0.587, 0.114])
        if image is not None
        else np.zeros(fov.shape)
    )
    small = transform.rescale(luminance, scale, order=1, anti_aliasing=scale < 1)
    small_fov = transform.resize(fov.astype(float), small.shape, order=0) > 0.5
    inside = erode(small_fov, iterations=3)
    coarse = transform.rescale(small, COARSE_FACTOR, order=1, anti_aliasing=True)
    coarse_inside = transform.resize(inside.astype(float), coarse.shape, order=0) > 0.5
    # Without a photograph there is no brightness to read, and the vessels alone score. (A grey
    # picture in its place was not flat once rescaled, and the cue's standardisation over the FOV
    # blew its rounding up to outweigh the vessels.)
    score = brightness_cue(coarse, coarse_inside, COARSE_FACTOR) if image is not None else np.zeros(coarse.shape)
    wide = None
    if vessels is not None:
        wide = wide_vessels((transform.resize(np.asarray(vessels, dtype=float), small.shape, order=1) >= 0.5) & inside)
        score = score + VESSEL_WEIGHT * vessel_cue(wide, coarse_inside, COARSE_FACTOR)
    score = np.where(coarse_inside, score, -np.inf)
    coarse_peak = np.unravel_index(int(np.argmax(score)), score.shape)
    standing = float(standardise_inside(np.where(coarse_inside, score, 0.0), coarse_inside)[coarse_peak])
    coarse_centre = [index / COARSE_FACTOR for index in coarse_peak]
    peak, spot = refine_centre(small if image is not None else None, inside, coarse_centre, centre_method, wide)
    radius = rim_radius(small, small_fov, spot) if image is not None else float("nan")
    diameter = 2 * radius / scale if np.isfinite(radius) else float("nan")
    centre = ((peak[1] + 0.5) / scale - 0.5, (peak[0] + 0.5) / scale - 0.5)
    return Disc(standing >= MIN_SCORE, (float(centre[0]), float(centre[1])), float(diameter), standing)


def given_disc(centre=None, diameter_px=None, estimate=None):
    """The disc that the user's --disc-centre and --disc-diameter make of an estimate (either may be
    None): what the user gave overrides what was estimated, and the source says which is which."""
    if centre is None and diameter_px is None:
        return estimate
    if estimate is None:
        estimate = Disc(False, (float("nan"), float("nan")), float("nan"))
    return Disc(
        found=True if centre is not None else estimate.found,
        centre=tuple(map(float, centre)) if centre is not None else estimate.centre,
        diameter_px=float(diameter_px) if diameter_px is not None else estimate.diameter_px,
        score=estimate.score,
        source=("given" if centre is not None else "estimated")
        + " centre, "
        + ("given" if diameter_px is not None else "estimated")
        + " diameter",
        diameter_given=diameter_px is not None,
    )


def ring_centre(ring, inner_radius=80, outer_radius=120):
    """The centre (x, y) of a ring drawn as a bool image (H, W), such as DRIVE_zoneB's zone B rings
    (inner radius 80 px, outer 120), found by matching a ring of those radii: robust to rings
    clipped by the FOV's edge, where the ring's centroid would move."""
    from scipy.signal import fftconvolve

    ring = np.asarray(ring, dtype=bool)
    reach = outer_radius + 10
    rows, columns = np.indices((2 * reach + 1, 2 * reach + 1)) - reach
    distance = np.hypot(rows, columns)
    # +1 on the ring, -1 just inside and just outside it: the match is best where the drawn ring fits.
    template = np.where((distance >= inner_radius) & (distance <= outer_radius), 1.0, 0.0)
    template -= ((distance < inner_radius - 3) | ((distance > outer_radius + 3) & (distance <= reach))) * 1.0
    match = fftconvolve(ring.astype(float), template[::-1, ::-1], mode="same")
    row, column = np.unravel_index(int(np.argmax(match)), match.shape)
    return float(column), float(row)
