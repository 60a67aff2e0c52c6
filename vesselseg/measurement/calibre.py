"""Vessel calibre around the optic disc, and the clinical summary: CRAE, CRVE and AVR.

Zones are rings around the disc's centre, given in disc diameters (DD) from its margin, as in
the clinical literature: zone B lies 0.5 to 1 DD from the margin (1 to 1.5 DD from the centre),
zone C 0.5 to 2 DD from it (1 to 2.5 DD from the centre).

Each class map (arteries, veins) is skeletonised once and its skeleton cut at branch points into
segments, which serve the widths and the tortuosity alike. A segment with at least MIN_ZONE_PIXELS
skeleton pixels in the zone is one measured vessel, counted once however often it leaves and
re-enters the zone. Zone B gives CRAE and CRVE; zone C gives them too, as SIVA reports them beside
zone B's, from more of each vessel's length and more branches. At each of its skeleton pixels in
the zone the width is read across the vessel, perpendicular to the centreline (the direction of
the skeleton over DIRECTION_SPAN pixels each way), where the bilinearly interpolated map crosses
0.5; widths more than WIDTH_SLACK times the vessel's inscribed diameter there (profiles read along
the vessel or into a neighbour) are dropped, and the vessel's width is the median of the rest. A
model's map can bring the vessel probability that drew it: the profiles are then read from that
probability, the other class's pixels set to 0, as WIDTH_SOURCE says (cross_section_widths,
calibrated), and its zones B and C can be measured at the network's scale on a photograph larger
than it, as MODEL_ZONE_B_SCALE says (zone_vessels_at_scale).

CRAE and CRVE follow the revised Knudtson formulas (Knudtson et al., Curr Eye Res 2003) over the
six widest arterioles and venules: the widest is paired with the narrowest, w = k sqrt(w1^2 + w2^2)
with k = 0.88 for arterioles and 0.95 for venules, the middle one carried over when the count is
odd, and the pairing repeated until one width is left. With fewer than six vessels of a class, all
of them are summarised the same way and the row is flagged; with none, the figure is NaN.

    summary = clinical_summary(classes, fov, disc, pixel_size_um=None)   # classes in RITE's coding
    summary["crae_px"], summary["avr"], summary["flags"], summary["crae_zone_c_px"]
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from vesselseg.artery_vein import ARTERY, VEIN, classes_scale
from vesselseg.data.morphology import dilate
from vesselseg.data.resampling import rescaled_shape, resize_linear
from vesselseg.data.training_sets import fov_diameter
from vesselseg.measurement import vessel_measures
from vesselseg.measurement.optic_disc import typical_diameter

ZONE_B = (1.0, 1.5)
ZONE_C = (1.0, 2.5)
# The zones whose vessels are measured: their names, and the suffixes of their figures' keys and
# clinical.csv's columns (zone B's crae_px and the rest, zone C's crae_zone_c_px and the rest).
CALIBRE_ZONES = {"B": ("", ZONE_B), "C": ("_zone_c", ZONE_C)}
KNUDTSON_FACTORS = {"artery": 0.88, "vein": 0.95}
VESSELS_SUMMARISED = 6
# A segment needs this many skeleton pixels in the zone to be measured: fewer are a vessel that only
# grazes the ring, or skeleton noise.
MIN_ZONE_PIXELS = 5
# The centreline's direction at a skeleton pixel is taken over this many pixels each way.
DIRECTION_SPAN = 4
# Width profiles reach this far each side of the centreline, as a fraction of the disc diameter
# (20 px for DRIVE's 80-px disc, twice its widest vessels), sampled every PROFILE_STEP pixels.
PROFILE_REACH = 0.25
PROFILE_STEP = 0.25
# A width is kept only if it is at most this many times the widest disc that fits in the vessel
# at that point (twice the distance transform). Across a straight vessel the two agree; a profile
# that runs along a vessel, through a crossing or into a neighbouring branch reads far more.
WIDTH_SLACK = 1.5
# An estimated disc wider than this share of the FOV's width is flagged as likely wrong: a
# 45-degree camera shows the disc at about a seventh of its FOV and a 30-degree one at about a
# fifth (docs/results/artery_vein.md, the disc's diameter against the FOV).
MAX_DISC_FOV_SHARE = 1 / 3
# A zone B of which the FOV holds less than this share is flagged: on manual maps cut by a FOV's
# edge beside the disc, CRAE and CRVE stayed within 5% of the whole zone's in the median down to
# this share and read low below it, since the widest vessels may lie in the unseen part
# (docs/results/artery_vein.md, a flag for a zone B the FOV cuts).
MIN_ZONE_B_IN_FOV = 0.7
# Each flag of clinical_summary, as a folder's summary counts it.
FLAG_KINDS = {
    "no_disc": "disc not found",
    "disc_outside": "disc outside the FOV",
    "large_disc": "disc over a third of the FOV",
    "zone_b_cut": f"under {MIN_ZONE_B_IN_FOV:.0%} of zone B inside the FOV",
    "few_arterioles": f"fewer than {VESSELS_SUMMARISED} arterioles",
    "few_venules": f"fewer than {VESSELS_SUMMARISED} venules",
}
# When no --pixel-size-um is given, the disc diameter is taken as this many micrometres.
DISC_DIAMETER_UM = 1800.0
# What a model's widths are read from when its vessel probability is given: "binary", the class
# map as manual labels are read; "probability", the probability where it falls through the
# threshold that drew the binary map; "half-peak", where it falls through half its value at the
# centreline; "half-peak-offset" and "half-peak-factor", half the peak calibrated by the figures
# below. Manual labels have no probability and are always read as binary.
WIDTH_SOURCES = ("binary", "probability", "half-peak", "half-peak-offset", "half-peak-factor")
WIDTH_SOURCE = "half-peak-factor"
# The half-peak calibrations, fitted on the zone B vessels of RITE's training labels 21-36, which
# the artery/vein model learnt from, by `python tools/artery_vein_agreement.py --no-tta --sets
# training --widths half-peak`: the matched vessels' mean model-minus-manual width in the
# network's pixels, taken off each vessel's width (never below MIN_WIDTH_PX), and the manual
# widths' mean over the model's, multiplied in.
HALF_PEAK_OFFSET_NETWORK_PX = 0.197
HALF_PEAK_FACTOR = 0.9557
MIN_WIDTH_PX = 0.5
# Where zone B of a model's map is measured when its vessel probability is given: "photograph", at
# the photograph's own size; "network", on the class maps and the probability resampled to the
# scale its classes are drawn at (artery_vein.classes_scale), since the map holds no detail finer
# than the network's pixels and a skeleton at a higher resolution finds more, and wider, vessels
# (docs/results/artery_vein.md, "The same photograph at higher resolution"). Manual labels hold
# finer detail and are always measured at their own size.
ZONE_B_SCALES = ("photograph", "network")
MODEL_ZONE_B_SCALE = "photograph"


@dataclass
class VesselProbability:
    """A model's vessel probability (H, W) at the photograph's size, for reading its widths:
    `level` is the threshold that drew its binary vessels, and one of the network's pixels spans
    `scale` of the photograph's."""

    values: np.ndarray
    level: float = 0.5
    scale: float = 1.0


