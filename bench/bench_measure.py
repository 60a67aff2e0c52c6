"""Benchmark the measurements on DRIVE-sized maps (target: at most 1 s per 584x565 map for each).

    python bench/bench_measure.py [--repeats 3]
    python bench/bench_measure.py --repeats 1 --enlarge 7   # (b) on photographs of a modern camera's size

Times (a) vessel_measures.measure on the 20 DRIVE test annotations (1st_manual, inside their FOV)
and (b) the clinical measures of a photograph beyond its segmentation, as predict.py --images
runs them: the optic disc located in the photograph, calibre in zones B and C, CRAE, CRVE, AVR
and the per-class measures, on RITE's artery/vein labels of the 20 DRIVE training photographs,
and the clinical figure. As predict.py reads a model's widths from its vessel probability, (b) reads them
from a stand-in, the labels' vessels blurred by a Gaussian of one pixel (calibre.WIDTH_SOURCE).
With --enlarge N, (b) runs on the photographs and labels enlarged N times (bicubic, the labels
and FOV by repeating pixels), as a camera of N times DRIVE's resolution would give them. Prints the
median and the slowest seconds per map. Without DRIVE it says so and exits; without RITE it leaves
(b) out.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from vesselseg.cli import HelpFormatter, summary  # noqa: E402
from vesselseg.data.drive_data import find_drive_dir_for_checks, find_rite_dir, load_rite_labels, load_split  # noqa: E402  # noqa: E402
from vesselseg.figures import save_clinical_figure  # noqa: E402
from vesselseg.measurement import vessel_measures  # noqa: E402
from vesselseg.measurement.calibre import VesselProbability  # noqa: E402
from vesselseg.measurement.clinical import measure_photograph  # noqa: E402

TARGET_SECONDS = 1.0


def get_args():
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the 20 maps")
    parser.add_argument("--data-dir", help="DRIVE folder (default: $DRIVE_DIR, input/ or ../shared/DRIVE)")
    parser.add_argument(
        "--enlarge",
        type=int,
        default=1,
        metavar="N",
        help="time the clinical measures on the photographs enlarged N times (7 gives about 4,000 px across)",
    )
    args = parser.parse_args()
    if args.enlarge < 1:
        parser.error(f"--enlarge must be a whole number of at least 1, got {args.enlarge}.")
    return args


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
    print(
        f"measure() on {len(test.ids)} DRIVE maps ({width}x{height}) x {args.repeats}: median {median:.3f} s, "
        f"slowest {max(seconds):.3f} s per map (target at most {TARGET_SECONDS:g} s: "
        f"{'met' if median <= TARGET_SECONDS else 'not met'})"
    )
    report_clinical(drive_dir, args.repeats, args.enlarge)


def enlarged(image, fov, classes, factor):
    """A photograph (H, W, 3) in [0, 1], its FOV and its labels, `factor` times larger: the
    photograph bicubic, the FOV and labels by repeating pixels."""
    if factor == 1:
        return image, fov, classes
    from PIL import Image

    size = (image.shape[1] * factor, image.shape[0] * factor)
    pixels = Image.fromarray(np.round(image * 255).astype(np.uint8)).resize(size, Image.BICUBIC)
    return (
        np.asarray(pixels, dtype=np.float32) / 255,
        np.kron(fov, np.ones((factor, factor), bool)),
        np.kron(classes, np.ones((factor, factor), np.uint8)),
    )


def clinical_seconds(drive_dir, repeats, figure_path, factor=1):
    """Seconds per photograph of the clinical measures and figure on RITE's training labels, with
    the photographs enlarged `factor` times (enlarged)."""
    training = load_split(drive_dir, "training")
    labels = load_rite_labels(find_rite_dir(), "training", training.ids)
    seconds = []
    for _ in range(repeats):
        for image, fov, classes in zip(training.images, training.masks, labels):
            image, fov, classes = enlarged(image, fov, classes, factor)
            probability = VesselProbability(
                ndimage.gaussian_filter((classes > 0).astype(np.float32), factor), scale=float(factor)
            )
            started = time.perf_counter()
            row = measure_photograph("bench", classes, fov, image=image, probability=probability)
            save_clinical_figure(figure_path, image, classes, row)
            seconds.append(time.perf_counter() - started)
    return seconds


def report_clinical(drive_dir, repeats, factor=1):
    try:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            seconds = clinical_seconds(drive_dir, repeats, Path(folder) / "clinical.png", factor)
    except FileNotFoundError as error:
        print(f"clinical measures left out: {error}")
        return
    median = statistics.median(seconds)
    if factor > 1:
        print(
            f"clinical measures and figure of {len(seconds) // repeats} DRIVE photographs enlarged {factor}x x "
            f"{repeats}: median {median:.3f} s, slowest {max(seconds):.3f} s per photograph beyond its segmentation"
        )
        return
    print(
        f"clinical measures and figure of {len(seconds) // repeats} DRIVE photographs x {repeats}: median "
        f"{median:.3f} s, slowest {max(seconds):.3f} s per photograph beyond its segmentation (target at most "
        f"{TARGET_SECONDS:g} s: {'met' if median <= TARGET_SECONDS else 'not met'})"
    )


if __name__ == "__main__":
    main(get_args())
