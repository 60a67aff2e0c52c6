"""Arteries and veins: RITE's label coding, the training targets, the loss and the scores.

The artery/vein U-Net has three sigmoid outputs, in this order: artery, vein and vessel. Three
independent outputs rather than one softmax over (background, artery, vein), because
- at a crossing a pixel is both an artery and a vein, which a softmax cannot say;
- the vessel output keeps the vessel segmentation apart from the artery/vein decision, so a
  vessel that the annotator could not call still counts as a vessel;
- the vessel output can start from a trained vessel model's output layer (transfer_vessel_weights).

RITE (Hu et al., MICCAI 2013) and LES-AV code a label image as 0 background, 1 artery, 2 vein,
3 uncertain. The uncertain class counts as vessel, and is left out of the artery and vein
losses and of every artery/vein score: the annotator did not say which it is.

    labels = read_av_labels("RITE/test/av/01_test_av.png")   # uint8 (H, W) in {0, 1, 2, 3}
    targets = av_targets(labels)                             # float32 (H, W, 4)
    scores = av_scores(probabilities, labels, fov)           # accuracy, F1 of each class
"""

import numpy as np

from vesselseg.data.image_reading import RITE_CODES
from vesselseg.measurement import junctions
from vesselseg.tasks import AV_HEADS  # noqa: F401  (the outputs of the artery/vein U-Net, in channel order)

# RITE's and LES-AV's coding of a label image.
AV_CODES = RITE_CODES
BACKGROUND, ARTERY, VEIN, UNCERTAIN = AV_CODES
# A pixel is vessel where the vessel output reaches this probability.
VESSEL_THRESHOLD = 0.5
# The colours of an artery/vein map as predict.py writes it: artery pure red, vein pure blue.
ARTERY_COLOUR = (255, 0, 0)
VEIN_COLOUR = (0, 0, 255)
# The FOV widths (pixels) at which the artery/vein model looks at a photograph: the artery and
# vein outputs are averaged over them, the vessel output is the first width's (combine_scales).
AV_FOV_DIAMETERS = (540,)
# The optic disc's diameter (pixels) that the disc locator reads on DRIVE's training photographs
# at a FOV width of 540 px (the median; docs/results/artery_vein.md), the scale the model learnt.
DRIVE_DISC_DIAMETER_PX = 74.6
# A disc at least this many times DRIVE's sends the photograph to a smaller width (disc_fov_width),
# and no width goes below DISC_SCALE_MIN_WIDTH, the smallest scale that training's zoom showed.
DISC_SCALE_MARGIN = 1.25
DISC_SCALE_MIN_WIDTH = 360
# How predict.py --images and the agreement command turn the model's outputs into classes,
# decided by the rules in docs/results/artery_vein.md:
# - whether each vessel segment takes one class (av_classes' by_segment);
# - with one class per segment, the share of its neighbours' artery-minus-vein totals that a
#   segment's total gains at bifurcations (av_classes; 0 leaves each segment to itself);
# - the share of each photograph's vessel pixels that its arteries are balanced to, the median
#   of RITE's training labels 21-36 (av_classes' artery_share; None leaves the model's balance);
# - whether the artery and vein outputs are taken again at the disc's scale (disc_scale_width);
# - which vessels the classes are drawn on (vessel_model_under_classes): the artery/vein model's
#   own vessel output ("artery-vein"), the vessel model's binary map ("vessel-model"), or the
#   vessel model's only where the disc marks a camera unlike DRIVE's ("other-camera").
BY_SEGMENT = True
BIFURCATION_WEIGHT = 0.5
ARTERY_SHARE = 0.452
AT_DISC_SCALE = True
AV_VESSELS_SOURCES = ("artery-vein", "vessel-model", "other-camera")
AV_VESSELS = "other-camera"
# The classes are drawn on the map resampled so that the FOV is this many pixels across, the
# network's scale, wherever the FOV is wider than CLASSES_SCALE_MARGIN times that
# (classes_at_network_scale): the model's outputs hold nothing finer, and a skeleton at a higher
# resolution has more spurs, which cut one vessel into several segments with votes of their own.
CLASSES_FOV_DIAMETER = 540
CLASSES_SCALE_MARGIN = 1.1
# With one class per segment, the share of the artery-minus-vein total of the segment that
# continues a segment through a crossing which that segment's total gains (av_classes; 0 joins
# nothing; junctions.crossing_pairs).
CROSSING_WEIGHT = 0.0