def in_zone(rows, columns, centre, diameter_px, zone):
    """Bool, broadcast from `rows` and `columns`: whether those pixels lie in the ring `zone`
    (inner, outer radius in disc diameters from the disc's centre) around `centre` (x, y) for a
    disc `diameter_px` pixels across."""
    distance = np.hypot(columns - centre[0], rows - centre[1]) / diameter_px
    return (distance >= zone[0]) & (distance <= zone[1])


def zone_mask(shape, centre, diameter_px, zone):
    """Bool (H, W): the ring `zone` around `centre` (x, y) for a disc `diameter_px` pixels across
    (in_zone)."""
    rows, columns = np.ogrid[: shape[0], : shape[1]]
    return in_zone(rows, columns, centre, diameter_px, zone)


def zone_in_fov(seen, diameter_px, zone):
    """The share (0-1) of the ring `zone`, for a disc `diameter_px` pixels across, that `seen`
    (H, W) bool, the ring's pixels inside the FOV (zone_mask & fov), holds: their count over the
    whole ring's area, so that a part beyond the photograph's edge counts as unseen, as a part
    beyond the FOV's does."""
    inner, outer = (radius * diameter_px for radius in zone)
    return min(1.0, np.count_nonzero(seen) / (np.pi * (outer**2 - inner**2)))


