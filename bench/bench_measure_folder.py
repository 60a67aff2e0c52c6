"""Benchmark measure.py on folders: matching maps to their masks, and the figures' share of the time.

    python bench/bench_measure_folder.py [--maps 4000] [--sample 200]

(a) Matching. Writes --maps small synthetic maps and as many FOV masks into a temporary folder,
then times measure.companions, which lists each folder once (Companions), against the same
lookups made map by map with match_companion, which lists the masks' folder for every map, on
the first --sample maps. Both must find the same masks. Prints seconds per map and the whole
folder's seconds (for match_companion, the sample's rate times the folder).
(b) Figures. Runs measure.py on the 20 DRIVE test annotations (1st_manual, with their masks)
with and without --no-figures, and prints seconds per map for each. Without DRIVE it says so and
leaves (b) out.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

import measure  # noqa: E402
from vesselseg.cli import HelpFormatter, summary  # noqa: E402
from vesselseg.data.drive_data import find_drive_dir_for_checks  # noqa: E402
from vesselseg.data.image_files import match_companion  # noqa: E402
from vesselseg.measurement.maps import list_maps, map_stem  # noqa: E402

# Small maps, so that writing a folder of thousands takes seconds: the lookups do not read them.
MAP_SIZE = 32


def get_args():
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--maps", type=int, default=4000, help="synthetic maps (and masks) in the folder")
    parser.add_argument("--sample", type=int, default=200, help="maps looked up one by one with match_companion")
    parser.add_argument("--data-dir", help="DRIVE folder (default: $DRIVE_DIR, input/ or ../shared/DRIVE)")
    return parser.parse_args()


def write_folder(folder, count):
    """`count` maps eye00000.png ... and their masks eye00000_mask.png in `folder`/maps and /masks."""
    vessels = np.zeros((MAP_SIZE, MAP_SIZE), np.uint8)
    vessels[MAP_SIZE // 3 : MAP_SIZE // 3 + 4] = 255
    field = np.full((MAP_SIZE, MAP_SIZE), 255, np.uint8)
    for name in ("maps", "masks"):
        (folder / name).mkdir()
    for index in range(count):
        Image.fromarray(vessels).save(folder / "maps" / f"eye{index:05d}.png")
        Image.fromarray(field).save(folder / "masks" / f"eye{index:05d}_mask.png")


def time_matching(count, sample):
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        write_folder(folder, count)
        files = list_maps(folder / "maps")
        args = argparse.Namespace(masks=str(folder / "masks"), images=None)
        started = time.perf_counter()
        found = measure.companions(files, args)
        indexed = time.perf_counter() - started
        stems = {map_stem(path) for path in files}
        started = time.perf_counter()
        one_by_one = [match_companion(folder / "masks", map_stem(path), True, stems) for path in files[:sample]]
        listed = (time.perf_counter() - started) / sample
        if one_by_one != [mask for mask, _ in found[:sample]]:
            raise RuntimeError("the two ways of matching found different masks")
    print(
        f"(a) {count} maps, {count} masks: measure.companions {indexed:.2f} s for the folder ({indexed / count * 1e3:.3f} ms a map)"
    )
    print(
        f"    match_companion map by map: {listed * 1e3:.1f} ms a map over {sample} maps, "
        f"{listed * count:.0f} s for the folder"
    )


def time_figures(drive):
    test = drive / "test"
    for flags in ([], ["--no-figures"]):
        with tempfile.TemporaryDirectory() as temporary:
            arguments = [str(test / "1st_manual"), "--masks", str(test / "mask"), "--output", f"{temporary}/m.csv"]
            started = time.perf_counter()
            measure.main(measure.get_args(arguments + flags))
            seconds = (time.perf_counter() - started) / 20
        print(
            f"(b) measure.py on DRIVE's 20 test annotations {' '.join(flags) or '(with figures)'}: {seconds:.3f} s a map"
        )


def main():
    args = get_args()
    time_matching(args.maps, min(args.sample, args.maps))
    drive = find_drive_dir_for_checks(args.data_dir)
    if drive is None:
        print("(b) left out: DRIVE not found (set DRIVE_DIR or pass --data-dir)")
        return
    time_figures(Path(drive))


if __name__ == "__main__":
    main()
