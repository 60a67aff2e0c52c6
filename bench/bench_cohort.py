"""Benchmark predict.py --images on cohorts: speed beside the network's own, memory, kill -9.

    python bench/bench_cohort.py                  # about 25 minutes on 2 CPU cores
    python bench/bench_cohort.py --count 40 --tta-count 16 --cohort 200
    python bench/bench_cohort.py --speed-only --count 16 --tta-count 8 --bfloat16-count 4   # 4 minutes

Needs ../shared/CHASEDB1 (and ../shared/DRIVE for the size buckets' effect); says so and stops
without them. It builds a folder of --count CHASE-size photographs of mixed sizes (CHASE_DB1's
photographs resized by 0.9-1.1), then prints, each beside its reference:

1. One pass (--no-tta, FOV 540, float32, vessels only, no figures): wall seconds per photograph
   of the streaming pipeline (batches of 1, the CPU default, and of 4), against the compiled
   forward pass alone on the same network inputs in the same process, and against 1.1.0's way
   (each photograph read, segmented with model.predict_on_batch, saved and measured in turn, by
   today's functions). Each reference is timed just before and just after the stream, and their
   mean is the reference, since this kind of virtual machine drifts by 10-20% within minutes.
2. The same with TTA, on --tta-count photographs, against four forward passes each: the stream
   with each photograph's four flips in one call (the CPU default) and in four calls of 1.
3. Throughput in photographs per hour, float32 and bfloat16 (on --bfloat16-count photographs),
   the pipeline's and 1.1.0's; and the CPU seconds of the work before and after the network per
   photograph, in one thread without the network, what a machine must spend beside it.
4. Peak resident memory at photograph 20 and at photograph --cohort, with labels and without,
   of `predict.py --images` runs in subprocesses (at FOV 270, to keep them short).
5. Kill -9 twice, then the same command again, against an unbroken run: manifest lines per
   photograph, truncated files, and the largest difference between the maps.
6. The size buckets' effect: the pooled AUC with inputs padded to multiples of 32 (the buckets)
   and of 16 (1.1.0), on CHASE_DB1 and on DRIVE's 20 training photographs (the test photographs
   are kept for final scores), and the streaming pooled AUC against the exact one.
7. A local two-worker Dask cluster against the local run: the manifest and the maps.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from vesselseg import quiet_startup  # noqa: E402, F401  (before TensorFlow loads)
from vesselseg.cli import HelpFormatter, summary  # noqa: E402

SHARED = PROJECT_DIR.parent / "shared"
CHASE = SHARED / "CHASEDB1"
DRIVE_TRAINING = SHARED / "DRIVE" / "training"
# The resize factors that make CHASE_DB1's photographs a folder of mixed sizes.
SIZE_FACTORS = (1.0, 0.9, 1.1, 0.95, 1.05)


def get_args():
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--count", type=int, default=40, help="photographs timed in one pass")
    parser.add_argument("--tta-count", type=int, default=16, help="photographs timed with TTA")
    parser.add_argument("--bfloat16-count", type=int, default=10, help="photographs timed in bfloat16")
    parser.add_argument("--cohort", type=int, default=200, help="photographs of the memory and kill -9 runs")
    parser.add_argument("--cluster-count", type=int, default=8, help="photographs of the cluster comparison")
    parser.add_argument("--bucket-count", type=int, help="photographs per set for the buckets' effect (default: all)")
    parser.add_argument("--speed-only", action="store_true", help="print sections 1-3 only, a few minutes")
    return parser.parse_args()


def mixed_folder(folder, count, width=None):
    """`count` JPEGs made from CHASE_DB1's photographs, resized by SIZE_FACTORS in turn (or to
    `width` pixels wide), with their masks and annotations resized alike."""
    from PIL import Image

    sources = sorted((CHASE / "images").glob("*.jpg"))
    for sub in ("images", "masks", "labels"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        source = sources[index % len(sources)]
        stem = f"{source.stem}_{index:03d}"
        image = Image.open(source)
        size = (
            (width, round(image.height * width / image.width))
            if width
            else tuple(round(side * SIZE_FACTORS[index % len(SIZE_FACTORS)]) for side in image.size)
        )
        image.resize(size, Image.BILINEAR).save(folder / "images" / f"{stem}.jpg", quality=95)
        for sub, companion in (
            ("masks", CHASE / "mask" / f"{source.stem}.png"),
            ("labels", CHASE / "1st_manual" / f"{source.stem}_1stHO.png"),
        ):
            if companion.is_file():
                Image.open(companion).convert("L").resize(size, Image.NEAREST).save(folder / sub / f"{stem}.png")
    return folder


def load(precision, clinical=False):
    from vesselseg.cohort.run import ModelSpec, load_networks
    from vesselseg.inference.models import IMAGES_DEFAULT_WEIGHTS, resolve_models

    spec = ModelSpec(tuple(resolve_models(default=IMAGES_DEFAULT_WEIGHTS)), None, precision, clinical)
    return spec, load_networks(spec)


def stream_seconds(paths, networks, options, out_dir, batch_size=1):
    """(wall seconds, forward totals) of the pipeline on `paths`, after one photograph to trace."""
    from vesselseg.cohort.pipeline import segment_stream

    segment_stream(paths[:1], networks, options, out_dir, lambda record: None, batch_size)
    started = time.perf_counter()
    totals = segment_stream(paths, networks, options, out_dir, lambda record: None, batch_size)
    return time.perf_counter() - started, totals


def forward_alone_seconds(paths, networks, options):
    """Seconds of the compiled forward pass alone on each photograph's network inputs (its views,
    one call per photograph and FOV width), summed: the network's own time for the folder."""
    from vesselseg.cohort.work import prepare, views
    from vesselseg.data.image_files import Companions

    normalisations = {key: normalisation for key, (_, normalisation) in networks.items()}
    total = 0.0
    for path in paths:
        photograph = prepare(path, options, normalisations, Companions(None), Companions(None))
        for request in photograph.requests:
            batch = np.stack(views(request.network_input, options.tta))
            forward = networks[request.key][0]
            started = time.perf_counter()
            forward(batch)
            total += time.perf_counter() - started
    return total


