"""Draw the estimated optic disc on every photograph of a folder, as one grid to check by eye.

    python tools/disc_grid.py ../shared/CHASEDB1/images --masks ../shared/CHASEDB1/mask
    python tools/disc_grid.py ../shared/LESAV/images --masks ../shared/LESAV/mask

Each photograph is segmented in one pass by the default vessel model (the disc locator reads the
wide vessels of its map, as predict.py --images does), the disc located, and a tile drawn with the
disc's circle, green where the disc was found and red where it was not. Writes
output/disc_grid/<folder's parent>.png and prints each photograph's disc; the figure is for the
eye, and the misses are counted by looking at it.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vesselseg import quiet_startup  # noqa: E402,F401  (before TensorFlow loads: drops its start-up noise)
from vesselseg.cli import HelpFormatter, summary  # noqa: E402
from vesselseg.data.drive_data import read_binary_map, read_rgb_image  # noqa: E402
from vesselseg.data.image_files import list_images, match_companion  # noqa: E402
from vesselseg.inference import segment  # noqa: E402
from vesselseg.inference.models import IMAGES_DEFAULT_WEIGHTS, load_models, resolve_models  # noqa: E402
from vesselseg.measurement.optic_disc import locate_disc  # noqa: E402
from vesselseg.paths import OUTPUT_DIR  # noqa: E402

TILE_WIDTH = 320
COLUMNS = 6


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("images", help="a folder of photographs")
    parser.add_argument("--masks", help="folder of FOV masks, matched by file stem (default: estimated)")
    parser.add_argument("--output", help="the grid's file (default: output/disc_grid/<folder's parent>.png)")
    return parser.parse_args(argv)


def main(args):
    choice = resolve_models(default=IMAGES_DEFAULT_WEIGHTS)[0]
    model = load_models([choice], "float32")
    tiles = []
    files = list_images(args.images)
    for number, path in enumerate(files, start=1):
        image = read_rgb_image(path)
        mask_path = match_companion(args.masks, path.stem)
        fov = read_binary_map(mask_path).astype(bool) if mask_path else segment.estimate_fov(image)
        vessels = segment.segment_photograph(model, image, fov, normalisation=choice.normalisation) >= 0.5
        disc = locate_disc(image, fov, vessels)
        print(
            f"[{number}/{len(files)}] {path.name}: centre ({disc.centre[0]:.0f}, {disc.centre[1]:.0f}), diameter "
            f"{disc.diameter_px:.0f} px, {'found' if disc.found else 'NOT FOUND'} (score {disc.score:.1f})",
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


if __name__ == "__main__":
    try:
        main(get_args())
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