def read_av_labels(path):
    """An artery/vein label image in RITE's coding, uint8 (H, W) in {0, 1, 2, 3}.

    A colour map drawn as predict.py writes it (red artery, blue vein, black background, and
    green or white for uncertain) is read into the same coding."""
    from vesselseg.data.image_reading import read_pixels

    # Palette indices are kept: a label image stored as a palette holds its codes there.
    return av_codes(read_pixels(path, keep_palette=True), path)


def av_codes(pixels, source):
    """RITE's coding, uint8 (H, W), of an artery/vein label's pixels as read_pixels reads them:
    grey codes (H, W) kept, a colour map (H, W, 3) converted by colour_to_codes. ValueError,
    naming `source`, for grey levels outside the coding."""
    if pixels.ndim == 3:
        return colour_to_codes(pixels)
    if not np.isin(pixels, AV_CODES).all():
        raise ValueError(
            f"{source} holds values {np.unique(pixels)[:8].tolist()}; an artery/vein label "
            "in RITE's coding (0 background, 1 artery, 2 vein, 3 uncertain) was expected."
        )
    return pixels.astype(np.uint8)


def colour_to_codes(pixels):
    """RITE's coding of an RGB artery/vein map (H, W, 3) uint8: red artery, blue vein, any other
    non-black colour uncertain, black background."""
    red, green, blue = (pixels[..., channel].astype(np.int16) for channel in range(3))
    codes = np.zeros(pixels.shape[:2], dtype=np.uint8)
    lit = pixels.max(axis=-1) > 127
    codes[lit] = UNCERTAIN
    codes[lit & (red > 127) & (green <= 127) & (blue <= 127)] = ARTERY
    codes[lit & (blue > 127) & (green <= 127) & (red <= 127)] = VEIN
    return codes


def av_targets(labels):
    """Training targets (H, W, 4) float32 of a label image: artery, vein, vessel, and the weight of
    the artery and vein losses, 1 on the pixels labelled artery or vein and 0 elsewhere."""
    labels = np.asarray(labels)
    known = (labels == ARTERY) | (labels == VEIN)
    return np.stack([labels == ARTERY, labels == VEIN, labels != BACKGROUND, known], axis=-1).astype(np.float32)


def av_loss(targets, probabilities):
    """Binary cross-entropy of the vessel output over every pixel, plus that of the artery and the
    vein outputs over the pixels labelled artery or vein. targets (B, h, w, 4), probabilities (B, h, w, 3).

    The artery and vein outputs are read only where the vessel output finds a vessel
    (av_classes), so they learn on vessel pixels alone: averaged over every pixel, their loss was
    nine parts background, and in the first epochs the two outputs stayed the vessel map."""
    from keras import ops

    epsilon = 1e-7
    probabilities = ops.clip(ops.cast(probabilities, "float32"), epsilon, 1 - epsilon)
    truth, weight = targets[..., :3], targets[..., 3:]
    cross_entropy = -(truth * ops.log(probabilities) + (1 - truth) * ops.log(1 - probabilities))
    vessel = ops.mean(cross_entropy[..., 2])
    known = ops.sum(weight) + epsilon
    classes = ops.sum(cross_entropy[..., :2] * weight) / known / 2
    return vessel + classes


def combine_scales(maps):
    """One artery/vein map (H, W, 3) from maps of the photograph made at several FOV widths,
    each (H, W, 3) at the photograph's size, the first at the width the vessels are found at.

    The artery and vein outputs are averaged over all of them: a smaller width shows the network
    more of the vessel tree around a pixel. The vessel output is the first map's alone, so that
    thin vessels, which a smaller width blurs, are found as before."""
    maps = [np.asarray(probabilities, dtype=np.float32) for probabilities in maps]
    if not maps:
        raise ValueError("combine_scales needs at least one map.")
    combined = np.mean(maps, axis=0)
    combined[..., 2] = maps[0][..., 2]
    return combined


def disc_fov_width(disc_diameter_px, found, width=540):
    """The FOV width (pixels) at which a photograph's disc, `disc_diameter_px` across when its FOV
    is `width` pixels wide, is as wide as DRIVE's (DRIVE_DISC_DIAMETER_PX): `width` itself unless
    the disc was found and is at least DISC_SCALE_MARGIN times DRIVE's, and never below
    DISC_SCALE_MIN_WIDTH. An int."""
    if not found or not np.isfinite(disc_diameter_px) or disc_diameter_px < DISC_SCALE_MARGIN * DRIVE_DISC_DIAMETER_PX:
        return int(width)
    return int(round(max(DISC_SCALE_MIN_WIDTH, width * DRIVE_DISC_DIAMETER_PX / disc_diameter_px)))


