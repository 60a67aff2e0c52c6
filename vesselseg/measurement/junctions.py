"""Where the segments of a vessel skeleton meet: bifurcations and crossings. Small pure functions
on label images; lengths in pixels of the map.

    labels, count = vessel_measures.cut_segments(skeleton)
    pairs = bifurcation_pairs(skeleton, labels)     # (P, 2) segment labels meeting at a fork
    pairs = crossing_pairs(skeleton, labels)        # (P, 2) segments that continue each other

The skeleton pixels that cut_segments removed form the junctions. A junction that touches three
segments is a bifurcation; one that touches four, or two junctions joined by a short link, is a
crossing, where each vessel goes on almost straight.
"""

import numpy as np
from scipy import ndimage

from vesselseg.measurement.vessel_measures import EIGHT_CONNECTED

# A segment of fewer skeleton pixels than this between two junctions is likely the middle of a
# crossing, which a skeleton draws as two branch points close together.
SHORT_LINK_PX = 10
# A segment's direction leaving a crossing is read from its skeleton pixels between
# CROSSING_NEAR_PX and CROSSING_FAR_PX from the crossing's centre, past the skeleton's bends
# where two vessels meet, and two segments continue each other when their directions are
# within CROSSING_MAX_BEND_DEGREES of opposite.
CROSSING_NEAR_PX = 10
CROSSING_FAR_PX = 30
CROSSING_MAX_BEND_DEGREES = 45


def junction_contacts(skeleton, labels, short_link=SHORT_LINK_PX):
    """How the segments of `skeleton` (H, W) bool meet: (junctions, segment_of, junction_of, links).

    `labels` are the skeleton's segments cut at its branch points (vessel_measures.cut_segments);
    the skeleton pixels that the cut removed form the junctions, labelled 1.. in `junctions`
    (H, W). segment_of[i] touches junction_of[i], each contact once. links[i] says that the
    contact's segment is shorter than `short_link` pixels and touches a second junction: two
    vessels that cross are often drawn as two branch points joined by such a link."""
    junctions, _ = ndimage.label(np.asarray(skeleton, dtype=bool) & (labels == 0), structure=EIGHT_CONNECTED)
    # Junctions are never 8-neighbours of each other, so a segment pixel sees at most one.
    nearby = ndimage.maximum_filter(junctions, size=3)
    touching = (labels > 0) & (nearby > 0)
    contacts = np.unique(np.stack([labels[touching], nearby[touching]], axis=1), axis=0).reshape(-1, 2)
    segment_of, junction_of = contacts[:, 0], contacts[:, 1]
    lengths = np.bincount(labels.ravel())
    junctions_per_segment = np.bincount(segment_of, minlength=len(lengths))
    links = (lengths[segment_of] < short_link) & (junctions_per_segment[segment_of] >= 2)
    return junctions, segment_of, junction_of, links


def bifurcation_pairs(skeleton, labels, short_link=SHORT_LINK_PX):
    """The pairs (P, 2) of segment labels that meet at a bifurcation, each pair in both orders.

    A junction (junction_contacts) that touches exactly three segments is a bifurcation, unless
    one of them is a short link to a second junction, the middle of a crossing. Junctions that
    touch four or more segments are crossings. Crossings join no pair."""
    junctions, segment_of, junction_of, links = junction_contacts(skeleton, labels, short_link)
    crossing = np.zeros(junctions.max() + 1, dtype=bool)
    crossing[junction_of[links]] = True
    degree = np.bincount(junction_of, minlength=len(crossing))
    pairs = []
    for junction in np.flatnonzero((degree == 3) & ~crossing):
        members = segment_of[junction_of == junction]
        pairs += [(first, second) for first in members for second in members if first != second]
    return np.array(pairs, dtype=int).reshape(-1, 2)


def crossings(junctions, segment_of, junction_of, links):
    """[(junction labels, the four segments that leave the crossing)] of junction_contacts'
    output: a junction that touches four segments, or two junctions joined by one short link
    whose other segments are four."""
    found = []
    degree = np.bincount(junction_of, minlength=junctions.max() + 1)
    linked = set(junction_of[links].tolist())
    for junction in np.flatnonzero(degree == 4):
        if junction not in linked:
            found.append(([junction], segment_of[junction_of == junction]))
    for link in np.unique(segment_of[links]):
        ends = junction_of[segment_of == link]
        if len(ends) != 2:
            continue
        members = segment_of[np.isin(junction_of, ends) & (segment_of != link)]
        if len(members) == 4 and len(np.unique(members)) == 4:
            found.append((list(ends), members))
    return found


def points_by_label(labels):
    """{label: its pixels (K, 2) (row, column), float} of a label image, 0 left out: one sort of
    the labelled pixels, not a pass over the whole image per label."""
    flat = np.flatnonzero(labels)
    if not flat.size:
        return {}
    values = labels.ravel()[flat]
    order = np.argsort(values, kind="stable")
    flat, values = flat[order], values[order]
    points = np.stack(np.unravel_index(flat, labels.shape), axis=1).astype(float)
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    return dict(zip(values[starts].tolist(), np.split(points, starts[1:])))


def leaving_direction(points, centre, near=CROSSING_NEAR_PX, far=CROSSING_FAR_PX):
    """The unit vector (row, column) from `centre` towards the mean of a segment's skeleton pixels
    `points` (K, 2) between `near` and `far` pixels away (all of them within `far` when none lies
    beyond `near`); None when none lies within `far`."""
    distances = np.hypot(*(points - centre).T)
    chosen = points[(distances >= near) & (distances <= far)]
    if not len(chosen):
        chosen = points[distances <= far]
    if not len(chosen):
        return None
    direction = chosen.mean(axis=0) - centre
    length = np.hypot(*direction)
    return direction / length if length > 0 else None


def crossing_pairs(skeleton, labels, short_link=SHORT_LINK_PX, max_bend=CROSSING_MAX_BEND_DEGREES):
    """The pairs (P, 2) of segment labels that continue each other through a crossing, each pair
    in both orders.

    At each crossing (`crossings`), of the three ways to pair its four segments, the one whose
    pairs leave in the most nearly opposite directions (leaving_direction; the smallest sum of
    the cosines) is taken, and a pair is kept if its directions are within `max_bend` degrees of
    opposite: a vessel goes on almost straight through a crossing."""
    junctions, segment_of, junction_of, links = junction_contacts(skeleton, labels, short_link)
    segment_points, junction_points = points_by_label(labels), points_by_label(junctions)
    limit = -np.cos(np.radians(max_bend))
    matchings = (((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2)))
    pairs = []
    for members_of, members in crossings(junctions, segment_of, junction_of, links):
        # The crossing's centre: the mean of its junctions' pixels and of its link's, if any.
        link = np.setdiff1d(segment_of[np.isin(junction_of, members_of)], members)
        middle = [junction_points[junction] for junction in members_of] + [segment_points[label] for label in link]
        centre = np.concatenate(middle).mean(axis=0)
        directions = [leaving_direction(segment_points[segment], centre) for segment in members]
        if any(direction is None for direction in directions):
            continue
        cosines = [[float(np.dot(directions[a], directions[b])) for a, b in matching] for matching in matchings]
        best = int(np.argmin([sum(values) for values in cosines]))
        for (a, b), cosine in zip(matchings[best], cosines[best]):
            if cosine <= limit:
                pairs += [(members[a], members[b]), (members[b], members[a])]
    return np.array(pairs, dtype=int).reshape(-1, 2)