def path_directions(path, span=DIRECTION_SPAN):
    """Unit tangents (K, 2) in (row, column) along an ordered path (K, 2): at each pixel, the
    direction from `span` pixels before it to `span` pixels after it."""
    ahead = path[np.minimum(np.arange(len(path)) + span, len(path) - 1)]
    behind = path[np.maximum(np.arange(len(path)) - span, 0)]
    tangents = ahead - behind
    lengths = np.hypot(*tangents.T)
    return tangents / np.where(lengths > 0, lengths, 1.0)[:, None]


def cross_section_widths(class_map, points, tangents, reach_px, level=0.5, half_peak=False):
    """Widths (K,) in pixels of a map (H, W), bool or a probability, across the vessel at `points`
    (K, 2) (row, column), perpendicular to `tangents`: the distance between the two places, either
    side, where the bilinearly interpolated map falls through `level`, or with `half_peak` through
    half of its value at the centreline (a full width at half maximum). NaN where the profile
    leaves the vessel nowhere within `reach_px` or the centre is not on the vessel."""
    offsets = np.arange(-reach_px, reach_px + PROFILE_STEP / 2, PROFILE_STEP)
    normals = np.stack([-tangents[:, 1], tangents[:, 0]], axis=1)
    rows = points[:, 0, None] + normals[:, 0, None] * offsets[None, :]
    columns = points[:, 1, None] + normals[:, 1, None] * offsets[None, :]
    widths = np.full(len(points), np.nan)
    if not len(points):
        return widths
    # The profiles are read from the map cut to their box and a pixel around it, where a bilinear
    # sample finds the same four pixels as in the whole map, and only that box is converted: a
    # large photograph's zone C spans most of it. An integer taken off a coordinate is exact, so
    # the samples are the same to the bit.
    top, left = (max(0, int(np.floor(values.min())) - 1) for values in (rows, columns))
    bottom, right = (int(np.floor(values.max())) + 3 for values in (rows, columns))
    box = class_map[top:bottom, left:right].astype(np.float32)
    profiles = ndimage.map_coordinates(box, [rows - top, columns - left], order=1, cval=0.0)
    middle = len(offsets) // 2
    for index, profile in enumerate(profiles):
        crossing = profile[middle] / 2 if half_peak else level
        if profile[middle] < level or crossing <= 0:
            continue
        outside = profile < crossing
        right = np.flatnonzero(outside[middle:])
        left = np.flatnonzero(outside[: middle + 1][::-1])
        if right.size == 0 or left.size == 0:
            continue
        # Linear interpolation of where the profile falls through the crossing level on each side.
        edges = []
        for step, sign in ((right[0], 1), (left[0], -1)):
            inner, outer = profile[middle + sign * (step - 1)], profile[middle + sign * step]
            fraction = (inner - crossing) / (inner - outer) if inner != outer else 0.5
            edges.append((step - 1 + fraction) * PROFILE_STEP)
        widths[index] = sum(edges)
    return widths


def zone_window(centre, diameter_px, zone):
    """(top, left, window): the slices of a map that zone_vessels reads for `zone` around a disc
    at `centre` (x, y), `diameter_px` across, and the window's top-left corner. It holds the zone's
    outer ring, a profile's reach beyond it, and as much again for the distance transform to find
    a vessel's edge. On a large photograph it is a fraction of it, and the results are the same."""
    outer = zone[1] * diameter_px + 2 * profile_reach(diameter_px) + 2
    top, left = max(0, int(centre[1] - outer)), max(0, int(centre[0] - outer))
    window = (slice(top, max(top, int(centre[1] + outer) + 1)), slice(left, max(left, int(centre[0] + outer) + 1)))
    return top, left, window


def profile_reach(diameter_px):
    """How far a width profile reaches each side of the centreline, in pixels, for a disc
    `diameter_px` across."""
    return max(3.0, PROFILE_REACH * diameter_px)