def disc_scale_width(disc, fov, width):
    """The FOV width (pixels) for the artery and vein outputs of a photograph with its `disc` (an
    optic_disc.Disc in the photograph's pixels) and FOV (H, W) bool, whose first map was made
    with the FOV `width` pixels across: disc_fov_width's for that disc, `width` itself for a
    disc no larger than DRIVE's. An int."""
    from vesselseg.data.training_sets import network_scale

    return disc_fov_width(disc.diameter_px * network_scale(fov, width), disc.found, width)


def vessel_model_under_classes(source, disc, fov, width):
    """True where a photograph's classes are drawn on the vessel model's map rather than on the
    artery/vein model's vessel output: always for `source` "vessel-model", never for
    "artery-vein", and for "other-camera" where its `disc` (optic_disc.Disc), on a FOV (H, W)
    bool mapped `width` pixels across, calls for another width (disc_scale_width), as a camera
    unlike DRIVE's does. The artery/vein model learnt its vessels on DRIVE's camera alone."""
    if source not in AV_VESSELS_SOURCES:
        raise ValueError(f"The classes' vessels come from one of {', '.join(AV_VESSELS_SOURCES)}, not {source!r}.")
    if source == "other-camera":
        return disc_scale_width(disc, fov, width) != width
    return source == "vessel-model"


def on_vessels(probabilities, vessels):
    """A copy of an artery/vein map (H, W, 3) whose vessel output is the binary map `vessels`
    (H, W), such as the vessel model's: av_classes then draws the classes on those vessels."""
    drawn = np.array(probabilities, dtype=np.float32)
    drawn[..., 2] = vessels
    return drawn


def vessels_under_classes(probabilities, disc, fov, width, scale, vessel_map, threshold=VESSEL_THRESHOLD, source=None):
    """(probabilities, vessel probability, drawn): the vessels that a photograph's classes are
    drawn on, and the probability that their widths are read from, as predict.py --images and
    the agreement command both take them.

    `probabilities` (H, W, 3) is the artery/vein map, made with the FOV (H, W) bool `width`
    pixels across, where one of the network's pixels spans `scale` of the photograph's; `disc` is
    the photograph's (optic_disc.Disc). Where vessel_model_under_classes(`source`, default
    AV_VESSELS) asks for the vessel model's map, `vessel_map()` gives that map's probability
    (H, W), called only then: the classes are drawn on it at `threshold` (on_vessels), and it is
    the probability returned; otherwise the map's own vessel output is, at VESSEL_THRESHOLD. The
    vessel probability is a calibre.VesselProbability; `drawn` is True where the vessel model's
    map was taken."""
    from vesselseg.measurement.calibre import VesselProbability

    source = AV_VESSELS if source is None else source
    if vessel_model_under_classes(source, disc, fov, width):
        vessels = vessel_map()
        probability = VesselProbability(vessels, threshold, scale)
        return on_vessels(probabilities, vessels >= threshold), probability, True
    return probabilities, VesselProbability(probabilities[..., 2], VESSEL_THRESHOLD, scale), False


def at_disc_scale(probabilities, disc, fov, width, segment_at):
    """(probabilities, width or None): a photograph's artery/vein map (H, W, 3), made with its FOV
    `width` pixels across, with the artery and vein outputs of segment_at(new width) in place of
    its own where its `disc` (optic_disc.Disc) calls for another width (disc_scale_width); the
    vessel output stays the first map's. The width is None where nothing was taken again.
    `segment_at` makes the map at a width, as its caller segments photographs."""
    target = disc_scale_width(disc, fov, width)
    if target == width:
        return probabilities, None
    rescaled = segment_at(target)
    rescaled[..., 2] = probabilities[..., 2]
    return rescaled, target


def segment_artery_vein(model, image, fov, normalisation, tta=True, fov_diameters=AV_FOV_DIAMETERS, disc_scale=None):
    """(probabilities (H, W, 3), disc, width) of one photograph (H, W, 3) in [0, 1] with its FOV
    (H, W) bool, one photograph at a time as predict.py --images makes them: the model's outputs
    averaged over `fov_diameters` (combine_scales), the disc located on their vessel output, and,
    with `disc_scale` (default AT_DISC_SCALE), the artery and vein outputs taken again at the
    disc's scale (at_disc_scale; width None where they were not). Where
    vessel_model_under_classes asks for the vessel model's map, the caller puts it in with
    on_vessels, as predict.py --images does with the map it has already made."""
    from vesselseg.inference import segment
    from vesselseg.measurement.optic_disc import locate_disc

    def segment_at(width):
        return segment.segment_photograph(
            model, image, fov, tta=tta, normalisation=normalisation, fov_diameters=(width,)
        )

    probabilities = combine_scales(segment_at(width) for width in fov_diameters)
    disc = locate_disc(image, fov, probabilities[..., 2] >= VESSEL_THRESHOLD)
    if not (AT_DISC_SCALE if disc_scale is None else disc_scale):
        return probabilities, disc, None
    probabilities, width = at_disc_scale(probabilities, disc, fov, fov_diameters[0], segment_at)
    return probabilities, disc, width


