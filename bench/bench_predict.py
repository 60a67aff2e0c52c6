"""Benchmark whole-image segmentation against a plain per-image model.predict, and the memory
of a full predict.py run.

    python bench/bench_predict.py [--repeats 3] [--backend tensorflow|jax] [--weights PATH]

Prints the median seconds per DRIVE test image of predict.py's segmentation path
(segment.segment_images, batched), in float32 and with --precision bfloat16, and of a float32
`model.predict` on one padded image at a time, with their ratios (timed on the first --count test
images, to stay within 5 minutes on 2 CPU cores); then the wall time and peak resident memory of
whole `predict.py` runs on the 20 test images: --no-tta, the default (test-time augmentation:
the four flips, so about 4x the segmentation) and the default with --precision bfloat16.
Speed does not depend on the weights, so random ones are used unless --weights is given.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from vesselseg.cli import HelpFormatter, summary  # noqa: E402


def get_args():
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over --count images")
    parser.add_argument("--count", type=int, default=8, help="test images timed per pass (the speed is per image)")
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"), help="Keras backend")
    parser.add_argument("--weights", help="scratch U-Net weights (default: random)")
    parser.add_argument("--data-dir", help="DRIVE folder (default: $DRIVE_DIR, input/ or ../shared/DRIVE)")
    return parser.parse_args()


def run_measured(command, env):
    """(wall seconds, peak resident MiB) of one command; exits with its error output if it fails."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, env=env)
        # wait4 gives this child's own peak memory; RUSAGE_CHILDREN would be the largest of all so far.
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            sys.exit(f"error: {' '.join(command)} failed:\n{errors.read().decode()[-3000:]}")
    return wall, usage.ru_maxrss / 1024


def main():
    args = get_args()
    os.environ["KERAS_BACKEND"] = args.backend
    import keras

    from vesselseg.data.drive_data import find_drive_dir_for_checks, load_split
    from vesselseg.inference import segment
    from vesselseg.unet import build_unet

    drive_dir = find_drive_dir_for_checks(args.data_dir)
    if drive_dir is None:
        sys.exit("error: DRIVE not found; pass --data-dir or set DRIVE_DIR.")
    scratch = Path(tempfile.mkdtemp())
    weights = Path(args.weights) if args.weights else scratch / "random.weights.h5"
    if not args.weights:
        keras.utils.set_random_seed(0)
        build_unet("scratch").save_weights(weights)
    models = {precision: segment.load_model(weights, precision=precision) for precision in segment.PRECISIONS}
    images = load_split(drive_dir, "test").images[: args.count]
    print(
        f"backend {keras.backend.backend()}, Keras {keras.__version__}, {os.cpu_count()} CPUs, "
        f"{len(images)} images timed per pass"
    )

    padded = segment.pad_to_multiple(images)

    def plain():
        for image in padded:
            models["float32"].predict(image[None], batch_size=1, verbose=0)

    timed = {
        f"segment_images, {precision}": lambda model=model: segment.segment_images(model, images, progress=False)
        for precision, model in models.items()
    }
    timed["plain model.predict, float32"] = plain
    results = {}
    for name, function in timed.items():
        function()  # warm-up: compilation and memory allocation
        per_image = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            function()
            per_image.append((time.perf_counter() - started) / len(images))
        results[name] = statistics.median(per_image)
        print(f"{name:<30} median {results[name]:.3f} s/image (min {min(per_image):.3f}, max {max(per_image):.3f})")
    for precision in models:
        print(
            f"speed-up of segment_images, {precision} over plain predict: "
            f"{results['plain model.predict, float32'] / results[f'segment_images, {precision}']:.2f}x "
            "(target >= 1.5x; CPU target <= 1.5 s/image)"
        )

    # predict.py as users run it: one pass per image (--no-tta, the blog's method), the default,
    # which averages the four flips of each image, and the default computed in bfloat16.
    for name, flags in (("plain", ["--no-tta"]), ("tta", []), ("tta_bfloat16", ["--precision", "bfloat16"])):
        command = [
            sys.executable,
            str(PROJECT_DIR / "predict.py"),
            "--weights",
            str(weights),
            "--name",
            name,
            "--data-dir",
            str(drive_dir),
            "--output-dir",
            str(scratch / "out"),
            *flags,
        ]
        wall, peak_mib = run_measured(command, dict(os.environ, KERAS_BACKEND=args.backend))
        seconds = json.loads((scratch / "out" / name / "test" / "metrics.json").read_text())["seconds"]
        print(
            f"predict.py {' '.join(flags) or '(default, --tta)'} on the 20 test images: {wall:.1f} s wall in all, "
            f"peak memory {peak_mib:.0f} MiB (target <= 3072 MiB)"
        )
        print(
            f"    segmentation {seconds['segmentation']:.1f} s + scoring {seconds['scoring']:.1f} s = "
            f"{seconds['segmentation'] + seconds['scoring']:.1f} s (target <= 30 s); "
            f"files and figures {seconds['files_and_figures']:.1f} s; the rest is start-up and loading"
        )


if __name__ == "__main__":
    main()
