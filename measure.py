"""Measure vessel maps: fraction, skeleton length, width, branch and end points, tortuosity and
fractal dimension, one CSV row per map (vessel_measures.py says how each is measured).

    python measure.py output/unet_camera_tta/images --threshold 0.5 --output output/measurements.csv
    python measure.py ../shared/DRIVE/test/1st_manual --masks ../shared/DRIVE/test/mask --output /tmp/m.csv
    python measure.py my_map.png --pixel-size-um 12.5 --images photos/ --output my_map.csv

MAPS is a map file or a folder of them: binary PNG/GIF/TIFF maps (any two grey levels), or
probability maps (.npy, or 8/16-bit grey PNG) cut at --threshold. In a folder of predict.py's
output, the *_prob.npy maps are measured and its other PNGs are left alone. FOV masks in --masks
are matched by file stem, as predict.py matches them, or by DRIVE's leading id
(`01_manual1.gif` with `01_test_mask.gif`); without --masks the whole image counts as the FOV.

Writes the CSV, with the columns image, vessel_fraction, skeleton_length_px, mean_width_px,
branch_points, end_points, tortuosity, fractal_dimension (and skeleton_length_mm, mean_width_um
with --pixel-size-um), and beside it a folder <csv stem>_figures/ with one figure per map: the
skeleton coloured by local width over the map, or over the photograph found in --images.
"""

import argparse
import csv
import shutil
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402
from skimage.morphology import skeletonize  # noqa: E402

import vessel_measures  # noqa: E402
from drive_data import read_pixels, read_rgb_image  # noqa: E402
from image_files import IMAGE_SUFFIXES, list_images, match_companion  # noqa: E402

COLUMNS = ("image", "vessel_fraction", "skeleton_length_px", "mean_width_px", "branch_points", "end_points",
           "tortuosity", "fractal_dimension")
PHYSICAL_COLUMNS = ("skeleton_length_mm", "mean_width_um")
MAP_SUFFIXES = IMAGE_SUFFIXES | {".npy"}
# predict.py writes these beside its maps; they are pictures of maps, not maps.
PREDICT_PICTURES = ("_prob.png", "_overlay.png", "_prediction.png", "_difference.png", "_vessels.png")
# The colour map of the width figure, and the widest vessel (pixels) it tells apart.
WIDTH_COLOURS = "turbo"
WIDTH_SCALE_MAX = 12


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("maps", help="a vessel map file, or a folder of them")
    parser.add_argument("--masks", help="folder of FOV masks, matched by file stem or DRIVE id (default: whole image)")
    parser.add_argument("--threshold", type=float,
                        help="probability from which a pixel is vessel, for maps with more than two levels "
                             "(required for them; binary maps need none)")
    parser.add_argument("--pixel-size-um", type=float, help="pixel size in micrometres; adds millimetre and "
                                                           "micrometre columns")
    parser.add_argument("--images", help="folder of the photographs, matched by stem, to draw the skeleton over")
    parser.add_argument("--output", default="measurements.csv", help="CSV file to write (default: measurements.csv)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing CSV and its figures")
    return parser.parse_args(argv)


def list_maps(path):
    """Map files: every image or .npy file, except that in a folder of predict.py's output only
    its probability maps (*_prob.npy) are maps."""
    files = list_images(path, MAP_SUFFIXES, flag="MAPS")
    if any(file.name.endswith("_prob.npy") for file in files):
        return [file for file in files if file.name.endswith("_prob.npy")]
    return [file for file in files if not file.name.endswith(PREDICT_PICTURES)] or files


def map_stem(path):
    """The image stem of a map: `Image_01L` for `Image_01L_prob.npy` or `Image_01L_vessels.png`."""
    return path.stem.removesuffix("_prob").removesuffix("_vessels")


def read_map(path, threshold):
    """A map file as a bool (H, W) vessel map.

    Two grey levels: the higher is vessel. More levels (a probability map: .npy in [0, 1], or an
    8- or 16-bit PNG scaled to [0, 1]) need a threshold, and are cut at it.
    """
    values = np.load(path) if path.suffix == ".npy" else read_pixels(path, keep_palette=True)
    if values.ndim == 3:
        values = values.max(axis=-1)
    if values.ndim != 2:
        raise ValueError(f"{path} is not a 2-D map (shape {values.shape}).")
    levels = np.unique(values)
    if len(levels) <= 2 and (threshold is None or path.suffix != ".npy"):
        return values == levels[-1] if len(levels) == 2 else values > 0
    if threshold is None:
        raise ValueError(f"{path} has {len(levels)} levels, so it is a probability map: pass --threshold "
                         "(e.g. 0.5) to say where vessel begins.")
    if values.dtype.kind in "ui":
        values = values / np.iinfo(values.dtype).max
    return values >= threshold