def av_classes(
    probabilities,
    threshold=VESSEL_THRESHOLD,
    by_segment=False,
    artery_share=None,
    bifurcation_weight=0.0,
    crossing_weight=0.0,
):
    """A predicted map (H, W, 3) as RITE's coding (H, W) uint8: vessel where the vessel output
    reaches `threshold`, artery there if the artery output exceeds the vein output, else vein.

    With `artery_share` (0-1), the artery-minus-vein margin is first shifted by the one constant
    that makes that share of the vessel pixels artery: a camera whose arteries the model takes
    for veins, or the reverse, is balanced to the share that manual labels show.

    With `by_segment`, each vessel segment takes one class: the vessel map's skeleton is cut at
    branch and crossing points, every vessel pixel belongs to its nearest skeleton segment, and
    the segment is artery where the artery output exceeds the vein output on its pixels on the
    whole. A vessel between two branchings is one vessel, so a class that flips along it is an error.
    With a `bifurcation_weight` above 0, each segment's total first gains that share of the
    totals of the segments it meets at bifurcations (junctions.bifurcation_pairs), where all three
    segments are of one class; one step only, so that a crossing taken for a bifurcation
    misleads the segments beside it and no further. With a `crossing_weight` above 0, in the
    same step and from the same totals, each segment gains that share of the total of the
    segment that continues it through a crossing (junctions.crossing_pairs): at 1 the two are one
    vessel.
    """
    from scipy import ndimage
    from skimage.morphology import skeletonize

    from vesselseg.measurement.vessel_measures import cut_segments

    probabilities = np.asarray(probabilities)
    vessel = probabilities[..., 2] >= threshold
    margin = probabilities[..., 0] - probabilities[..., 1]
    if artery_share is not None and vessel.any():
        margin = margin - np.quantile(margin[vessel], 1 - artery_share)
    artery = margin > 0
    if by_segment and vessel.any():
        skeleton = skeletonize(vessel)
        labels, count = cut_segments(skeleton)
        if count:
            _, (rows, columns) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
            owner = np.where(vessel, labels[rows, columns], 0)
            totals = np.concatenate([[0.0], ndimage.sum_labels(margin, owner, index=np.arange(1, count + 1))])
            gains = np.zeros_like(totals)
            for weight, find_pairs in (
                (bifurcation_weight, junctions.bifurcation_pairs),
                (crossing_weight, junctions.crossing_pairs),
            ):
                if weight:
                    pairs = find_pairs(skeleton, labels)
                    np.add.at(gains, pairs[:, 0], weight * totals[pairs[:, 1]])
            totals = totals + gains
            artery = np.concatenate([[False], totals[1:] > 0])[owner]
    return np.where(vessel, np.where(artery, ARTERY, VEIN), BACKGROUND).astype(np.uint8)


def default_classes(probabilities):
    """av_classes with the settings that predict.py --images uses (BY_SEGMENT, ARTERY_SHARE,
    BIFURCATION_WEIGHT and CROSSING_WEIGHT): RITE's coding (H, W) uint8 of a map (H, W, 3)."""
    return av_classes(
        probabilities,
        by_segment=BY_SEGMENT,
        artery_share=ARTERY_SHARE,
        bifurcation_weight=BIFURCATION_WEIGHT,
        crossing_weight=CROSSING_WEIGHT,
    )


def classes_scale(fov):
    """The factor (at most 1) by which an artery/vein map is resampled before its classes are
    drawn: CLASSES_FOV_DIAMETER over the width of the FOV (H, W) bool, where the FOV is wider
    than CLASSES_SCALE_MARGIN times that; else 1."""
    from vesselseg.data.training_sets import network_scale

    scale = network_scale(fov, CLASSES_FOV_DIAMETER)
    return scale if scale * CLASSES_SCALE_MARGIN < 1 else 1.0


