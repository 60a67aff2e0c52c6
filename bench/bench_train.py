"""Benchmark the training input pipeline, the training step and whole epochs through model.fit,
and project the faithful recipe's 100 epochs in each precision the machine computes natively.

    python bench/bench_train.py [--repeats 10] [--backend tensorflow|jax] [--skip-epochs]

Prints (a) batches/s of the project's augmented crop pipeline and of a reference written in
the original's style (each batch reads 4 images from disk with PIL and warps each whole image
with scipy), and their ratio; (b) the median seconds of one faithful training step (batch 16 of
64x64, scratch U-Net) with XLA off and on, and how many times faster the pipeline makes batches
than the step eats them; (c) for float32 and, where it is native (a GPU, or a CPU with
avx512_bf16 or amx_bf16), mixed bfloat16: a warm-up epoch, then two whole 125-step epochs through
model.fit as the training scripts run them, beside the train_on_batch step median measured in the
same run. Its last line is the projection, e.g. "100 epochs projected: float32 110 min, bfloat16 58 min".
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cli import HelpFormatter, summary  # noqa: E402


def get_args():
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--repeats", type=int, default=10, help="timed repetitions of each measurement")
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"), help="Keras backend")
    parser.add_argument("--data-dir", help="DRIVE folder (default: $DRIVE_DIR, input/ or ../shared/DRIVE)")
    parser.add_argument("--skip-epochs", action="store_true",
                        help="leave out (c), the whole epochs (3 epochs per precision: 4 to 10 minutes on a 2-core CPU)")
    return parser.parse_args()


def timed(function, repeats, warmup=2):
    for _ in range(warmup):
        function()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    return seconds


def describe(seconds):
    return f"median {statistics.median(seconds):.4f} s (min {min(seconds):.4f}, max {max(seconds):.4f})"


def reference_batch(drive_dir, ids, rng):
    """The original's style: read from disk and warp every whole image, then crop."""
    import numpy as np
    from PIL import Image
    from scipy import ndimage

    images, masks = [], []
    for image_id in rng.choice(ids, size=4):
        image = np.asarray(Image.open(drive_dir / "training" / "images" / f"{image_id}_training.tif"), np.float32) / 255
        mask = np.asarray(Image.open(drive_dir / "training" / "1st_manual" / f"{image_id}_manual1.gif"), np.float32) / 255
        angle = np.deg2rad(rng.uniform(-10, 10))
        matrix = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) * rng.uniform(0.9, 1.1)
        center = np.array(mask.shape) / 2
        offset = center - matrix @ center
        image = np.stack([ndimage.affine_transform(image[..., c], matrix, offset, order=1, mode="reflect") for c in range(3)], -1)
        mask = ndimage.affine_transform(mask, matrix, offset, order=0, mode="reflect")
        for _ in range(4):
            top, left = rng.integers(0, mask.shape[0] - 64), rng.integers(0, mask.shape[1] - 64)
            images.append(image[top : top + 64, left : left + 64])
            masks.append(mask[top : top + 64, left : left + 64, None])
    return np.stack(images), np.stack(masks)


