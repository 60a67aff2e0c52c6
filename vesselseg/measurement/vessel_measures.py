"""Measurements of a binary vessel map: fraction, length, width, branching, tortuosity, fractal
dimension. Small pure functions on NumPy arrays, built on scikit-image and SciPy.

All lengths and widths are in pixels of the map; multiply by the pixel size for micrometres.

    from vesselseg.measurement.vessel_measures import measure
    values = measure(vessels, fov)      # bool (H, W) arrays; fov may be None (whole image)
    values["mean_width_px"], values["tortuosity"]

The skeleton is scikit-image's `skeletonize` of the map (inside the FOV; `skeleton`). Its pixels
with one 8-neighbour are end points; its pixels with three or more are branch pixels, and each
8-connected cluster of them is one branch point. Cutting the skeleton at its branch points leaves
segments.
"""

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree
from skimage.morphology import skeletonize

from vesselseg.data.morphology import dilate

SQRT2 = float(np.sqrt(2.0))
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
# Segments shorter than this (arc, pixels) are left out of the tortuosity: their arc and chord
# are a few pixels, so skeleton noise of one pixel changes the ratio by tens of percent.
MIN_SEGMENT_LENGTH = 10.0
# A segment's arc is measured along its path simplified to this tolerance (pixels), so that the
# staircase of a digital line does not count as tortuosity.
ARC_TOLERANCE = 1.0
# Box sizes (pixels) of the box-counting fractal dimension.
BOX_SIZES = (2, 4, 8, 16, 32, 64)


def skeleton(mask):
    """scikit-image's `skeletonize` of a (H, W) mask, as a bool (H, W) array, computed inside the
    box that holds the mask's pixels. Thinning decides each pixel by its 3x3 neighbourhood, and
    `skeletonize` pads its array with background first, so the background outside the box changes
    nothing: the result is the same to the bit, in less time where the vessels fill part of the
    frame, as a round FOV on a wide sensor leaves them."""
    mask = np.asarray(mask, dtype=bool)
    thinned = np.zeros(mask.shape, dtype=bool)
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size:
        box = slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1)
        thinned[box] = skeletonize(mask[box])
    return thinned


def inside_fov(vessels, fov=None):
    """The vessel map as bool, with everything outside the FOV (when given) removed."""
    vessels = np.asarray(vessels).astype(bool)
    if fov is None:
        return vessels
    fov = np.asarray(fov).astype(bool)
    if fov.shape != vessels.shape:
        raise ValueError(
            f"The map is {vessels.shape[1]}x{vessels.shape[0]} but its FOV mask is "
            f"{fov.shape[1]}x{fov.shape[0]}; they must be the same size."
        )
    return vessels & fov


def vessel_fraction(vessels, fov=None):
    """Fraction of the FOV's pixels (all pixels without a FOV) that are vessel."""
    area = vessels.size if fov is None else np.count_nonzero(fov)
    return float(np.count_nonzero(inside_fov(vessels, fov)) / area) if area else 0.0


def neighbour_counts(skeleton):
    """For each skeleton pixel, the number of its 8 neighbours on the skeleton (0 elsewhere)."""
    skeleton = np.asarray(skeleton, dtype=bool)
    # Eight shifted sums of a zero-padded copy: the convolution with a 3x3 kernel, a few times faster.
    padded = np.pad(skeleton, 1).astype(np.uint8)
    height, width = skeleton.shape
    counts = np.zeros((height, width), dtype=np.uint8)
    for row in range(3):
        for column in range(3):
            if (row, column) != (1, 1):
                counts += padded[row : row + height, column : column + width]
    return np.where(skeleton, counts, 0)


def skeleton_links(skeleton):
    """(pixels, first, second): the flat indices of the skeleton's pixels in a copy padded by one
    pixel, in row-major order, and the links between 8-neighbouring pixels as pairs of positions in
    `pixels`. A diagonal link beside an orthogonal corner on the skeleton is left out, because the
    corner's two orthogonal links already join those pixels: a path turning a corner runs through
    the corner's pixel, and is not counted twice in its length."""
    padded = np.pad(np.asarray(skeleton, dtype=bool), 1)
    width = padded.shape[1]
    flat = padded.ravel()
    pixels = np.flatnonzero(flat)
    position = np.full(flat.size, -1)
    position[pixels] = np.arange(pixels.size)
    first, second = [], []
    for row, column in ((0, 1), (1, 0), (1, 1), (1, -1)):
        neighbours = pixels + row * width + column
        joined = flat[neighbours]
        if row and column:
            # The corner pixels beside a diagonal step: one row down, and one column across.
            joined &= ~flat[pixels + row * width] & ~flat[pixels + column]
        first.append(position[pixels[joined]])
        second.append(position[neighbours[joined]])
    return pixels, np.concatenate(first), np.concatenate(second)