def classes_at_network_scale(probabilities, fov, classify=default_classes):
    """RITE's coding (H, W) uint8 of an artery/vein map (H, W, 3) with its FOV (H, W) bool, drawn
    by `classify` (a map to its classes) at classes_scale: where the FOV is wider than the
    network's scale, on the map resampled to it, so that the segments and their votes do not
    depend on the photograph's resolution. Each vessel pixel of the map itself (its vessel output
    at VESSEL_THRESHOLD) then takes the class of the nearest vessel pixel of the small classes, so
    that the classes keep the map's size and its vessels' outline."""
    from scipy import ndimage

    from vesselseg.data.resampling import rescaled_shape, resize_linear

    probabilities = np.asarray(probabilities)
    factor = classes_scale(fov)
    if factor == 1.0:
        return classify(probabilities)
    shape = rescaled_shape(probabilities.shape, factor)
    small = classify(resize_linear(probabilities, shape, anti_aliasing=True))
    vessel = probabilities[..., 2] >= VESSEL_THRESHOLD
    if not (small != BACKGROUND).any():
        return np.full(vessel.shape, BACKGROUND, np.uint8)
    _, (rows, columns) = ndimage.distance_transform_edt(small == BACKGROUND, return_indices=True)
    nearest = small[rows, columns]
    # The small map's pixel under the centre of each of the map's pixels.
    under_rows = np.minimum(((np.arange(vessel.shape[0]) + 0.5) * factor).astype(int), shape[0] - 1)
    under_columns = np.minimum(((np.arange(vessel.shape[1]) + 0.5) * factor).astype(int), shape[1] - 1)
    return np.where(vessel, nearest[np.ix_(under_rows, under_columns)], BACKGROUND).astype(np.uint8)


def av_colour_map(classes):
    """An RGB uint8 (H, W, 3) picture of RITE-coded classes: artery red, vein blue, else black."""
    picture = np.zeros((*classes.shape, 3), dtype=np.uint8)
    picture[classes == ARTERY] = ARTERY_COLOUR
    picture[classes == VEIN] = VEIN_COLOUR
    return picture


def f1_score(predicted, truth):
    """F1 (Dice) of two bool arrays; 0 when both are empty."""
    overlap = np.count_nonzero(predicted & truth)
    total = np.count_nonzero(predicted) + np.count_nonzero(truth)
    return 2 * overlap / total if total else 0.0


def av_counts(predicted, labels, fov=None):
    """Pixel counts behind av_scores, which add up over photographs: a dict of integers."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if predicted.shape != labels.shape:
        raise ValueError(f"Shapes differ: predicted {predicted.shape}, labels {labels.shape}.")
    inside = np.ones(labels.shape, dtype=bool) if fov is None else np.asarray(fov, dtype=bool)
    known = inside & np.isin(labels, (ARTERY, VEIN))
    found = known & (predicted != BACKGROUND)
    counts = {
        "labelled": int(np.count_nonzero(known)),
        "detected": int(np.count_nonzero(found)),
        "correct": int(np.count_nonzero(found & (predicted == labels))),
    }
    for name, code in (("artery", ARTERY), ("vein", VEIN)):
        # As segmentations, uncertain pixels are left out of both sides.
        scored = inside & (labels != UNCERTAIN)
        counts[f"{name}_overlap"] = int(np.count_nonzero(scored & (predicted == code) & (labels == code)))
        counts[f"{name}_predicted"] = int(np.count_nonzero(scored & (predicted == code)))
        counts[f"{name}_labelled"] = int(np.count_nonzero(scored & (labels == code)))
    return counts


def scores_from_counts(counts):
    """av_scores' figures from (summed) av_counts."""

    def ratio(numerator, denominator):
        return counts[numerator] / counts[denominator] if counts[denominator] else float("nan")

    scores = {"accuracy": ratio("correct", "detected"), "detected_fraction": ratio("detected", "labelled")}
    for name in ("artery", "vein"):
        total = counts[f"{name}_predicted"] + counts[f"{name}_labelled"]
        scores[f"{name}_f1"] = 2 * counts[f"{name}_overlap"] / total if total else float("nan")
    return scores


def av_scores(predicted, labels, fov=None):
    """Artery/vein scores of a predicted RITE-coded map against a label image, inside `fov`:

    accuracy: the share of labelled artery and vein pixels (uncertain left out) that the
        prediction marks as vessel and gives the right class, over those it marks as vessel (the
        usual definition of A/V classification accuracy);
    detected_fraction: the share of labelled artery and vein pixels that it marks as vessel;
    artery_f1, vein_f1: each class as a segmentation, uncertain pixels left out.
    """
    return scores_from_counts(av_counts(predicted, labels, fov))
