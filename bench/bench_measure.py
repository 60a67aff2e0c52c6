"""Benchmark vessel_measures.measure on DRIVE-sized maps (target: at most 1 s per 584x565 map).

    python bench/bench_measure.py [--repeats 3]

Times every measurement of the 20 DRIVE test annotations (1st_manual, inside their FOV), and
prints the median and the slowest seconds per map. Without DRIVE it says so and exits.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

import vessel_measures  # noqa: E402
from cli import HelpFormatter, summary  # noqa: E402
from drive_data import find_drive_dir_for_checks, load_split  # noqa: E402

TARGET_SECONDS = 1.0


def get_args():
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the 20 maps")
    parser.add_argument("--data-dir", help="DRIVE folder (default: $DRIVE_DIR, input/ or ../shared/DRIVE)")
    return parser.parse_args()


def main(args):
    drive_dir = find_drive_dir_for_checks(args.data_dir)
    if drive_dir is None:
        sys.exit("DRIVE not found: set DRIVE_DIR, unzip it into input/, or provide ../shared/DRIVE.")
    test = load_split(drive_dir, "test")
    seconds = []
    for _ in range(args.repeats):
        for vessels, fov in zip(test.manual1, test.masks):
            started = time.perf_counter()
            vessel_measures.measure(vessels, fov)
            seconds.append(time.perf_counter() - started)
    height, width = test.manual1.shape[1:]
    median = statistics.median(seconds)
    print(f"measure() on {len(test.ids)} DRIVE maps ({width}x{height}) x {args.repeats}: median {median:.3f} s, "
          f"slowest {max(seconds):.3f} s per map (target at most {TARGET_SECONDS:g} s: "
          f"{'met' if median <= TARGET_SECONDS else 'not met'})")


if __name__ == "__main__":
    main(get_args())
