"""The figures that predict.py draws: difference maps, the difference grid, curves and overlays.

Colours are named defaults, so every figure reads the same way:
difference maps show true positives white, false negatives blue, false positives red.
"""

import functools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # Files only: no display is needed, and none exists on servers.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from vesselseg.measurement import vessel_measures  # noqa: E402
from vesselseg.results_table import SECOND_OBSERVER  # noqa: E402

TRUE_POSITIVE_COLOUR = (1.0, 1.0, 1.0)
FALSE_NEGATIVE_COLOUR = (0.15, 0.35, 1.0)
FALSE_POSITIVE_COLOUR = (1.0, 0.1, 0.1)
TRUE_NEGATIVE_COLOUR = (0.0, 0.0, 0.0)
OUTSIDE_FOV_COLOUR = (0.25, 0.25, 0.25)
OVERLAY_COLOUR = (0.0, 1.0, 0.3)
# The colour map of the width figure, and the widest vessel (pixels) it tells apart.
WIDTH_COLOURS = "turbo"
WIDTH_SCALE_MAX = 12
# zlib's level for the PNGs that PIL writes (maps, overlays, clinical figures): the fastest, since
# PNG is lossless at every level and PIL's default level takes several times as long for files a
# little smaller.
PNG_COMPRESS_LEVEL = 1
# Zone C's outer edge in the clinical figure: dashes and gaps of this many degrees of arc.
ZONE_C_DASH_DEGREES = 4
# The overlay and the clinical figure of a photograph narrower than this are drawn enlarged to
# this width, so that their keys fit: the clinical key, at the smallest text size, wraps to a few
# lines rather than a column of words, and the overlay's one line is not cut off.
FIGURE_MIN_WIDTH = 400
# The clinical figure's text: matplotlib's DejaVu Sans, which has the micro sign that PIL's own
# font draws as an empty box.
TEXT_FONT_FILE = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def difference_map(probabilities, truth, fov, threshold):
    """RGB image (H, W, 3): TP white, FN blue, FP red, TN black, outside the FOV grey."""
    predicted, truth = probabilities >= threshold, truth.astype(bool)
    colours = np.empty(truth.shape + (3,), dtype=np.float32)
    colours[:] = TRUE_NEGATIVE_COLOUR
    colours[predicted & truth] = TRUE_POSITIVE_COLOUR
    colours[~predicted & truth] = FALSE_NEGATIVE_COLOUR
    colours[predicted & ~truth] = FALSE_POSITIVE_COLOUR
    colours[~fov] = OUTSIDE_FOV_COLOUR
    return colours


# What each colour of a difference map means, in legend order.
DIFFERENCE_LEGEND = (
    (TRUE_POSITIVE_COLOUR, "vessel found (TP)"),
    (FALSE_NEGATIVE_COLOUR, "vessel missed (FN)"),
    (FALSE_POSITIVE_COLOUR, "false vessel (FP)"),
    (TRUE_NEGATIVE_COLOUR, "background (TN)"),
    (OUTSIDE_FOV_COLOUR, "outside the FOV, not scored"),
)


def difference_legend(figure):
    """The colour key of the difference maps, in one row under the figure's axes."""
    handles = [plt.Rectangle((0, 0), 1, 1, facecolor=colour, edgecolor="k") for colour, _ in DIFFERENCE_LEGEND]
    figure.legend(
        handles,
        [label for _, label in DIFFERENCE_LEGEND],
        loc="outside lower center",
        ncol=len(DIFFERENCE_LEGEND),
        fontsize=9,
        frameon=False,
    )


def save_image_figures(path_prefix, image, probabilities, truth, fov, threshold, title):
    """Two PNGs: the prediction beside the ground truth, and the difference map."""
    figure, axes = plt.subplots(1, 3, figsize=(13, 4.8))
    for axis, picture, name in zip(
        axes, (image, truth, probabilities), ("photograph", "ground truth (1st_manual)", "predicted probability")
    ):
        axis.imshow(picture, cmap="gray", vmin=0, vmax=1)
        axis.set_title(name)
        axis.axis("off")
    figure.suptitle(title)
    figure.savefig(f"{path_prefix}_prediction.png", dpi=100, bbox_inches="tight")
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(8, 7.4), layout="constrained")
    axis.imshow(difference_map(probabilities, truth, fov, threshold))
    axis.set_title(f"{title}: difference at threshold {threshold:.2f}")
    axis.axis("off")
    difference_legend(figure)
    figure.savefig(f"{path_prefix}_difference.png", dpi=100, bbox_inches="tight")
    plt.close(figure)