def old_way_seconds(paths, precision, out_dir, tta=False):
    """Seconds of 1.1.0's --images loop on `paths`: read, estimate the FOV, segment with
    model.predict_on_batch (segment.segment_photograph) and the whole network, as 1.1.0 had no
    other, save the maps, measure."""
    from PIL import Image

    from vesselseg.cohort.work import measure_map
    from vesselseg.data.image_reading import read_rgb_image
    from vesselseg.inference import segment
    from vesselseg.inference.models import IMAGES_DEFAULT_WEIGHTS, load_models, resolve_models

    choices = resolve_models(default=IMAGES_DEFAULT_WEIGHTS)
    model = load_models(choices, precision, whole=True)
    normalisation = choices[0].normalisation

    def one(path):
        image = read_rgb_image(path)
        fov = segment.estimate_fov(image)
        probabilities = segment.segment_photograph(model, image, fov, tta=tta, normalisation=normalisation)
        np.save(out_dir / f"{path.stem}_prob.npy", probabilities)
        Image.fromarray(np.round(probabilities * 255).astype(np.uint8)).save(out_dir / f"{path.stem}_prob.png")
        Image.fromarray((probabilities >= 0.5).astype(np.uint8) * 255).save(out_dir / f"{path.stem}_vessels.png")
        measure_map(path.name, probabilities >= 0.5, fov)

    one(paths[0])
    started = time.perf_counter()
    for path in paths:
        one(path)
    return time.perf_counter() - started


def beside_seconds(paths, networks, out_dir):
    """(CPU seconds before the network, after it) per photograph, summed over `paths` and divided:
    work.prepare and work.finish (one pass, no figures) in this thread alone, timed with
    time.process_time from network maps made beforehand, so that the network's own work and its
    threads are left out."""
    from vesselseg.cohort.pipeline import one_blas_thread
    from vesselseg.cohort.work import Options, finish, prepare, undo_views, views
    from vesselseg.data.image_files import Companions

    options = Options(tta=False, figures=False)
    normalisations = {key: normalisation for key, (_, normalisation) in networks.items()}

    def prepared(path):
        return prepare(path, options, normalisations, Companions(None), Companions(None))

    maps = {}
    for path in paths:
        request = prepared(path).requests[0]
        outputs = networks[request.key][0](np.stack(views(request.network_input, False)))
        maps[path] = [undo_views(list(outputs), request.network_input.shape, False)]
    finish(prepared(paths[0]), maps[paths[0]], options, out_dir, networks)
    before = after = 0.0
    # With one BLAS thread, as pipeline.segment_stream runs this work.
    with one_blas_thread():
        for path in paths:
            started = time.process_time()
            photograph = prepared(path)
            middle = time.process_time()
            finish(photograph, maps[path], options, out_dir, networks)
            before, after = before + middle - started, after + time.process_time() - middle
    return before / len(paths), after / len(paths)