def measurement_row(name, values, pixel_size_um):
    row = {"image": name, **{column: values[column] for column in COLUMNS[1:]}}
    if pixel_size_um:
        row["skeleton_length_mm"] = values["skeleton_length_px"] * pixel_size_um / 1000
        row["mean_width_um"] = values["mean_width_px"] * pixel_size_um
    return row


def write_csv(path, rows, pixel_size_um):
    columns = COLUMNS + (PHYSICAL_COLUMNS if pixel_size_um else ())
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: f"{value:.6g}" if isinstance(value, float) else value for key, value in row.items()})


def save_width_figure(path, vessels, background, title):
    """The skeleton coloured by local width (pixels), over the photograph or, without one, the map."""
    skeleton = skeletonize(vessels)
    widths = np.full(vessels.shape, np.nan)
    widths[skeleton] = vessel_measures.local_widths(vessels, skeleton)
    # Thicken the one-pixel skeleton for display only, keeping each pixel's own width.
    shown = ndimage.grey_dilation(np.nan_to_num(widths, nan=-1), size=3)
    shown = np.where(shown >= 0, shown, np.nan)
    height, width = vessels.shape
    figure, axis = plt.subplots(figsize=(width / 80 + 1.2, height / 80 + 0.5), layout="constrained")
    axis.imshow(background if background is not None else vessels, cmap="gray" if background is None else None,
                alpha=0.6 if background is not None else 0.35)
    drawn = axis.imshow(shown, cmap=WIDTH_COLOURS, vmin=1, vmax=WIDTH_SCALE_MAX, interpolation="nearest")
    axis.set_title(title, fontsize=10)
    axis.axis("off")
    figure.colorbar(drawn, ax=axis, shrink=0.8, label="local vessel width (pixels)")
    figure.savefig(path, dpi=80)
    plt.close(figure)


def measure_file(path, args, figures_dir):
    """Measure one map file; returns its CSV row."""
    vessels = read_map(path, args.threshold)
    mask_path = match_companion(args.masks, map_stem(path), by_leading_id=True)
    if args.masks and mask_path is None:
        raise FileNotFoundError(f"no FOV mask for {path.name} in {args.masks}")
    fov = read_map(mask_path, None) if mask_path else None
    values = vessel_measures.measure(vessels, fov)
    photograph_path = match_companion(args.images, map_stem(path), by_leading_id=True)
    background = read_rgb_image(photograph_path) if photograph_path else None
    if background is not None and background.shape[:2] != vessels.shape:
        raise ValueError(f"{photograph_path} is not the size of its map {path}.")
    save_width_figure(figures_dir / f"{map_stem(path)}_widths.png", vessel_measures.inside_fov(vessels, fov),
                      background, f"{path.name}: skeleton by width, mean {values['mean_width_px']:.2f} px")
    return measurement_row(path.name, values, args.pixel_size_um)


def progress(number, total, name):
    """A one-line progress bar on the terminal."""
    done = int(30 * number / total)
    print(f"\r[{'#' * done}{'.' * (30 - done)}] {number}/{total} {name[:40]:<40}", end="" if number < total else "\n",
          flush=True)


def main(args):
    if args.threshold is not None and not 0 < args.threshold < 1:
        raise ValueError(f"--threshold must lie strictly between 0 and 1, got {args.threshold:g}.")
    if args.pixel_size_um is not None and args.pixel_size_um <= 0:
        raise ValueError(f"--pixel-size-um must be positive, got {args.pixel_size_um:g}.")
    for flag in ("masks", "images"):
        if getattr(args, flag) and not Path(getattr(args, flag)).is_dir():
            raise FileNotFoundError(f"--{flag} {getattr(args, flag)} is not a folder.")
    files = list_maps(args.maps)
    output = Path(args.output)
    figures_dir = output.with_name(f"{output.stem}_figures")
    if (output.exists() or figures_dir.exists()) and not args.overwrite:
        raise FileExistsError(f"{output} or {figures_dir} exists; pass --overwrite to replace them.")
    created = not figures_dir.exists()
    figures_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for number, path in enumerate(files, start=1):
        try:
            rows.append(measure_file(path, args, figures_dir))
        except (ValueError, FileNotFoundError) as error:
            # A failed run leaves nothing behind, so that the same command can run again.
            if created:
                shutil.rmtree(figures_dir)
            raise type(error)(str(error) if str(path) in str(error) else f"{path}: {error}") from error
        if len(files) > 1:
            progress(number, len(files), path.name)
    write_csv(output, rows, args.pixel_size_um)
    print(f"Wrote {len(rows)} row(s) to {output} and figures to {figures_dir}")


if __name__ == "__main__":
    try:
        main(get_args())
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        sys.exit(f"error: {error}")