def skeleton_length(skeleton):
    """Length in pixels of a skeleton: its links between 8-neighbouring pixels (skeleton_links),
    orthogonal ones counting 1 and diagonal ones sqrt(2)."""
    pixels, first, second = skeleton_links(skeleton)
    steps = pixels[second] - pixels[first]
    # In the padded copy's flat indices an orthogonal step is 1 or a row; any other is diagonal.
    orthogonal = np.count_nonzero((steps == 1) | (steps == np.shape(skeleton)[1] + 2))
    return float(orthogonal + SQRT2 * (steps.size - orthogonal))


def branch_and_end_points(skeleton, counts=None):
    """(branch points, end points) of a skeleton: clusters of pixels with 3 or more neighbours,
    and pixels with exactly one. counts: the skeleton's neighbour_counts, when already known."""
    counts = neighbour_counts(skeleton) if counts is None else counts
    _, branches = ndimage.label(counts >= 3, structure=EIGHT_CONNECTED)
    return branches, int(np.count_nonzero(skeleton & (counts == 1)))


def local_widths(vessels, skeleton):
    """Vessel width in pixels at each pixel of `skeleton`, which lie on `vessels` (1-D array, in
    row-major order of the skeleton's pixels): twice the distance to the nearest background
    pixel, minus one, so that a bar w pixels wide measures w (the raw doubled distance of its
    centre is w + 1, because it is measured to the first background pixel).

    The distances are scipy.ndimage.distance_transform_edt's, read only where they are needed: a
    vessel pixel's nearest background pixel always borders the vessels (one step from it towards
    the vessel pixel would otherwise land on a nearer one), so SciPy's k-d tree of those border
    pixels, asked for each skeleton pixel's nearest, gives the same values without a transform
    of the whole map."""
    vessels = np.asarray(vessels, dtype=bool)
    border = dilate(vessels) & ~vessels
    if not border.any():
        # No background pixel at all: the transform's own convention for that case.
        return 2.0 * ndimage.distance_transform_edt(vessels)[skeleton] - 1.0
    distance, _ = cKDTree(np.argwhere(border)).query(np.argwhere(skeleton))
    return 2.0 * distance - 1.0


def cut_segments(skeleton, counts=None):
    """(labels, count): the skeleton cut at its branch points (their pixels and 8-neighbours
    removed) into segments, labelled 1..count. counts: the skeleton's neighbour_counts, when
    already known."""
    branch_pixels = (neighbour_counts(skeleton) if counts is None else counts) >= 3
    cut = skeleton & ~dilate(branch_pixels, square=True)
    return ndimage.label(cut, structure=EIGHT_CONNECTED)


def segment_paths(labels):
    """The traced path (K, 2) (row, column), float, of each labelled segment, in label order, from
    its first end in row-major order to the other; closed loops, which have no end, and single
    pixels are left out. Each segment is a one-pixel-wide path, as cut_segments makes them: once
    corners are walked round (skeleton_links), its pixels have at most two neighbours on it."""
    # Labelled segments touch no other segment (they are labelled 8-connected), so a pixel's
    # neighbours on the whole labelled skeleton are its neighbours on its own segment: every
    # segment's ends are found at once, and one depth-first search of the whole skeleton, from an
    # extra node linked to each segment's first end, walks every segment in turn, end to end.
    ends = np.argwhere(neighbour_counts(labels > 0) == 1)
    _, first_indices = np.unique(labels[ends[:, 0], ends[:, 1]], return_index=True)
    if not first_indices.size:
        return []
    pixels, first, second = skeleton_links(labels > 0)
    width = labels.shape[1] + 2
    starts = np.searchsorted(pixels, (ends[first_indices, 0] + 1) * width + ends[first_indices, 1] + 1)
    root = pixels.size
    first, second = np.concatenate([first, np.full(starts.size, root)]), np.concatenate([second, starts])
    graph = sparse.coo_matrix((np.ones(first.size), (first, second)), shape=(root + 1, root + 1)).tocsr()
    order, predecessors = csgraph.depth_first_order(graph, root, directed=False)
    # After the root, the order holds each segment's pixels from its start: a segment begins
    # wherever a pixel's predecessor is the root.
    order = order[1:]
    begins = np.flatnonzero(predecessors[order] == root)
    rows, columns = np.divmod(pixels[order], width)
    coordinates = np.stack([rows - 1, columns - 1], axis=1).astype(float)
    traced = {order[begin]: coordinates[begin:end] for begin, end in zip(begins, [*begins[1:], order.size])}
    return [traced[start] for start in starts if len(traced[start]) >= 2]