def around(reference, measured):
    """(reference's mean, its two figures, measured's result): `reference()` timed just before and
    just after `measured()`, so that a machine whose speed drifts over minutes (this virtual
    machine's does, by 10-20%) drifts under both alike."""
    before = reference()
    result = measured()
    after = reference()
    return (before + after) / 2, (before, after), result


def spread(pair, count):
    return f"{pair[0] / count:.3f}-{pair[1] / count:.3f}"


def speed(folder, args, work):
    """Sections 1-3. Each reference (the forward pass alone, 1.1.0's way) is timed before and after
    the stream it is compared with, and the mean of the two is the reference."""
    from vesselseg.cohort.work import TTA_VIEWS, Options

    paths = sorted((folder / "images").glob("*.jpg"))
    rows = {}
    for precision, count in (("float32", args.count), ("bfloat16", args.bfloat16_count)):
        _, networks = load(precision)
        chosen = paths[:count]
        options = Options(tta=False, figures=False)
        alone, alones, (old, olds, (wall, totals)) = around(
            lambda: forward_alone_seconds(chosen, networks, options),
            lambda: around(
                lambda: old_way_seconds(chosen, precision, work / f"old_{precision}"),
                lambda: stream_seconds(chosen, networks, options, work / f"one_{precision}"),
            ),
        )
        rows[precision] = (len(chosen), wall, old, olds)
        print(
            f"one pass, {precision}, {len(chosen)} photographs: {wall / len(chosen):.3f} s each; the compiled forward "
            f"pass alone {alone / len(chosen):.3f} s (before and after: {spread(alones, len(chosen))} s; ratio "
            f"{wall / alone:.2f}, target at most 1.15); inside the stream {totals['seconds'] / len(chosen):.3f} s in "
            f"{totals['calls']} calls; 1.1.0's way {old / len(chosen):.3f} s ({spread(olds, len(chosen))} s)",
            flush=True,
        )
        if precision == "float32":
            before, after = beside_seconds(chosen, networks, work / "beside")
            print(
                f"CPU beside the network, one pass, per photograph, one thread: {before:.3f} s before it (read, FOV, "
                f"quality, normalise, rescale), {after:.3f} s after it (maps back, files, map quality, measures)",
                flush=True,
            )
            batched, totals = stream_seconds(chosen[:12], networks, options, work / f"one_{precision}", batch_size=4)
            print(
                f"one pass, float32, batches of 4, {len(chosen[:12])} photographs: {batched / len(chosen[:12]):.3f} s each, "
                f"the forward pass inside the stream {totals['seconds'] / len(chosen[:12]):.3f} s in {totals['calls']} calls",
                flush=True,
            )
            chosen = paths[: args.tta_count]
            options = Options(tta=True, figures=False)
            # The four flips in one call: predict.py's batch with TTA on a CPU.
            alone, alones, (wall, totals) = around(
                lambda: forward_alone_seconds(chosen, networks, options),
                lambda: stream_seconds(chosen, networks, options, work / "tta", batch_size=TTA_VIEWS),
            )
            singles, _ = stream_seconds(chosen, networks, options, work / "tta", batch_size=1)
            old = old_way_seconds(chosen, precision, work / "old_tta", tta=True)
            print(
                f"TTA, float32, {len(chosen)} photographs: {wall / len(chosen):.3f} s each; four forward passes alone "
                f"{alone / len(chosen):.3f} s (before and after: {spread(alones, len(chosen))} s; ratio "
                f"{wall / alone:.2f}, target at most 1.1); inside the stream {totals['seconds'] / len(chosen):.3f} s "
                f"in {totals['calls']} calls; the four flips in four calls {singles / len(chosen):.3f} s (ratio "
                f"{singles / alone:.2f}); 1.1.0's way {old / len(chosen):.3f} s",
                flush=True,
            )
    for precision, (count, wall, old, olds) in rows.items():
        print(
            f"throughput, one pass, {precision}: {3600 * count / wall:.0f} photographs per hour; 1.1.0's way "
            f"{3600 * count / old:.0f} ({old / wall:.2f}x; before and after the stream "
            f"{3600 * count / olds[0]:.0f} and {3600 * count / olds[1]:.0f})",
            flush=True,
        )