class EdgeDistance:
    """The distance transform of a class map (h, w) bool, a window of a photograph whose top-left
    corner is at (top, left), read at the points asked for: each class pixel's distance to the
    nearest pixel outside the class. That pixel always touches the class (an 8-neighbour of a class
    pixel; were all its neighbours outside, the one towards the point would be nearer), so a
    nearest-neighbour query over those pixels alone gives scipy's distance_transform_edt to the
    bit (both take the square root of the same integer sum of squares), without the transform of
    every pixel of a large photograph's zone C."""

    def __init__(self, class_map, top=0, left=0):
        self.class_map, self.top, self.left = class_map, top, left
        touching = dilate(class_map, square=True) & ~class_map
        self.tree = cKDTree(np.argwhere(touching)) if touching.any() else None
        # A window with no pixel outside the class keeps the transform's own answer.
        self.transform = ndimage.distance_transform_edt(class_map) if self.tree is None else None

    def at(self, rows, columns):
        """Distances (K,) at the photograph's pixels (`rows`, `columns`, integers), 0 outside the class."""
        rows, columns = np.asarray(rows) - self.top, np.asarray(columns) - self.left
        if self.transform is not None:
            return self.transform[rows, columns]
        distances = np.zeros(len(rows))
        inside = self.class_map[rows, columns]
        if inside.any():
            distances[inside] = self.tree.query(np.stack([rows[inside], columns[inside]], axis=1))[0]
        return distances


def inscribed_radii(class_map, fov, centre, diameter_px, zones):
    """The EdgeDistance of a class map (H, W) bool inside `fov` over the window of the widest of
    `zones` (zone_window); made once, it serves each zone's zone_vessels, whose windows lie within it."""
    top, left, window = zone_window(centre, diameter_px, max(zones, key=lambda zone: zone[1]))
    return EdgeDistance(vessel_measures.inside_fov(class_map, fov)[window], top, left)


def zone_vessels(
    class_map,
    centre,
    diameter_px,
    zone=ZONE_B,
    fov=None,
    paths=None,
    probability=None,
    source=None,
    inscribed=None,
):
    """The vessels of one class crossing `zone`, as dicts: width_px (the median across-vessel width
    along the segment's pixels in the zone), x and y (the zone pixel nearest the ring's middle, for
    labels), and points (how many widths the median took), widest first. `paths`, the class
    skeleton's traced segments, and `inscribed`, inscribed_radii over a window that holds this
    zone's, are computed when not given. With a model's `probability` (VesselProbability), the
    widths are read from it as `source` (default WIDTH_SOURCE) says."""
    class_map = vessel_measures.inside_fov(class_map, fov)
    source = WIDTH_SOURCE if source is None else source
    if source not in WIDTH_SOURCES:
        raise ValueError(f"The width source must be one of {', '.join(WIDTH_SOURCES)}, not {source!r}.")
    from_probability = probability is not None and source != "binary"
    level = probability.level if from_probability else 0.5
    if not (np.isfinite(centre).all() and np.isfinite(diameter_px) and diameter_px > 0):
        return []
    if paths is None:
        paths = class_paths(class_map)
    reach = profile_reach(diameter_px)
    top, left, window = zone_window(centre, diameter_px, zone)
    class_map = class_map[window]
    if class_map.size == 0:
        return []
    # The other class's pixels, vessel by the probability but not of this class, are set to 0,
    # so that a profile leaves an artery where it touches a vein.
    values = probability.values[window] if from_probability else None
    profiled = np.where(class_map | (values < level), values, 0.0) if from_probability else class_map
    edge_distance = inscribed if inscribed is not None else EdgeDistance(class_map, top, left)
    middle_radius = diameter_px * (zone[0] + zone[1]) / 2
    vessels = []
    for path in paths:
        keep = in_zone(path[:, 0].astype(int), path[:, 1].astype(int), centre, diameter_px, zone)
        if np.count_nonzero(keep) < MIN_ZONE_PIXELS:
            continue
        points = path[keep]
        widths = cross_section_widths(
            profiled,
            points - (top, left),
            path_directions(path)[keep],
            reach,
            level=level,
            half_peak=from_probability and source.startswith("half-peak"),
        )
        diameters = 2 * edge_distance.at(points[:, 0].astype(int), points[:, 1].astype(int))
        widths = widths[np.isfinite(widths) & (widths <= WIDTH_SLACK * diameters)]
        if widths.size < MIN_ZONE_PIXELS:
            continue
        radii = np.hypot(points[:, 1] - centre[0], points[:, 0] - centre[1])
        label_at = points[np.argmin(np.abs(radii - middle_radius))]
        vessels.append(
            {
                "width_px": calibrated(float(np.median(widths)), probability, source if from_probability else "binary"),
                "x": float(label_at[1]),
                "y": float(label_at[0]),
                "points": int(widths.size),
            }
        )
    return sorted(vessels, key=lambda vessel: -vessel["width_px"])