def simplified_chains(paths, tolerance=ARC_TOLERANCE):
    """For each path (K, 2) of `paths`, the bool (K,) of the points that the Douglas-Peucker
    algorithm keeps at `tolerance` pixels, as skimage.measure.approximate_polygon keeps them
    (the same distances, the same first farthest point), with all the paths' splits of one depth
    computed together: one call per path costs more than the simplification itself."""
    if not paths:
        return []
    lengths = np.array([len(path) for path in paths])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    coordinates = np.concatenate(paths)
    keep = np.zeros(len(coordinates), dtype=bool)
    keep[offsets[:-1]] = keep[offsets[1:] - 1] = True
    starts, ends = offsets[:-1], offsets[1:] - 1
    while True:
        inner = ends - starts - 1
        starts, ends, inner = starts[inner > 0], ends[inner > 0], inner[inner > 0]
        if not starts.size:
            return np.split(keep, offsets[1:-1])
        owner = np.repeat(np.arange(starts.size), inner)
        first = np.concatenate([[0], np.cumsum(inner)[:-1]])
        position = np.arange(owner.size) - first[owner]
        points = coordinates[starts[owner] + 1 + position]
        r0, c0 = coordinates[starts].T
        r1, c1 = coordinates[ends].T
        dr, dc = r1 - r0, c1 - c0
        angle = -np.arctan2(dr, dc)
        sine, cosine = np.sin(angle), np.cos(angle)
        offset = c0 * sine + r0 * cosine
        dr0, dc0 = points[:, 0] - r0[owner], points[:, 1] - c0[owner]
        dr1, dc1 = points[:, 0] - r1[owner], points[:, 1] - c1[owner]
        # Beside the segment a point's distance is to the line through it, beyond it to its nearer end.
        beside = (dr0 * dr[owner] + dc0 * dc[owner] > 0) & (-dr1 * dr[owner] - dc1 * dc[owner] > 0)
        distances = np.where(
            beside,
            np.abs(points[:, 0] * cosine[owner] + points[:, 1] * sine[owner] - offset[owner]),
            np.minimum(np.sqrt(dc0**2 + dr0**2), np.sqrt(dc1**2 + dr1**2)),
        )
        farthest = np.maximum.reduceat(distances, first)
        first_farthest = np.minimum.reduceat(np.where(distances == farthest[owner], position, owner.size), first)
        split = farthest > tolerance
        middles = starts[split] + 1 + first_farthest[split]
        keep[middles] = True
        starts, ends = np.concatenate([starts[split], middles]), np.concatenate([middles, ends[split]])


def path_tortuosities(paths, min_length=MIN_SEGMENT_LENGTH):
    """Arc over chord of each traced path (list, None where its arc is under `min_length` pixels).
    The arc is the length of the path simplified to ARC_TOLERANCE pixels (simplified_chains); the
    chord is the straight distance between its ends."""
    # Simplifying a path only shortens it, so a path shorter than min_length step by step is left
    # out before the costlier simplification.
    long_enough = [
        index for index, path in enumerate(paths) if np.sum(np.hypot(*np.diff(path, axis=0).T)) >= min_length
    ]
    ratios = [None] * len(paths)
    for index, chain in zip(long_enough, simplified_chains([paths[index] for index in long_enough])):
        path = paths[index]
        arc = float(np.sum(np.hypot(*np.diff(path[chain], axis=0).T)))
        chord = float(np.hypot(*(path[-1] - path[0])))
        ratios[index] = arc / chord if arc >= min_length and chord > 0 else None
    return ratios


