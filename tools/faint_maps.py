"""Why some maps come out faint or empty: each photograph's image qualities beside its score.

    python predict.py --images ../shared/DRHAGIS/image --labels ../shared/DRHAGIS/truth \
        --masks ../shared/DRHAGIS/mask --no-clinical --name drhagis      # the maps to look at
    python tools/faint_maps.py --maps output/drhagis/images --images ../shared/DRHAGIS/image \
        --labels ../shared/DRHAGIS/truth --masks ../shared/DRHAGIS/mask

For each photograph it measures, inside the FOV, what could make vessels hard to see:
brightness, global contrast, the vessels' own contrast against the background around them
(from the annotation), uneven illumination, sharpness and bright-lesion area; then the F1 of
the saved map at 0.5 and its vessel fraction against the annotation's. It prints the table
sorted by F1, the rank correlation (Spearman) of each quality with F1, and draws the worst
photographs beside the best: photograph, green channel, map and annotation. Writes
<maps>/faint_maps.md and <maps>/faint_maps.png.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage, stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vesselseg.cli import HelpFormatter, summary  # noqa: E402
from vesselseg.data.image_files import list_images, match_companion  # noqa: E402
from vesselseg.data.image_reading import read_binary_map, read_rgb_image, read_vessel_annotation  # noqa: E402
from vesselseg.figures import plt  # noqa: E402

THRESHOLD = 0.5
# Bright lesions (exudates, drusen) and the disc: FOV pixels this many standard deviations above
# the green channel's local background level.
BRIGHT_SIGMAS = 3.0
# The photographs drawn: this many of the worst, and the best one for comparison.
WORST_SHOWN = 3
QUALITIES = (
    ("brightness", "mean green level in the FOV, 0-1"),
    ("contrast", "standard deviation of green in the FOV over its mean"),
    ("vessel_contrast", "(background green - vessel green) / background green, from the annotation"),
    ("uneven_illumination", "coefficient of variation of the green background, blurred over a tenth of the FOV"),
    ("sharpness", "mean gradient magnitude of green in the FOV, over its mean"),
    ("bright_area", f"fraction of the FOV more than {BRIGHT_SIGMAS:g} standard deviations above the background"),
)


def image_qualities(image, fov, annotation):
    """The QUALITIES of one photograph (H, W, 3) in [0, 1] with a bool FOV and a binary annotation,
    as a dict of floats (each defined in QUALITIES)."""
    green = image[..., 1].astype(np.float64)
    inside = green[fov]
    vessels = annotation.astype(bool) & fov
    # The background near vessels: FOV pixels within a few pixels of a vessel but not on one.
    near = ndimage.binary_dilation(vessels, iterations=4) & fov & ~vessels
    diameter = max(np.ptp(np.flatnonzero(fov.any(axis=0))), 1)
    weights = ndimage.gaussian_filter(fov.astype(np.float64), diameter / 10)
    background = ndimage.gaussian_filter(np.where(fov, green, 0.0), diameter / 10) / np.maximum(weights, 1e-6)
    gradient = np.hypot(*np.gradient(ndimage.gaussian_filter(green, 1.0)))
    local_std = np.std(inside - background[fov])
    return {
        "brightness": float(inside.mean()),
        "contrast": float(inside.std() / max(inside.mean(), 1e-6)),
        "vessel_contrast": float((green[near].mean() - green[vessels].mean()) / max(green[near].mean(), 1e-6)),
        "uneven_illumination": float(background[fov].std() / max(background[fov].mean(), 1e-6)),
        "sharpness": float(gradient[fov].mean() / max(inside.mean(), 1e-6)),
        "bright_area": float((inside - background[fov] > BRIGHT_SIGMAS * local_std).mean()),
    }


def map_scores(probabilities, annotation, fov, threshold=THRESHOLD):
    """(F1, the map's vessel fraction, the annotation's) inside the FOV at `threshold`."""
    predicted, truth = probabilities[fov] >= threshold, annotation[fov].astype(bool)
    true_positives = np.sum(predicted & truth)
    f1 = 2 * true_positives / max(predicted.sum() + truth.sum(), 1)
    return float(f1), float(predicted.mean()), float(truth.mean())


def read_rows(args):
    """One dict per photograph: its name, F1, fractions and qualities, with its arrays for the figure."""
    rows = []
    for path in list_images(args.images):
        map_path = Path(args.maps) / f"{path.stem}_prob.npy"
        label_path, mask_path = match_companion(args.labels, path.stem), match_companion(args.masks, path.stem)
        if not map_path.is_file() or label_path is None or mask_path is None:
            raise FileNotFoundError(f"{path.name}: no {map_path.name} in --maps, or no annotation or mask.")
        image, probabilities = read_rgb_image(path), np.load(map_path)
        annotation, fov = read_vessel_annotation(label_path), read_binary_map(mask_path) > 0
        f1, fraction, true_fraction = map_scores(probabilities, annotation, fov)
        rows.append(
            {
                "image": path.stem,
                "f1": f1,
                "map_fraction": fraction,
                "true_fraction": true_fraction,
                **image_qualities(image, fov, annotation),
                "arrays": (image, probabilities, annotation, fov),
            }
        )
    return sorted(rows, key=lambda row: row["f1"])


def report(rows):
    """The markdown table (worst first) and the rank correlations of each quality with F1."""
    names = [name for name, _ in QUALITIES]
    lines = [
        "| image | F1 | map vessel fraction | annotated | " + " | ".join(names) + " |",
        "| --- " * (4 + len(names)) + "|",
    ]
    for row in rows:
        values = [row["f1"], row["map_fraction"], row["true_fraction"], *(row[name] for name in names)]
        lines.append(f"| {row['image']} | " + " | ".join(f"{value:.3f}" for value in values) + " |")
    lines += ["", "| quality | what it is | Spearman rho with F1 | p |", "| --- | --- | --- | --- |"]
    f1 = [row["f1"] for row in rows]
    for name, meaning in QUALITIES:
        rho, p_value = stats.spearmanr([row[name] for row in rows], f1)
        lines.append(f"| {name} | {meaning} | {rho:+.2f} | {p_value:.3f} |")
    return "\n".join(lines) + "\n"


def save_figure(path, rows):
    """The WORST_SHOWN worst photographs and the best: photograph, green channel, map, annotation."""
    shown = rows[:WORST_SHOWN] + rows[-1:]
    figure, axes = plt.subplots(len(shown), 4, figsize=(13, 3.2 * len(shown)), squeeze=False)
    for axes_row, row in zip(axes, shown):
        image, probabilities, annotation, fov = row["arrays"]
        panels = (image, image[..., 1], probabilities, annotation)
        titles = (
            f"{row['image']}: F1 {row['f1']:.2f}",
            f"green; vessel contrast {row['vessel_contrast']:.2f}",
            f"map: {row['map_fraction']:.1%} vessel at {THRESHOLD:g}",
            f"annotation: {row['true_fraction']:.1%} vessel",
        )
        for axis, panel, title in zip(axes_row, panels, titles):
            axis.imshow(panel, cmap="gray" if panel.ndim == 2 else None, vmin=0, vmax=1)
            axis.set_title(title, fontsize=9)
            axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--maps", required=True, help="a predict.py --images output folder with <stem>_prob.npy")
    parser.add_argument("--images", required=True, help="the photographs")
    parser.add_argument("--labels", required=True, help="their vessel annotations")
    parser.add_argument("--masks", required=True, help="their FOV masks")
    args = parser.parse_args(argv)
    try:
        rows = read_rows(args)
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
    text = report(rows)
    print(text)
    (Path(args.maps) / "faint_maps.md").write_text(text)
    save_figure(Path(args.maps) / "faint_maps.png", rows)
    print(f"Wrote {Path(args.maps) / 'faint_maps.md'} and faint_maps.png")


if __name__ == "__main__":
    main()