def class_paths(class_map):
    """The traced segments of a class map's skeleton, cut at branch points (vessel_measures)."""
    return vessel_measures.segment_paths(vessel_measures.cut_segments(vessel_measures.skeleton(class_map))[0])


def zone_vessels_at_scale(classes, fov, disc, factor, probability, source=None, zones=(ZONE_B,)):
    """zone_vessels of both classes of a model's RITE-coded map (H, W), with its FOV (H, W) bool and
    its vessel `probability` (VesselProbability), measured on all three resampled by `factor` (at
    most 1; the maps linearly, anti-aliased, and cut at 0.5) with the disc (optic_disc.Disc) scaled
    alike: for each of `zones`, {"artery": vessels, "vein": vessels}, the widths and label points
    given back in the photograph's pixels."""
    shape = rescaled_shape(classes.shape, factor)
    # Each axis's own factor, since the shape is rounded to whole pixels.
    row_factor, column_factor = shape[0] / classes.shape[0], shape[1] / classes.shape[1]
    mean_factor = (row_factor + column_factor) / 2

    def smaller(array):
        return resize_linear(np.asarray(array, dtype=np.float32), shape, anti_aliasing=True)

    small_fov = smaller(fov) >= 0.5
    small_probability = VesselProbability(
        smaller(probability.values), probability.level, probability.scale * mean_factor
    )
    # Pixel centres map as (x + 0.5) * factor - 0.5, as resize_linear samples them.
    centre = ((disc.centre[0] + 0.5) * column_factor - 0.5, (disc.centre[1] + 0.5) * row_factor - 0.5)
    measured = [{} for _ in zones]
    for name, code in (("artery", ARTERY), ("vein", VEIN)):
        class_map = smaller((classes == code) & fov) >= 0.5
        # One skeleton and one distance transform serve every zone.
        paths = class_paths(vessel_measures.inside_fov(class_map, small_fov))
        diameter_px = disc.diameter_px * mean_factor
        inscribed = inscribed_radii(class_map, small_fov, centre, diameter_px, zones)
        for zone, found in zip(zones, measured):
            vessels = zone_vessels(
                class_map,
                centre,
                diameter_px,
                zone,
                small_fov,
                paths,
                probability=small_probability,
                source=source,
                inscribed=inscribed,
            )
            for vessel in vessels:
                vessel["width_px"] /= mean_factor
                vessel["x"] = (vessel["x"] + 0.5) / column_factor - 0.5
                vessel["y"] = (vessel["y"] + 0.5) / row_factor - 0.5
            found[name] = vessels
    return measured


def calibrated(width_px, probability, source):
    """A vessel's width in pixels as `source` calibrates it: less HALF_PEAK_OFFSET_NETWORK_PX of the
    network's pixels (`probability.scale` photograph pixels each), never below MIN_WIDTH_PX, or
    times HALF_PEAK_FACTOR; as it is for the other sources."""
    if source == "half-peak-offset":
        return max(width_px - HALF_PEAK_OFFSET_NETWORK_PX * probability.scale, MIN_WIDTH_PX)
    if source == "half-peak-factor":
        return width_px * HALF_PEAK_FACTOR
    return width_px


def knudtson(widths, factor):
    """The revised Knudtson summary of `widths`: widest paired with narrowest, factor * sqrt(a^2 +
    b^2), the middle one carried over when the count is odd, repeated until one is left. NaN for none."""
    widths = sorted(float(width) for width in widths)
    if not widths:
        return float("nan")
    while len(widths) > 1:
        pairs = len(widths) // 2
        combined = [factor * np.hypot(widths[-1 - index], widths[index]) for index in range(pairs)]
        carried = [widths[pairs]] if len(widths) % 2 else []
        widths = sorted(combined + carried)
    return float(widths[0])


def central_equivalent(widths, kind):
    """CRAE (`kind` "artery") or CRVE ("vein") in pixels of a class's zone B widths in pixels: the
    revised Knudtson summary of the VESSELS_SUMMARISED widest. NaN for none."""
    return knudtson(sorted(widths)[-VESSELS_SUMMARISED:], KNUDTSON_FACTORS[kind])