def save_difference_grid(path, probabilities, truth, fov, names, threshold, title):
    """All difference maps in a grid five columns wide, each titled by its name in `names`;
    the maps may differ in size."""
    columns = min(5, len(names))
    rows = int(np.ceil(len(names) / columns))
    figure, axes = plt.subplots(
        rows, columns, figsize=(3 * columns, 3.1 * rows + 0.9), squeeze=False, layout="constrained"
    )
    for axis in axes.flat:
        axis.axis("off")
    for axis, name, p, t, f in zip(axes.flat, names, probabilities, truth, fov):
        axis.imshow(difference_map(p, t, f, threshold))
        axis.set_title(str(name), fontsize=10)
    figure.suptitle(f"{title}: difference maps at threshold {threshold:.2f}")
    difference_legend(figure)
    figure.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(figure)


def save_curves(path, false_positive_rate, true_positive_rate, recall, precision, roc_auc, pr_auc, title):
    """ROC and precision-recall curves with the second human observer's operating point."""
    figure, (roc_axis, pr_axis) = plt.subplots(1, 2, figsize=(11, 5))
    roc_axis.plot(false_positive_rate, true_positive_rate, label=f"U-Net (AUC {roc_auc:.4f})")
    roc_axis.plot(
        1 - SECOND_OBSERVER["specificity"],
        SECOND_OBSERVER["sensitivity"],
        "r*",
        markersize=12,
        label="second human observer",
    )
    roc_axis.set(
        xlabel="false positive rate (1 - specificity)",
        ylabel="true positive rate (sensitivity)",
        title="ROC, FOV pixels",
        xlim=(0, 0.3),
        ylim=(0.5, 1.0),
    )
    pr_axis.plot(recall, precision, label=f"U-Net (average precision {pr_auc:.4f})")
    pr_axis.set(
        xlabel="recall (sensitivity)",
        ylabel="precision",
        title="Precision-recall, FOV pixels",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    for axis in (roc_axis, pr_axis):
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right" if axis is roc_axis else "lower left")
    figure.suptitle(title)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


def save_overlay(path, image, binary, threshold):
    """The photograph at its own size with the detected vessels painted over it, and a key
    under it that says what the colour means."""
    overlay = image.copy()
    overlay[binary] = 0.4 * overlay[binary] + 0.6 * np.array(OVERLAY_COLOUR)
    height, width = (size / 100 for size in image.shape[:2])
    key_height = 0.35  # inches, at 100 pixels per inch
    figure = plt.figure(figsize=(width, height + key_height), dpi=100)
    axis = figure.add_axes((0, key_height / (height + key_height), 1, height / (height + key_height)))
    axis.imshow(np.clip(overlay, 0, 1), interpolation="nearest")
    axis.axis("off")
    figure.legend(
        [plt.Rectangle((0, 0), 1, 1, facecolor=OVERLAY_COLOUR, edgecolor="k")],
        [f"detected vessel (probability at least {threshold:g})"],
        loc="lower left",
        fontsize=9,
        frameon=False,
    )
    figure.savefig(path, dpi=100)
    plt.close(figure)


def save_width_figure(path, vessels, background, title):
    """The skeleton coloured by local width (pixels), over the photograph or, without one, the map."""
    centrelines = vessel_measures.skeleton(vessels)
    widths = np.full(vessels.shape, np.nan)
    widths[centrelines] = vessel_measures.local_widths(vessels, centrelines)
    # Thicken the one-pixel skeleton for display only, keeping each pixel's own width.
    shown = ndimage.grey_dilation(np.nan_to_num(widths, nan=-1), size=3)
    shown = np.where(shown >= 0, shown, np.nan)
    height, width = vessels.shape
    figure, axis = plt.subplots(figsize=(width / 80 + 1.2, height / 80 + 0.5), layout="constrained")
    axis.imshow(
        background if background is not None else vessels,
        cmap="gray" if background is None else None,
        alpha=0.6 if background is not None else 0.35,
    )
    drawn = axis.imshow(shown, cmap=WIDTH_COLOURS, vmin=1, vmax=WIDTH_SCALE_MAX, interpolation="nearest")
    axis.set_title(title, fontsize=10)
    axis.axis("off")
    figure.colorbar(drawn, ax=axis, shrink=0.8, label="local vessel width (pixels)")
    figure.savefig(path, dpi=80)
    plt.close(figure)


def separate_boxes(boxes):
    """The indices of `boxes` ((left, top, right, bottom) each), in order, that overlap no box kept
    before them: the labels a figure can draw without one covering another."""
    kept = []
    for index, (left, top, right, bottom) in enumerate(boxes):
        if not any(
            left < boxes[other][2] and boxes[other][0] < right and top < boxes[other][3] and boxes[other][1] < bottom
            for other in kept
        ):
            kept.append(index)
    return kept


def save_clinical_figure(path, image, classes, row):
    """The photograph at its own size (one narrower than FIGURE_MIN_WIDTH enlarged to it)
    with arteries red and veins blue over it, the optic disc, the zone B ring, zone C's outer edge
    dashed, and each zone B vessel labelled with its width (widest first; a label that would
    overlap a wider vessel's is left out), and a key under it with zone B's CRAE, CRVE and AVR
    and, in brackets, zone C's. Drawn with PIL: a matplotlib figure of a large photograph took
    most of a second."""
    from PIL import Image, ImageDraw

    from vesselseg.artery_vein import ARTERY, ARTERY_COLOUR, VEIN, VEIN_COLOUR
    from vesselseg.measurement.calibre import ZONE_B, ZONE_C

    base = (np.asarray(image, dtype=np.float32) * 0.6 * 255).astype(np.uint8)
    base[classes == ARTERY] = ARTERY_COLOUR
    base[classes == VEIN] = VEIN_COLOUR
    # The row's places are in the photograph's pixels; an enlarged figure multiplies them by `zoom`.
    base, zoom = enlarged_for_figure(base)
    height, width = base.shape[:2]
    # Text grows with the photograph, so that a 1620-px figure reads as well as a 565-px one.
    text_size = max(11, width // 90)
    font = text_font(text_size)
    micrometres = row["pixel_size_um"]
    key = clinical_key(row)
    # The key is wrapped to the photograph's width: on a DRIVE-size photograph its flags run past it.
    key_lines = wrap_text(ImageDraw.Draw(Image.new("RGB", (1, 1))), key, width - 10, font)
    line_height = int(text_size * 1.3)
    key_height = max(24, int(text_size * 1.8) + line_height * (len(key_lines) - 1))
    # The rings and labels are drawn on the photograph alone, so that a ring reaching past its
    # lower edge, as zone C's does around a disc-centred photograph's disc, stops short of the key.
    picture = Image.fromarray(base)
    draw = ImageDraw.Draw(picture)
    line = max(1, width // 400)
    x, y, diameter = (zoom * row[name] for name in ("disc_x", "disc_y", "disc_diameter_px"))
    if np.isfinite(x) and np.isfinite(diameter):
        for radius, colour in (
            (diameter / 2, "white"),
            (ZONE_B[0] * diameter, "yellow"),
            (ZONE_B[1] * diameter, "yellow"),
        ):
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], outline=colour, width=line)
        # Zone C begins at zone B's inner ring, so only its outer edge is new. It is dashed, and its
        # vessels are not labelled, so that zone B's widths stay the figure's subject; zone C's
        # vessels and their places are in zone_vessels.csv.
        radius = ZONE_C[1] * diameter
        for start in range(0, 360, ZONE_C_DASH_DEGREES * 2):
            draw.arc(
                [x - radius, y - radius, x + radius, y + radius],
                start,
                start + ZONE_C_DASH_DEGREES,
                fill="yellow",
                width=line,
            )
        colours = {"artery": (255, 150, 150), "vein": (150, 180, 255)}
        # Widest first, and a label that would overlap one already drawn is left out: where narrow
        # branches crowd zone B, the widths that CRAE and CRVE use stay legible.
        vessels = sorted(
            ((vessel, name) for name in colours for vessel in row["vessels"][name]),
            key=lambda pair: -pair[0]["width_px"],
        )
        labels = []
        for vessel, name in vessels:
            size = vessel["width_px"] * micrometres if np.isfinite(micrometres) else vessel["width_px"]
            corner = (zoom * vessel["x"] + 3, zoom * vessel["y"] - text_size // 2)
            labels.append((corner, f"{size:.0f}", colours[name]))
        # A quarter of the text's height around each label keeps neighbours from reading as one number.
        pad = text_size // 4
        boxes = [np.add(draw.textbbox(corner, text, font=font), (-pad, -pad, pad, pad)) for corner, text, _ in labels]
        for index in separate_boxes(boxes):
            corner, text, colour = labels[index]
            draw.text(corner, text, fill=colour, font=font)
    canvas = Image.new("RGB", (width, height + key_height), "black")
    canvas.paste(picture, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for index, text in enumerate(key_lines):
        draw.text((5, height + text_size // 3 + index * line_height), text, fill="white", font=font)
    canvas.save(path, compress_level=PNG_COMPRESS_LEVEL)


def enlarged_for_figure(pixels):
    """(pixels, zoom): an RGB picture (H, W, 3) uint8 enlarged by `zoom` with its pixels repeated,
    so that it is FIGURE_MIN_WIDTH wide, or itself and 1.0 where it is at least that wide."""
    from PIL import Image

    zoom = max(1.0, FIGURE_MIN_WIDTH / pixels.shape[1])
    if zoom == 1:
        return pixels, zoom
    size = (round(pixels.shape[1] * zoom), round(pixels.shape[0] * zoom))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.NEAREST)), zoom


def clinical_key(row):
    """The clinical figure's key of a clinical.csv `row`: the colours, the unit, zone B's CRAE,
    CRVE and AVR and zone C's in brackets, in micrometres where the row has a pixel size, and
    the row's flags."""
    unit = "um" if np.isfinite(row["pixel_size_um"]) else "px"
    crae, crve, crae_c, crve_c = (row[f"{name}_{unit}"] for name in ("crae", "crve", "crae_zone_c", "crve_zone_c"))
    return (
        f"red artery, blue vein; white disc, yellow zone B, dashed zone C; widths in {'µm' if unit == 'um' else unit}. "
        f"CRAE {figure_text(crae, 1)}, CRVE {figure_text(crve, 1)}, AVR {figure_text(row['avr'], 2)} "
        f"(zone C: CRAE {figure_text(crae_c, 1)}, CRVE {figure_text(crve_c, 1)}, "
        f"AVR {figure_text(row['avr_zone_c'], 2)})" + (f"; {row['flags']}" if row["flags"] else "")
    )


def figure_text(value, decimals):
    """A figure for the clinical figure's key, to `decimals` places, or "none" where it could not
    be measured (NaN), as in a photograph without a venule in zone B."""
    return f"{value:.{decimals}f}" if np.isfinite(value) else "none"


@functools.lru_cache(maxsize=8)
def text_font(size):
    """PIL's font for the clinical figure's text (TEXT_FONT_FILE), `size` pixels high."""
    from PIL import ImageFont

    return ImageFont.truetype(str(TEXT_FONT_FILE), size)


def wrap_text(draw, text, width, font):
    """`text` as lines no wider than `width` pixels in `font` (a PIL font) on `draw`, broken between
    words (a word wider than `width` keeps a line of its own)."""
    lines = []
    for word in text.split(" "):
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


# How the Bland-Altman panels name the clinical.csv columns they plot.
MEASURE_NAMES = {
    "crae_px": "CRAE (px)",
    "crve_px": "CRVE (px)",
    "avr": "AVR",
    "crae_um": "CRAE (µm)",
    "crve_um": "CRVE (µm)",
    "arteriole_px": "arteriole width (px)",
    "venule_px": "venule width (px)",
}


def save_bland_altman(path, values_rows, reference_rows, measures, title, points="photographs"):
    """One Bland-Altman panel per measure: the difference (values minus reference) against the
    mean of each pair, with the mean difference and its 95% limits of agreement, in a legend
    with their values under each panel, where it hides no point; `points` names what a pair is."""
    figure, axes = plt.subplots(1, len(measures), figsize=(5 * len(measures), 5.2), layout="constrained")
    for axis, measure in zip(np.atleast_1d(axes), measures):
        name = MEASURE_NAMES.get(measure, measure)
        values = np.array([row[measure] for row in values_rows], dtype=float)
        reference = np.array([row[measure] for row in reference_rows], dtype=float)
        both = np.isfinite(values) & np.isfinite(reference)
        means, differences = (values[both] + reference[both]) / 2, values[both] - reference[both]
        axis.scatter(means, differences, s=18, label=f"{points} ({differences.size})")
        if differences.size > 2:
            centre, spread = differences.mean(), 1.96 * differences.std(ddof=1)
            axis.axhline(centre, color="tab:red", linewidth=1, label=f"mean difference {centre:+.3g}")
            axis.axhline(
                centre - spread,
                color="tab:red",
                linestyle="--",
                linewidth=1,
                label=f"95% limits {centre - spread:+.3g} to {centre + spread:+.3g}",
            )
            axis.axhline(centre + spread, color="tab:red", linestyle="--", linewidth=1)
        axis.axhline(0, color="grey", linewidth=0.5)
        axis.set(xlabel=f"mean of model and manual, {name}", ylabel=f"model minus manual, {name}", title=name)
        axis.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
        axis.grid(alpha=0.3)
    figure.suptitle(title)
    figure.savefig(path, dpi=100)
    plt.close(figure)