def main():
    args = get_args()
    os.environ["KERAS_BACKEND"] = args.backend
    import quiet_startup  # noqa: F401  (drops TensorFlow's start-up noise)
    import keras
    import numpy as np

    import devices
    import training
    from drive_data import find_drive_dir_for_checks, load_split

    drive_dir = find_drive_dir_for_checks(args.data_dir)
    if drive_dir is None:
        sys.exit("error: DRIVE not found; pass --data-dir or set DRIVE_DIR.")
    print(f"backend {keras.backend.backend()}, Keras {keras.__version__}, {os.cpu_count()} CPUs, "
          f"accelerator: {training.accelerator_present()}")
    # The settings `python baseline_aug.py` would train with on this machine: the blog's recipe
    # (batch 16 of 64x64 crops, 125 steps per epoch) and the --jit / --precision auto choices.
    script_args = training.get_parser("", "baseline_aug").parse_args(["--data-dir", str(drive_dir)])
    config = training.resolve_config(script_args, "scratch", True, "baseline_aug")
    data = load_split(drive_dir, "training")
    batches = CropCounter(training.CropBatches(data.images, data.manual1, config))
    ours = timed(batches.next, args.repeats * 10)
    rng = np.random.default_rng(0)
    reference = timed(lambda: reference_batch(drive_dir, data.ids, rng), args.repeats)
    ours_median, reference_median = statistics.median(ours), statistics.median(reference)
    print(f"(a) pipeline, project:   {1 / ours_median:8.1f} batches/s, {describe(ours)}")
    print(f"    pipeline, reference: {1 / reference_median:8.1f} batches/s, {describe(reference)}")
    print(f"    project / reference speed: {reference_median / ours_median:.1f}x (target >= 10x)")

    x, y = batches.dataset[0]
    step_medians = {}
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        model = training.build_model(config)
        training.compile_model(model, {**config, "jit": jit})
        steps = timed(lambda: model.train_on_batch(x, y), args.repeats, warmup=3)
        step_medians[jit] = statistics.median(steps)
        print(f"(b) training step (batch 16 of 64x64), XLA {'on ' if jit else 'off'}: {describe(steps)}")
    default_jit = config["jit"]
    step_median = step_medians[default_jit]
    print(f"    the training scripts' default (--jit auto) is XLA {'on' if default_jit else 'off'} here: "
          f"{step_median:.3f} s per step (CPU target <= 1.2 s); XLA on / off: "
          f"{step_medians[True] / step_medians[False]:.2f}x the time")
    print(f"    pipeline makes batches {step_median / ours_median:.0f}x faster than the step uses them (target >= 10x)")
    if not args.skip_epochs:
        precisions = ["float32"] + (["bfloat16"] if devices.native_bfloat16() else [])
        minutes = {precision: time_epochs(batches.dataset, {**config, "precision": precision}, x, y, args.repeats)
                   for precision in precisions}
        missing = "" if "bfloat16" in minutes else " (bfloat16 not native here: no GPU, no avx512_bf16 or amx_bf16)"
        print("100 epochs projected: " + ", ".join(f"{precision} {value:.0f} min" for precision, value in minutes.items())
              + missing)


def time_epochs(dataset, config, x, y, repeats):
    """(c) A warm-up epoch, then two timed epochs through model.fit as the training scripts run
    them in config's precision, and the train_on_batch step median in the same run; returns the
    projected minutes of 100 epochs."""
    import keras

    import training

    training.set_precision(config)
    keras.utils.set_random_seed(0)
    model = training.build_model(config)
    training.compile_model(model, config)
    steps = config["steps_per_epoch"]

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.started)

    seconds = []
    training.fit_epochs(model, dataset, 0, 3, callbacks=[EpochTimer()], verbose=0)
    step_median = statistics.median(timed(lambda: model.train_on_batch(x, y), repeats, warmup=2))
    keras.mixed_precision.set_global_policy("float32")
    timed_epochs = seconds[1:]
    per_step = [epoch / steps for epoch in timed_epochs]
    print(f"(c) {config['precision']}, XLA {'on' if config['jit'] else 'off'}: warm-up epoch {seconds[0]:.1f} s, then "
          f"{', '.join(f'{epoch:.1f}' for epoch in timed_epochs)} s ({', '.join(f'{value:.3f}' for value in per_step)} "
          f"s/step); train_on_batch step median {step_median:.3f} s, so an epoch is "
          f"{statistics.mean(timed_epochs) / (steps * step_median):.2f}x {steps} steps (target <= 1.10x)")
    return 100 * statistics.mean(timed_epochs) / 60


class CropCounter:
    """Steps through a CropBatches dataset, one batch per call."""

    def __init__(self, dataset):
        self.dataset, self.step = dataset, 0

    def next(self):
        self.step += 1
        return self.dataset[self.step % len(self.dataset)]


if __name__ == "__main__":
    main()