def class_measures(class_map, region, paths, ratios):
    """Tortuosity (mean arc over chord of the class skeleton's segments whose middle lies in the
    region), fractal dimension and density (share of the region's pixels) of one class map inside
    `region` (bool). `paths` are the class skeleton's traced segments over the whole FOV and
    `ratios` their tortuosities (None for segments too short to count)."""
    inside = class_map & region
    area = np.count_nonzero(region)
    if not inside.any():
        return {"tortuosity": float("nan"), "fractal_dimension": float("nan"), "density": 0.0}
    kept = [
        ratio
        for path, ratio in zip(paths, ratios)
        if ratio is not None and region[tuple(path[len(path) // 2].astype(int))]
    ]
    return {
        "tortuosity": float(np.mean(kept)) if kept else float("nan"),
        "fractal_dimension": vessel_measures.fractal_dimension(inside),
        "density": float(np.count_nonzero(inside) / area) if area else float("nan"),
    }


def pixel_size(disc, pixel_size_um=None, pixel_size_source=None):
    """(micrometres per pixel, its source): `pixel_size_um` where given, from `pixel_size_source`
    (default the user's --pixel-size-um), else the disc diameter taken as DISC_DIAMETER_UM, else
    (NaN, "none")."""
    if pixel_size_um:
        return float(pixel_size_um), pixel_size_source or "--pixel-size-um"
    if disc is not None and np.isfinite(disc.diameter_px) and disc.diameter_px > 0:
        return DISC_DIAMETER_UM / disc.diameter_px, f"disc diameter taken as {DISC_DIAMETER_UM:g} um"
    return float("nan"), "none"


def clinical_summary(
    classes,
    fov,
    disc,
    pixel_size_um=None,
    probability=None,
    width_source=None,
    zone_b_scale=None,
    pixel_size_source=None,
):
    """The clinical figures of one RITE-coded artery/vein map (H, W) with its FOV (H, W) bool or
    None and its optic disc (optic_disc.Disc). A model's map can bring its vessel `probability`
    (VesselProbability) for the widths (zone_vessels); its zone B is then measured at the scale
    that `zone_b_scale` (default MODEL_ZONE_B_SCALE) names (zone_vessels_at_scale).

    As a dict: the disc, the pixel size and its source, CRAE and CRVE in pixels and micrometres,
    AVR and the counts of measured vessels, of zone B and (keys ending in _zone_c) of zone C, and
    the share of each zone inside the FOV (zone_b_in_fov, zone_c_in_fov; zone_in_fov); per
    class the tortuosity, fractal dimension and density in zone C and over the FOV; the measured
    vessels of zone B ("vessels", for the figure) and of zone C ("vessels_zone_c"); and flags, a
    "; "-joined list of what makes zone B's figures unreliable, with their kinds (flag_kinds, a
    list of FLAG_KINDS' values, for a folder's summary)."""
    classes = np.asarray(classes)
    fov = np.ones(classes.shape, dtype=bool) if fov is None else np.asarray(fov, dtype=bool)
    # {kind: the flag's words}, in the order the flags are raised.
    flags = {}
    micrometres, source = pixel_size(disc, pixel_size_um, pixel_size_source)
    row = {
        "disc_x": disc.centre[0],
        "disc_y": disc.centre[1],
        "disc_diameter_px": disc.diameter_px,
        "disc_source": disc.source,
        "pixel_size_um": micrometres,
        "pixel_size_source": source,
    }
    usable = np.isfinite(disc.centre[0]) and np.isfinite(disc.diameter_px) and disc.diameter_px > 0
    if not disc.found:
        flags["no_disc"] = "disc not found"
    elif (
        usable
        and not fov[
            int(np.clip(round(disc.centre[1]), 0, fov.shape[0] - 1)),
            int(np.clip(round(disc.centre[0]), 0, fov.shape[1] - 1)),
        ]
    ):
        flags["disc_outside"] = "disc outside the FOV"
    if usable and not disc.diameter_given and disc.diameter_px > MAX_DISC_FOV_SHARE * fov_diameter(fov):
        # The flag names the diameter to try, since --disc-diameter is in this photograph's pixels.
        # It is not taken in the estimate's place: the rule that tried that found no ground for it
        # (docs/results/artery_vein.md).
        seventh = typical_diameter(fov)
        flags["large_disc"] = (
            f"disc {disc.diameter_px:.0f} px across, over a third of the FOV: check it or give --disc-diameter "
            f"(a seventh of the FOV, a 45-degree camera's disc, is {seventh:.0f} px)"
        )
    zone_b_scale = MODEL_ZONE_B_SCALE if zone_b_scale is None else zone_b_scale
    if zone_b_scale not in ZONE_B_SCALES:
        raise ValueError(f"The zone B scale must be one of {', '.join(ZONE_B_SCALES)}, not {zone_b_scale!r}.")
    factor = classes_scale(fov) if probability is not None and zone_b_scale == "network" else 1.0
    measured = {suffix: {"artery": [], "vein": []} for suffix, _ in CALIBRE_ZONES.values()}
    if usable and factor < 1:
        rings = [zone for _, zone in CALIBRE_ZONES.values()]
        found = zone_vessels_at_scale(classes, fov, disc, factor, probability, width_source, rings)
        measured = dict(zip(measured, found))
    # Each zone's pixels inside the FOV: zone C's are where its class measures are read, and both
    # give the share of their zone that the FOV holds.
    seen = {
        letter: zone_mask(classes.shape, disc.centre, disc.diameter_px, zone) & fov if usable else None
        for letter, (_, zone) in CALIBRE_ZONES.items()
    }
    zone_c = seen["C"]
    for name, code in (("artery", ARTERY), ("vein", VEIN)):
        class_map = (classes == code) & fov
        # One skeleton and one tracing per class serve the widths, and the tortuosity of both regions.
        paths = class_paths(class_map)
        ratios = vessel_measures.path_tortuosities(paths)
        if usable and factor == 1:
            zones = [zone for _, zone in CALIBRE_ZONES.values()]
            inscribed = inscribed_radii(class_map, fov, disc.centre, disc.diameter_px, zones)
            for suffix, zone in CALIBRE_ZONES.values():
                measured[suffix][name] = zone_vessels(
                    class_map, disc.centre, disc.diameter_px, zone, fov, paths, probability, width_source, inscribed
                )
        for region_name, region in (("zone_c", zone_c), ("fov", fov)):
            values = (
                class_measures(class_map, region, paths, ratios)
                if region is not None
                else {"tortuosity": float("nan"), "fractal_dimension": float("nan"), "density": float("nan")}
            )
            for key, value in values.items():
                row[f"{name}_{key}_{region_name}"] = value
    for suffix, vessels in measured.items():
        row.update(equivalents(vessels, micrometres, suffix))
        row[f"vessels{suffix}"] = vessels
    # How much of each zone the FOV holds: a disc near the FOV's edge, or a disc-centred
    # photograph's zone C, leaves part of a zone unseen, and its figures come from the rest.
    for letter, (_, zone) in CALIBRE_ZONES.items():
        share = zone_in_fov(seen[letter], disc.diameter_px, zone) if usable else float("nan")
        row[f"zone_{letter.lower()}_in_fov"] = share
    if row["zone_b_in_fov"] < MIN_ZONE_B_IN_FOV:
        # The share is cut, not rounded, to whole percent, so that 69.7% does not read as 70%, under 70%.
        flags["zone_b_cut"] = (
            f"{int(row['zone_b_in_fov'] * 100)}% of zone B inside the FOV, under {MIN_ZONE_B_IN_FOV:.0%}: CRAE "
            "and CRVE may read low"
        )
    for name, singular, plural in (("artery", "arteriole", "arterioles"), ("vein", "venule", "venules")):
        count = len(measured[""][name])
        if count < VESSELS_SUMMARISED:
            noun = singular if count == 1 else plural
            flags[f"few_{plural}"] = f"{count} {noun} in zone B, fewer than {VESSELS_SUMMARISED}"
    row["flags"] = "; ".join(flags.values())
    row["flag_kinds"] = [FLAG_KINDS[kind] for kind in flags]
    return row


def equivalents(vessels, micrometres, suffix=""):
    """CRAE, CRVE (in pixels and at `micrometres` per pixel), AVR and the counts of one zone's
    measured `vessels` ({"artery": [...], "vein": [...]}), as a dict whose keys end in `suffix`."""
    crae = central_equivalent([vessel["width_px"] for vessel in vessels["artery"]], "artery")
    crve = central_equivalent([vessel["width_px"] for vessel in vessels["vein"]], "vein")
    return {
        f"crae{suffix}_px": crae,
        f"crve{suffix}_px": crve,
        f"crae{suffix}_um": crae * micrometres,
        f"crve{suffix}_um": crve * micrometres,
        f"avr{suffix}": crae / crve if crve > 0 else float("nan"),
        f"arterioles{suffix}": len(vessels["artery"]),
        f"venules{suffix}": len(vessels["vein"]),
    }
