"""Benchmark whole-image segmentation against a plain per-image model.predict, and the memory
of a full predict.py run.

    python bench/bench_predict.py [--repeats 3] [--backend tensorflow|jax] [--weights PATH]

Prints the median seconds per DRIVE test image of predict.py's segmentation path
(segment.segment_images, batched) and of `model.predict` on one padded image at a time, their
ratio (timed on the first --count test images, to stay within 5 minutes on 2 CPU cores), and
the wall time and peak resident memory of whole `predict.py` runs on the 20 test images, with
--no-tta and with its default test-time augmentation (the four flips, so about 4x the segmentation).
Speed does not depend on the weights, so random ones are used unless --weights is given.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))


def get_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over --count images")
    parser.add_argument("--count", type=int, default=8, help="test images timed per pass (the speed is per image)")
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"), help="Keras backend")
    parser.add_argument("--weights", help="scratch U-Net weights (default: random)")
    parser.add_argument("--data-dir", help="DRIVE folder (default: $DRIVE_DIR, input/ or ../shared/DRIVE)")
    return parser.parse_args()


def main():
    args = get_args()
    os.environ["KERAS_BACKEND"] = args.backend
    import keras

    import segment
    from drive_data import find_drive_dir_for_checks, load_split
    from unet import build_unet

    drive_dir = find_drive_dir_for_checks(args.data_dir)
    if drive_dir is None:
        sys.exit("error: DRIVE not found; pass --data-dir or set DRIVE_DIR.")
    scratch = Path(tempfile.mkdtemp())
    weights = Path(args.weights) if args.weights else scratch / "random.weights.h5"
    if not args.weights:
        keras.utils.set_random_seed(0)
        build_unet("scratch").save_weights(weights)
    model = segment.load_model(weights)
    images = load_split(drive_dir, "test").images[: args.count]
    print(f"backend {keras.backend.backend()}, Keras {keras.__version__}, {os.cpu_count()} CPUs, "
          f"{len(images)} images timed per pass")

    def ours():
        segment.segment_images(model, images, progress=False)

    padded = segment.pad_to_multiple(images)

    def plain():
        for image in padded:
            model.predict(image[None], batch_size=1, verbose=0)

    results = {}
    for name, function in (("segment_images (batched)", ours), ("plain model.predict, batch 1", plain)):
        function()  # warm-up: compilation and memory allocation
        per_image = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            function()
            per_image.append((time.perf_counter() - started) / len(images))
        results[name] = statistics.median(per_image)
        print(f"{name:<30} median {results[name]:.3f} s/image (min {min(per_image):.3f}, max {max(per_image):.3f})")
    ours_seconds, plain_seconds = results.values()
    print(f"speed-up over plain predict: {plain_seconds / ours_seconds:.2f}x (target >= 1.5x; CPU target <= 1.5 s/image)")

    # predict.py as users run it: one pass per image (--no-tta, the blog's method and the 30-s
    # target's path), then the default, which averages the four flips of each image.
    for name, flags in (("plain", ["--no-tta"]), ("tta", [])):
        command = [sys.executable, str(PROJECT_DIR / "predict.py"), "--weights", str(weights), "--name", name,
                   "--data-dir", str(drive_dir), "--output-dir", str(scratch / "out"), *flags]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=dict(os.environ, KERAS_BACKEND=args.backend))
        wall = time.perf_counter() - started
        # ru_maxrss of children is the largest of them so far: the TTA run's figure covers both.
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        seconds = json.loads((scratch / "out" / name / "test" / "metrics.json").read_text())["seconds"]
        print(f"predict.py {' '.join(flags) or '(default, --tta)'} on the 20 test images: {wall:.1f} s wall in all, "
              f"peak memory {peak_mib:.0f} MiB (target <= 3072 MiB)")
        print(f"    segmentation {seconds['segmentation']:.1f} s + scoring {seconds['scoring']:.1f} s = "
              f"{seconds['segmentation'] + seconds['scoring']:.1f} s (target <= 30 s); "
              f"files and figures {seconds['files_and_figures']:.1f} s; the rest is start-up and loading")

if __name__ == "__main__":
    main()
