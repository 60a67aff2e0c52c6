"""Draw the estimated optic disc on every photograph of a folder, as one grid to check by eye.

    python tools/disc_grid.py ../shared/CHASEDB1/images --masks ../shared/CHASEDB1/mask
    python tools/disc_grid.py ../shared/LESAV/images --masks ../shared/LESAV/mask
    python tools/disc_grid.py ../shared/DRIVE/training/images --masks ../shared/DRIVE/training/mask \
        --reference docs/results/drive_training_disc_centres.csv

Each photograph is segmented in one pass by the artery/vein model (the disc locator reads the wide
vessels of its vessel output, as predict.py --images does for the clinical measures), the disc
located, and a tile drawn with the disc's circle, green where the disc was found and red where it
was not (and a cyan cross at the marked centre with --reference). Writes output/disc_grid/<folder's
parent>.png and prints each photograph's disc; the figure is for the eye, and the misses are
counted by looking at it. With --reference, a CSV of marked centres (columns image, disc_x, disc_y,
certain; image matched to the file stem's leading number), it also prints each centre's error and
their mean and largest, and the spread of the diameters (median absolute deviation over the
median).
"""

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vesselseg import quiet_startup  # noqa: E402,F401  (before TensorFlow loads: drops its start-up noise)
from vesselseg.artery_vein import VESSEL_THRESHOLD  # noqa: E402
from vesselseg.cli import HelpFormatter, summary  # noqa: E402
from vesselseg.data.image_files import leading_number, list_images, match_companion  # noqa: E402
from vesselseg.data.image_reading import read_binary_map, read_rgb_image  # noqa: E402
from vesselseg.inference import segment  # noqa: E402
from vesselseg.inference.models import ARTERY_VEIN_WEIGHTS, load_artery_vein_model  # noqa: E402
from vesselseg.measurement.optic_disc import CENTRE_METHOD, CENTRE_METHODS, locate_disc  # noqa: E402
from vesselseg.paths import OUTPUT_DIR  # noqa: E402

TILE_WIDTH = 320
COLUMNS = 6


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("images", help="a folder of photographs")
    parser.add_argument("--masks", help="folder of FOV masks, matched by file stem (default: estimated)")
    parser.add_argument("--output", help="the grid's file (default: output/disc_grid/<folder's parent>.png)")
    parser.add_argument("--reference", help="a CSV of marked disc centres to score the estimates against")
    parser.add_argument(
        "--centre-method", choices=CENTRE_METHODS, default=CENTRE_METHOD, help="how the disc's centre is refined"
    )
    parser.add_argument("--weights", default=str(ARTERY_VEIN_WEIGHTS), help="the artery/vein model's weights")
    return parser.parse_args(argv)


def read_reference(path):
    """{image number: (x, y, certain)} from a CSV of marked disc centres."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no reference file {path}")
    with open(path, newline="") as handle:
        return {
            int(row["image"]): (float(row["disc_x"]), float(row["disc_y"]), row["certain"] == "yes")
            for row in csv.DictReader(handle)
        }


def locate(model, normalisation, image, fov, centre_method=CENTRE_METHOD):
    """The disc (optic_disc.Disc) of a photograph (H, W, 3) with its FOV (H, W) bool, the vessel cue
    from one pass of the artery/vein `model` (its vessel output), as predict.py --images takes it."""
    probabilities = segment.segment_photograph(model, image, fov, normalisation=normalisation)
    return locate_disc(image, fov, probabilities[..., 2] >= VESSEL_THRESHOLD, centre_method)


def centre_error(disc, marked):
    """The distance (px) between a located disc's centre and a marked centre (x, y, ...)."""
    return float(np.hypot(disc.centre[0] - marked[0], disc.centre[1] - marked[1]))


def reference_summary(errors, diameters):
    """The lines that score the estimated centres: errors {file stem: (px, certain)}, diameters (px)."""
    everything = np.array([error for error, _ in errors.values()])
    certain = np.array([error for error, sure in errors.values() if sure])
    spread = np.median(np.abs(diameters - np.median(diameters))) / np.median(diameters)
    return [
        f"Centre error against the reference, {len(everything)} photographs: mean {everything.mean():.1f} px, "
        f"largest {everything.max():.1f} px; the {len(certain)} marked as certain: mean {certain.mean():.1f} px, "
        f"largest {certain.max():.1f} px.",
        f"Diameters: median {np.median(diameters):.1f} px, spread (MAD / median) {spread:.3f}, "
        f"range {diameters.min():.0f}-{diameters.max():.0f} px.",
    ]


def main(args):
    reference = read_reference(args.reference) if args.reference else {}
    model, normalisation = load_artery_vein_model(args.weights)
    errors, diameters = {}, []
    tiles = []
    files = list_images(args.images)
    for number, path in enumerate(files, start=1):
        image = read_rgb_image(path)
        mask_path = match_companion(args.masks, path.stem)
        fov = read_binary_map(mask_path).astype(bool) if mask_path else segment.estimate_fov(image)
        disc = locate(model, normalisation, image, fov, args.centre_method)
        marked = reference.get(leading_number(path.stem))
        error = ""
        if marked is not None:
            distance = centre_error(disc, marked)
            errors[path.stem] = (distance, marked[2])
            diameters.append(disc.diameter_px)
            error = f", {distance:.1f} px from the marked centre"
        print(
            f"[{number}/{len(files)}] {path.name}: centre ({disc.centre[0]:.0f}, {disc.centre[1]:.0f}), diameter "
            f"{disc.diameter_px:.0f} px, {'found' if disc.found else 'NOT FOUND'} (score {disc.score:.1f}){error}",
            flush=True,
        )
        tile = Image.fromarray((image * 255).astype(np.uint8))
        draw = ImageDraw.Draw(tile)
        x, y = disc.centre
        radius = disc.diameter_px / 2 if np.isfinite(disc.diameter_px) else image.shape[1] / 14
        width = max(2, image.shape[1] // 150)
        draw.ellipse(
            [x - radius, y - radius, x + radius, y + radius], outline="lime" if disc.found else "red", width=width
        )
        if marked is not None:
            # The marked centre as a cross, so that a miss shows beside the circle.
            arm = radius / 3
            draw.line([(marked[0] - arm, marked[1]), (marked[0] + arm, marked[1])], fill="cyan", width=width)
            draw.line([(marked[0], marked[1] - arm), (marked[0], marked[1] + arm)], fill="cyan", width=width)
        draw.text((10, 10), path.stem, fill="yellow", font_size=max(12, image.shape[1] // 25))
        tiles.append(tile.resize((TILE_WIDTH, round(TILE_WIDTH * image.shape[0] / image.shape[1]))))
    height = max(tile.height for tile in tiles)
    rows = -(-len(tiles) // COLUMNS)
    grid = Image.new("RGB", (COLUMNS * TILE_WIDTH, rows * height))
    for index, tile in enumerate(tiles):
        grid.paste(tile, ((index % COLUMNS) * TILE_WIDTH, (index // COLUMNS) * height))
    output = (
        Path(args.output)
        if args.output
        else OUTPUT_DIR / "disc_grid" / f"{Path(args.images).resolve().parent.name}.png"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    grid.save(output)
    print(f"Wrote {output}")
    if errors:
        print("\n".join(reference_summary(errors, np.array(diameters))))
    elif reference:
        print("No photograph of the folder is in the reference.")


if __name__ == "__main__":
    try:
        main(get_args())
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