def peak_rss_mib(pid):
    """The process's peak resident memory so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def manifest_lines(out):
    path = out / "manifest.jsonl"
    return len(path.read_text().splitlines()) if path.is_file() else 0


def predict_command(folder, out_root, labels):
    command = [sys.executable, str(PROJECT_DIR / "predict.py"), "--images", str(folder / "images"), "--quiet"]
    command += ["--no-tta", "--no-clinical", "--no-figures", "--fov-diameters", "270", "--output-dir", str(out_root)]
    return command + (["--labels", str(folder / "labels"), "--masks", str(folder / "masks")] if labels else [])


def output_folder(root, folder):
    """Where predict_command(folder, root, ...) writes: predict.py's own names for the model's
    settings and for the folder, so that they follow its default model."""
    import predict
    from vesselseg.inference.models import IMAGES_DEFAULT_WEIGHTS, resolve_models

    args = predict.get_args(predict_command(folder, root, labels=False)[2:])
    choices = resolve_models(args.run, args.weights, args.encoder, default=IMAGES_DEFAULT_WEIGHTS)
    name = predict.output_name(args, "+".join(choice.name for choice in choices))
    return root / name / predict.images_folder_name(args)


def run_until(command, out, stop_at=None):
    """Run `command`; with `stop_at`, SIGKILL it once the manifest has that many lines. Returns
    (peak MiB when the manifest reached 20 lines, peak MiB at the end, exit status)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    at_twenty, final = None, float("nan")
    while process.poll() is None:
        lines = manifest_lines(out)
        if at_twenty is None and lines >= 20:
            at_twenty = peak_rss_mib(process.pid)
        if stop_at is not None and lines >= stop_at:
            os.kill(process.pid, signal.SIGKILL)
            break
        try:
            value = peak_rss_mib(process.pid)
        except FileNotFoundError:
            break
        # An exited process that has not been waited for shows no memory.
        final = value if value == value else final
        time.sleep(0.05)
    process.wait()
    return at_twenty, final, process.returncode


def memory_and_kills(folder, args, work):
    """Sections 4 and 5."""
    from PIL import Image

    outputs = {}
    for labels in (False, True):
        root = work / f"memory_{labels}"
        out = output_folder(root, folder)
        at_twenty, final, status = run_until(predict_command(folder, root, labels), out)
        if at_twenty is None:
            sys.exit(f"predict.py exited with status {status} before {out} held 20 manifest lines.")
        outputs[labels] = out
        print(
            f"peak RSS, {args.cohort} photographs, {'with' if labels else 'without'} labels: {at_twenty:.0f} MiB at "
            f"photograph 20, {final:.0f} MiB at the end ({100 * (final / at_twenty - 1):+.1f}%, target within 10%); "
            f"exit {status}",
            flush=True,
        )
    root = work / "killed"
    out = output_folder(root, folder)
    command = predict_command(folder, root, False)
    for fraction in (0.3, 0.65):
        run_until(command, out, stop_at=int(fraction * args.cohort))
    run_until(command, out)
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    names = [record["image"] for record in records]
    done = {record["image"] for record in records if record["status"] == "done"}
    truncated, largest = 0, 0.0
    for path in sorted(out.glob("*_prob.npy")):
        try:
            difference = np.abs(np.load(path) - np.load(outputs[False] / path.name)).max()
            largest = max(largest, float(difference))
            for suffix in ("_prob.png", "_vessels.png", "_fov.png"):
                Image.open(out / path.name.replace("_prob.npy", suffix)).load()
        except (OSError, ValueError):
            truncated += 1
    reference = {json.loads(line)["image"] for line in (outputs[False] / "manifest.jsonl").read_text().splitlines()}
    print(
        f"kill -9 twice, then rerun, {args.cohort} photographs: {len(done)} done, {len(names)} manifest lines for "
        f"{len(set(names))} photographs, {truncated} truncated files, temporary files left "
        f"{len(list(out.glob('*.tmp-*')))}; largest map difference from the unbroken run {largest:.2e} (target 1e-6); "
        f"same photographs as the unbroken run: {set(names) == reference}",
        flush=True,
    )


def pooled_auc(folder_images, masks, labels, networks, out_dir, multiple, count=None):
    """(streaming AUC, exact AUC) of the pipeline on a folder, network inputs padded to `multiple`."""
    from vesselseg.cohort import forward
    from vesselseg.cohort.pipeline import segment_stream
    from vesselseg.cohort.scores import StreamingScores
    from vesselseg.cohort.tables import exact_pooled
    from vesselseg.cohort.work import Options, read_companion
    from vesselseg.data.image_files import Companions

    forward.BUCKET_MULTIPLE = multiple
    out_dir.mkdir(parents=True, exist_ok=True)
    options = Options(tta=False, figures=False, masks=str(masks), labels=str(labels))
    scores = StreamingScores(0.5)
    paths = sorted(path for path in folder_images.iterdir() if path.suffix.lower() in (".jpg", ".tif", ".png"))[:count]
    segment_stream(paths, networks, options, out_dir, lambda record: None, 1, scores)
    mask_files, label_files = Companions(masks), Companions(labels)
    maps = []
    for path in paths:
        probabilities = np.load(out_dir / f"{path.stem}_prob.npy")
        mask = read_companion(mask_files.find(path), path, probabilities.shape) > 0
        maps.append((probabilities, read_companion(label_files.find(path), path, probabilities.shape), mask))
    forward.BUCKET_MULTIPLE = 32
    return scores.pooled()["roc_auc"], exact_pooled(maps, 0.5)["roc_auc"]