def segment_tortuosities(skeleton, min_length=MIN_SEGMENT_LENGTH, counts=None):
    """Arc-over-chord ratios (1-D array) of the skeleton's segments between branch and end points
    whose arc is at least `min_length` pixels (path_tortuosities). counts: the skeleton's
    neighbour_counts, when already known."""
    ratios = path_tortuosities(segment_paths(cut_segments(skeleton, counts)[0]), min_length)
    return np.array([ratio for ratio in ratios if ratio is not None])


def any_in_boxes(mask, size):
    """Whether each `size` x `size` box of the bool `mask` holds a True pixel, the boxes laid from
    its top-left corner and those cut by the bottom and right edges counted on what they hold:
    scikit-image's block_reduce with np.max and a padding of False, by one reshape."""
    rows, columns = -(-mask.shape[0] // size) * size, -(-mask.shape[1] // size) * size
    padded = np.zeros((rows, columns), dtype=bool)
    padded[: mask.shape[0], : mask.shape[1]] = mask
    # An OR of strided slices, row offsets then column offsets: NumPy reduces along a short middle
    # axis (reshape and any) about thirty times slower.
    boxes = padded[0::size].copy()
    for offset in range(1, size):
        boxes |= padded[offset::size]
    across = boxes[:, 0::size].copy()
    for offset in range(1, size):
        across |= boxes[:, offset::size]
    return across


def box_counts(vessels, box_sizes=BOX_SIZES):
    """How many boxes of each size in `box_sizes` (increasing) hold a vessel pixel, the boxes laid
    from the map's top-left corner (list of int)."""
    vessels = np.asarray(vessels, dtype=bool)
    counts, boxes, size = [], vessels, 1
    for box_size in box_sizes:
        # A box holds vessel when one of the smaller boxes it is made of does, so each size is
        # reduced from the last when it is a multiple of it: the full map is read once, not per size.
        boxes = any_in_boxes(boxes, box_size // size) if box_size % size == 0 else any_in_boxes(vessels, box_size)
        size = box_size
        counts.append(int(np.count_nonzero(boxes)))
    return counts


def fractal_dimension(vessels, box_sizes=BOX_SIZES):
    """Box-counting dimension: minus the slope of log(boxes holding vessel) against log(box size),
    fitted over `box_sizes`. About 1 for a line, 2 for a filled region; NaN for an empty map."""
    counts = box_counts(vessels, box_sizes)
    if min(counts) == 0:
        return float("nan")
    slope, _ = np.polyfit(np.log(box_sizes), np.log(counts), 1)
    return float(-slope)


def measure(vessels, fov=None, min_segment_length=MIN_SEGMENT_LENGTH):
    """Every measurement of one binary map (H, W) inside its FOV (H, W), as a dict:

    vessel_fraction (of the FOV), skeleton_length_px, mean_width_px (mean of local_widths),
    width_from_area_px (vessel area over skeleton length, a cross-check of the mean width),
    width_percentiles_px (10th, 50th, 90th), branch_points, end_points, tortuosity (mean over the
    segments of at least min_segment_length pixels; NaN when there is none), segments (how many
    entered the tortuosity) and fractal_dimension. ValueError for a map with no vessel pixel.
    """
    vessels = inside_fov(vessels, fov)
    if not vessels.any():
        raise ValueError("the map holds no vessel pixel inside the FOV, so there is nothing to measure.")
    centrelines = skeleton(vessels)
    length = skeleton_length(centrelines)
    widths = local_widths(vessels, centrelines)
    counts = neighbour_counts(centrelines)
    branches, ends = branch_and_end_points(centrelines, counts)
    ratios = segment_tortuosities(centrelines, min_segment_length, counts)
    return {
        "vessel_fraction": vessel_fraction(vessels, fov),
        "skeleton_length_px": length,
        "mean_width_px": float(widths.mean()),
        "width_from_area_px": float(np.count_nonzero(vessels) / length) if length else float("nan"),
        "width_percentiles_px": [float(value) for value in np.percentile(widths, (10, 50, 90))],
        "branch_points": branches,
        "end_points": ends,
        "tortuosity": float(ratios.mean()) if ratios.size else float("nan"),
        "segments": int(ratios.size),
        "fractal_dimension": fractal_dimension(vessels),
    }
