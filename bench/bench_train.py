"""Benchmark the training input pipeline, the training step and whole epochs through model.fit,
and project the faithful recipe's 100 epochs in each precision the machine computes natively.

    python bench/bench_train.py [--repeats 10] [--backend tensorflow|jax] [--skip-epochs]
    python bench/bench_train.py --compare-allocator   # glibc as TensorFlow leaves it vs allocator.py
    python bench/bench_train.py --compare-input       # Keras' autotuned input pipeline vs training_batches.input_stream

Prints (a) batches/s of the project's augmented crop pipeline and of a reference written in
the original's style (each batch reads 4 images from disk with PIL and warps each whole image
with scipy), and their ratio; (b) the median seconds of one faithful training step (batch 16 of
64x64, scratch U-Net) with XLA off and on, and how many times faster the pipeline makes batches
than the step eats them; (c) for float32 and, where it is native (a GPU, or a CPU with
avx512_bf16 or amx_bf16), mixed bfloat16: a warm-up epoch, then two whole 125-step epochs through
model.fit as the training scripts run them, beside the train_on_batch step median measured in the
same run, and where an epoch's time goes: the median step inside model.fit, the time between
steps, how late each epoch's first step began, and the batches the input pipeline makes on its
own threads. Its last line is the
projection, e.g. "100 epochs projected: float32 110 min, bfloat16 58 min".

Run it on an idle machine: on 2 cores any other process takes its share of every step (it warns
when the load average says another process is running).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vesselseg.cli import HelpFormatter, summary  # noqa: E402


def get_args():
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--repeats", type=int, default=10, help="timed repetitions of each measurement")
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"), help="Keras backend")
    parser.add_argument("--data-dir", help="DRIVE folder (default: $DRIVE_DIR, input/ or ../shared/DRIVE)")
    parser.add_argument(
        "--compare-allocator",
        action="store_true",
        help="only compare glibc's allocator as TensorFlow leaves it with the project's setting "
        "(allocator.py): alternating 30-step epochs, with page faults, kernel time and idle CPU "
        "(about 5 minutes on a 2-core CPU)",
    )
    parser.add_argument(
        "--compare-input",
        action="store_true",
        help="only compare Keras' own autotuned tf.data pipeline for the PyDataset with the "
        "project's (training_batches.input_stream): how late each epoch's first step begins, over "
        "--input-epochs epochs of 40 steps each, in the fastest native precision "
        "(about 5 minutes on a 2-core CPU)",
    )
    parser.add_argument("--input-epochs", type=int, default=8, help="epochs per pipeline of --compare-input")
    parser.add_argument(
        "--skip-epochs",
        action="store_true",
        help="leave out (c), the whole epochs (3 epochs per precision: 4 to 10 minutes on a 2-core CPU)",
    )
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
        mask = (
            np.asarray(Image.open(drive_dir / "training" / "1st_manual" / f"{image_id}_manual1.gif"), np.float32) / 255
        )
        angle = np.deg2rad(rng.uniform(-10, 10))
        matrix = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) * rng.uniform(0.9, 1.1)
        center = np.array(mask.shape) / 2
        offset = center - matrix @ center
        image = np.stack(
            [ndimage.affine_transform(image[..., c], matrix, offset, order=1, mode="reflect") for c in range(3)], -1
        )
        mask = ndimage.affine_transform(mask, matrix, offset, order=0, mode="reflect")
        for _ in range(4):
            top, left = rng.integers(0, mask.shape[0] - 64), rng.integers(0, mask.shape[1] - 64)
            images.append(image[top : top + 64, left : left + 64])
            masks.append(mask[top : top + 64, left : left + 64, None])
    return np.stack(images), np.stack(masks)


def main():
    args = get_args()
    os.environ["KERAS_BACKEND"] = args.backend
    import keras
    import numpy as np

    from vesselseg import quiet_startup  # noqa: F401  (drops TensorFlow's start-up noise)
    from vesselseg.data.drive_data import find_drive_dir_for_checks, load_split
    from vesselseg.training import batches as training_batches
    from vesselseg.training import devices
    from vesselseg.training import recipe as training

    drive_dir = find_drive_dir_for_checks(args.data_dir)
    if drive_dir is None:
        sys.exit("error: DRIVE not found; pass --data-dir or set DRIVE_DIR.")
    print(
        f"backend {keras.backend.backend()}, Keras {keras.__version__}, {os.cpu_count()} CPUs, "
        f"accelerator: {training.accelerator_present()}"
    )
    # The settings `python baseline_aug.py` would train with on this machine: the blog's recipe
    # (batch 16 of 64x64 crops, 125 steps per epoch) and the --jit / --precision auto choices.
    script_args = training.get_parser("", "baseline_aug").parse_args(["--data-dir", str(drive_dir)])
    config = training.resolve_config(script_args, "scratch", True, "baseline_aug")
    data = load_split(drive_dir, "training")
    batches = CropCounter(training_batches.CropBatches(data.images, data.manual1, config))
    ours = timed(batches.next, args.repeats * 10)
    rng = np.random.default_rng(0)
    reference = timed(lambda: reference_batch(drive_dir, data.ids, rng), args.repeats)
    ours_median, reference_median = statistics.median(ours), statistics.median(reference)
    print(f"(a) pipeline, project:   {1 / ours_median:8.1f} batches/s, {describe(ours)}")
    print(f"    pipeline, reference: {1 / reference_median:8.1f} batches/s, {describe(reference)}")
    print(f"    project / reference speed: {reference_median / ours_median:.1f}x (target >= 10x)")

    if args.compare_allocator:
        compare_allocator(batches.dataset, config)
        return
    if args.compare_input:
        precision = "bfloat16" if devices.native_bfloat16() else "float32"
        compare_input(batches.dataset, {**config, "precision": precision}, args.input_epochs)
        return
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
    print(
        f"    the training scripts' default (--jit auto) is XLA {'on' if default_jit else 'off'} here: "
        f"{step_median:.3f} s per step (CPU target <= 1.2 s); XLA on / off: "
        f"{step_medians[True] / step_medians[False]:.2f}x the time"
    )
    print(f"    pipeline makes batches {step_median / ours_median:.0f}x faster than the step uses them (target >= 10x)")
    if not args.skip_epochs:
        warn_if_busy()
        precisions = ["float32"] + (["bfloat16"] if devices.native_bfloat16() else [])
        minutes = {
            precision: time_epochs(batches.dataset, {**config, "precision": precision}, x, y, args.repeats)
            for precision in precisions
        }
        missing = "" if "bfloat16" in minutes else " (bfloat16 not native here: no GPU, no avx512_bf16 or amx_bf16)"
        print(
            "100 epochs projected: "
            + ", ".join(f"{precision} {value:.0f} min" for precision, value in minutes.items())
            + missing
        )


def time_epochs(dataset, config, x, y, repeats):
    """(c) A warm-up epoch, then two timed epochs through model.fit as the training scripts run
    them in config's precision, and the train_on_batch step median in the same run; returns the
    projected minutes of 100 epochs."""
    import keras

    from vesselseg.training import batches as training_batches
    from vesselseg.training import recipe as training

    training.set_precision(config)
    keras.utils.set_random_seed(0)
    model = training.build_model(config)
    training.compile_model(model, config)
    steps = config["steps_per_epoch"]

    timer = epoch_timer()
    batches = TimedBatches(dataset)
    training_batches.fit_epochs(model, batches, 0, 3, callbacks=[timer], verbose=0)
    epochs, inside, between, late = timer.epochs, timer.inside, timer.between, timer.late
    step_median = statistics.median(timed(lambda: model.train_on_batch(x, y), repeats, warmup=2))
    keras.mixed_precision.set_global_policy("float32")
    timed_epochs = epochs[1:]
    per_step = [epoch / steps for epoch in timed_epochs]
    print(
        f"(c) {config['precision']}, XLA {'on' if config['jit'] else 'off'}: warm-up epoch {epochs[0]:.1f} s, then "
        f"{', '.join(f'{epoch:.1f}' for epoch in timed_epochs)} s ({', '.join(f'{value:.3f}' for value in per_step)} "
        f"s/step); train_on_batch step median {step_median:.3f} s, so an epoch is "
        f"{statistics.mean(timed_epochs) / (steps * step_median):.2f}x {steps} steps (target <= 1.10x)"
    )
    print(
        f"    where the timed epochs went: step median {statistics.median(inside[steps:]):.3f} s inside model.fit "
        f"(max {max(inside[steps:]):.3f}), {sum(between[steps:]):.2f} s between steps in all, first steps "
        f"{', '.join(f'{value:.2f}' for value in late[1:])} s after their epochs began; the input pipeline "
        f"made each batch in {statistics.median(batches.seconds):.3f} s on {len(batches.threads)} threads of its "
        "own, which share the CPUs with the step"
    )
    return 100 * statistics.mean(timed_epochs) / 60


def compare_allocator(dataset, config, steps=30, rounds=4):
    """Alternate short model.fit epochs between glibc's thresholds as TensorFlow's generator
    dataset leaves them and as allocator.keep_freed_memory() sets them, after a warm-up epoch,
    and print each epoch's seconds per step, page faults, kernel CPU time and idle CPU share."""
    import resource

    import keras

    from vesselseg.training import allocator
    from vesselseg.training import batches as training_batches
    from vesselseg.training import recipe as training

    keras.utils.set_random_seed(0)
    model = training.build_model(config)
    training.compile_model(model, config)
    modes = ["tensorflow"] + ["tensorflow", "kept"] * rounds
    results = {"tensorflow": [], "kept": []}

    class Compare(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.mode = modes[epoch]
            self.usage, self.machine, self.started = (
                resource.getrusage(resource.RUSAGE_SELF),
                cpu_jiffies(),
                time.perf_counter(),
            )

        def on_train_batch_begin(self, batch, logs=None):
            (allocator.keep_freed_memory if self.mode == "kept" else allocator.tensorflow_default)()

        def on_epoch_end(self, epoch, logs=None):
            seconds = (time.perf_counter() - self.started) / steps
            usage, (idle, total) = resource.getrusage(resource.RUSAGE_SELF), cpu_jiffies()
            faults = (usage.ru_minflt - self.usage.ru_minflt) / steps
            kernel = (usage.ru_stime - self.usage.ru_stime) / steps
            idle_share = (idle - self.machine[0]) / max(total - self.machine[1], 1)
            label = "warm-up" if epoch == 0 else self.mode
            print(
                f"    epoch {epoch + 1} ({label}): {seconds:.3f} s/step, {faults:,.0f} page faults/step, "
                f"kernel {kernel:.3f} s/step, CPUs idle {idle_share:.0%}",
                flush=True,
            )
            if epoch:
                results[self.mode].append(seconds)

    print(
        f"Allocator: {len(modes)} epochs of {steps} steps through model.fit, the first a warm-up; 'tensorflow' is "
        "glibc as TensorFlow's generator dataset leaves it, 'kept' is allocator.keep_freed_memory()"
    )
    short = training_batches.CropBatches(dataset.images, dataset.masks, {**config, "steps_per_epoch": steps})
    training_batches.fit_epochs(model, short, 0, len(modes), callbacks=[Compare()], verbose=0, keep_freed_memory=False)
    tensorflow, kept = statistics.median(results["tensorflow"]), statistics.median(results["kept"])
    print(
        f"median s/step: tensorflow {tensorflow:.3f}, kept {kept:.3f}: the project's setting takes "
        f"{kept / tensorflow:.2f}x the time"
    )


def epoch_timer():
    """A model.fit callback that records, in seconds, each epoch (epochs), how late its first step
    began after the epoch did (late), each step (inside) and each gap between steps (between)."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs, self.late, self.inside, self.between = [], [], [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_started, self.step_ended = time.perf_counter(), None

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append(time.perf_counter() - self.epoch_started)

        def on_train_batch_begin(self, batch, logs=None):
            self.step_started = time.perf_counter()
            if self.step_ended is None:
                self.late.append(self.step_started - self.epoch_started)
            else:
                self.between.append(self.step_started - self.step_ended)

        def on_train_batch_end(self, batch, logs=None):
            self.step_ended = time.perf_counter()
            self.inside.append(self.step_ended - self.step_started)

    return EpochTimer()


def compare_input(dataset, config, epochs, steps=40):
    """Train `epochs` short epochs through model.fit from Keras' own autotuned pipeline for the
    PyDataset, then as many from training_batches.input_stream, each with a fresh model, and print how
    late each epoch's first step began: the autotuning thread's sleep delayed some by 30-50 s."""
    import keras

    from vesselseg.training import batches as training_batches
    from vesselseg.training import recipe as training

    short = training_batches.CropBatches(dataset.images, dataset.masks, {**config, "steps_per_epoch": steps})
    training.set_precision(config)
    print(
        f"Input pipelines: {epochs} epochs of {steps} steps each through model.fit, {config['precision']}", flush=True
    )
    for label, autotuned in (("Keras' autotuned pipeline", True), ("training_batches.input_stream", False)):
        keras.utils.set_random_seed(0)
        model = training.build_model(config)
        training.compile_model(model, config)
        timer = epoch_timer()
        training_batches.fit_epochs(model, short, 0, epochs, callbacks=[timer], verbose=0, autotuned_input=autotuned)
        print(
            f"    {label}: first steps began {', '.join(f'{value:.2f}' for value in timer.late)} s after their "
            f"epochs began; epochs {', '.join(f'{value:.1f}' for value in timer.epochs)} s; "
            f"{sum(value > 1 for value in timer.late)} of {epochs} epochs began over 1 s late",
            flush=True,
        )
    keras.mixed_precision.set_global_policy("float32")


def cpu_jiffies():
    """(idle, total) CPU time of the whole machine so far, in clock ticks, from /proc/stat's
    first line; idle counts iowait too."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return fields[3] + fields[4], sum(fields)


def busy_cpus(seconds=2.0):
    """How many CPUs other processes kept busy over `seconds` while this one slept (from
    /proc/stat; None where it does not exist)."""
    if not Path("/proc/stat").is_file():
        return None
    idle_before, total_before = cpu_jiffies()
    time.sleep(seconds)
    idle_after, total_after = cpu_jiffies()
    total = max(total_after - total_before, 1)
    return os.cpu_count() * (total - (idle_after - idle_before)) / total


def warn_if_busy():
    """Warn when other processes keep a CPU busy: on a 2-core machine they slow every step, and
    epochs measured beside them are not the project's figures."""
    busy = busy_cpus()
    if busy is not None and busy > 0.25:
        print(
            f"WARNING: other processes kept {busy:.1f} of {os.cpu_count()} CPUs busy just before the epochs; "
            "the epoch times below include their share."
        )


def TimedBatches(dataset):
    """A copy of the CropBatches `dataset` that records how long each batch takes to make and on
    which thread (model.fit makes them on threads of tf.data, beside the training step)."""
    import threading

    class Timed(type(dataset)):
        def __getitem__(self, step):
            started = time.perf_counter()
            batch = super().__getitem__(step)
            self.seconds.append(time.perf_counter() - started)
            self.threads.add(threading.current_thread().name)
            return batch

    timed_dataset = Timed(dataset.images, dataset.masks, dataset.config)
    timed_dataset.seconds, timed_dataset.threads = [], set()
    return timed_dataset


class CropCounter:
    """Steps through a CropBatches dataset, one batch per call."""

    def __init__(self, dataset):
        self.dataset, self.step = dataset, 0

    def next(self):
        self.step += 1
        return self.dataset[self.step % len(self.dataset)]


if __name__ == "__main__":
    main()