def buckets(work, count):
    """Section 6."""
    from vesselseg.unet import SIZE_MULTIPLE

    _, networks = load("float32")
    sets = {"CHASE_DB1": (CHASE / "images", CHASE / "mask", CHASE / "1st_manual")}
    if DRIVE_TRAINING.is_dir():
        sets["DRIVE training"] = (DRIVE_TRAINING / "images", DRIVE_TRAINING / "mask", DRIVE_TRAINING / "1st_manual")
    for name, (images, masks, labels) in sets.items():
        if name.startswith("DRIVE"):
            images, masks, labels = drive_as_folders(images, masks, labels, work / "drive")
        bucketed = pooled_auc(images, masks, labels, networks, work / f"b32_{name}", 32, count)
        plain = pooled_auc(images, masks, labels, networks, work / f"b16_{name}", SIZE_MULTIPLE, count)
        print(
            f"size buckets, {name}, one pass: exact pooled AUC {bucketed[1]:.5f} padded to 32, {plain[1]:.5f} to 16 "
            f"(difference {bucketed[1] - plain[1]:+.5f}, target within 0.0002); streaming AUC {bucketed[0]:.5f} "
            f"(difference from exact {bucketed[0] - bucketed[1]:+.6f}, target within 0.0001)",
            flush=True,
        )


def drive_as_folders(images, masks, labels, root):
    """DRIVE's training files linked under one stem per photograph, as --images expects."""
    for sub in ("images", "masks", "labels"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for path in sorted(images.glob("*_training.tif")):
        number = path.name[:2]
        (root / "images" / f"{number}.tif").symlink_to(path)
        (root / "masks" / f"{number}.gif").symlink_to(masks / f"{number}_training_mask.gif")
        (root / "labels" / f"{number}.gif").symlink_to(labels / f"{number}_manual1.gif")
    return root / "images", root / "masks", root / "labels"


def cluster(folder, args, work):
    """Section 7."""
    small = mixed_folder(work / "cluster_photographs", args.cluster_count, width=400)
    outs = []
    for name, extra in (("local", []), ("cluster", ["--cluster", "local:2"])):
        root = work / name
        command = predict_command(small, root, True) + extra
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        outs.append((output_folder(root, small), time.perf_counter() - started))
    (here, here_seconds), (there, there_seconds) = outs

    def records(out):
        lines = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
        return {line["image"]: {k: v for k, v in line.items() if k != "seconds"} for line in lines}

    largest = max(float(np.abs(np.load(path) - np.load(there / path.name)).max()) for path in here.glob("*_prob.npy"))
    print(
        f"two-worker local Dask cluster, {args.cluster_count} photographs: manifests equal {records(here) == records(there)}, "
        f"largest map difference {largest:.2e} (target 1e-6); {there_seconds:.0f} s against {here_seconds:.0f} s "
        "locally, start-up of both included",
        flush=True,
    )


def main():
    args = get_args()
    if not (CHASE / "images").is_dir():
        sys.exit(f"{CHASE} not found: this benchmark needs CHASE_DB1's photographs.")
    from vesselseg.training import devices

    print(
        f"{devices.processor_name()}, {os.cpu_count()} cores; native bfloat16: {devices.native_bfloat16()}", flush=True
    )
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        folder = mixed_folder(work / "photographs", max(args.count, args.tta_count, args.bfloat16_count))
        for sub in ("one_float32", "one_bfloat16", "tta", "old_float32", "old_bfloat16", "old_tta", "beside"):
            (work / sub).mkdir()
        speed(folder, args, work)
        if args.speed_only:
            return
        buckets(work, args.bucket_count)
        cohort = mixed_folder(work / "cohort", args.cohort, width=480)
        memory_and_kills(cohort, args, work)
        cluster(folder, args, work)


if __name__ == "__main__":
    main()
