"""Segment the 20 DRIVE test images whole, score them inside the FOV, and draw the results.

    python predict.py                                   # the shipped scratch+aug weights, with TTA
    python predict.py --no-tta                          # one pass per image, the blog's method
    python predict.py --precision bfloat16              # 2x faster where bfloat16 is native
    python predict.py --run output/baseline_aug         # the model a training run produced
    python predict.py --weights my.weights.h5 --encoder scratch --name mine
    python predict.py --images photos/                  # your own fundus photographs

The four flips of each image are averaged (test-time augmentation, --tta) by default: on
training images held out from training, it raised the AUC of a model trained with the default
model's recipe (README, Results). --no-tta makes one pass per image, as the blog did, and takes
about a quarter of the segmentation time. --precision bfloat16 computes in bfloat16 with the same
weights: on held-out training images it scored within 0.0001 of float32, at half the time on this
project's CPU (README, Performance); float32 stays the default because it gives the same numbers on
every machine, and bfloat16 is slower than float32 where the hardware lacks it.

DRIVE mode writes output/<name>/test/: NN_prob.npy (float32 584x565 probabilities), NN_prob.png,
NN_prediction.png and NN_difference.png per image, difference_grid.png, curves.png,
metrics.json (pooled and per image, vs 1st_manual and 2nd_manual) and per_image.csv; then it
regenerates output/results.md and output/results.json from every evaluated run.
--images mode writes output/<name>/images/: per photograph a probability map, a binary vessel
map and an overlay. Without DRIVE and without --images it runs on scikit-image's sample retina.
"""

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

import devices
import report
import segment
from drive_data import DEFAULT_INPUT_DIR, find_drive_dir_or_none, load_split, read_binary_map, read_rgb_image
from metrics import evaluate, roc_and_pr_curves

PROJECT_DIR = Path(__file__).resolve().parent
SHIPPED_WEIGHTS = PROJECT_DIR / "weights" / "unet_aug_lr_drop.weights.h5"
OUTPUT_DIR = PROJECT_DIR / "output"
THRESHOLD = 0.5
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".ppm", ".bmp", ".gif"}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds each flag's default to its help, unless it is None or the help already says it."""

    def _get_help_string(self, action):
        said = action.default is None or "default" in action.help
        return action.help if said else super()._get_help_string(action)


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
    parser.add_argument("--run", help="training run folder (output/<run-name>); reads its config and weights")
    parser.add_argument("--weights", help=f"weights file (default: {SHIPPED_WEIGHTS.relative_to(PROJECT_DIR)})")
    parser.add_argument("--encoder", choices=("scratch", "vgg16"), default="scratch", help="architecture of --weights")
    parser.add_argument("--name", help="output name (default: the run folder's name or the weights file's stem, "
                                       "plus _tta with --tta and _bfloat16 with --precision bfloat16)")
    parser.add_argument("--data-dir", help="DRIVE folder (default: $DRIVE_DIR, input/DRIVE or input/)")
    parser.add_argument("--images", help="a photograph or a folder of them, instead of DRIVE")
    parser.add_argument("--masks", help="folder of FOV masks for --images, matched by file stem (default: estimated)")
    parser.add_argument("--labels", help="folder of vessel annotations for --images, matched by file stem, to score")
    parser.add_argument("--output-dir", default=str(OUTPUT_DIR), help="where output/<name>/ goes")
    parser.add_argument("--threshold", type=float, default=THRESHOLD, help="probability that counts as vessel")
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True,
                        help="average the predictions of the four flips (chosen on held-out training images); "
                             "--no-tta is the blog's single pass, four times faster")
    parser.add_argument("--precision", choices=tuple(segment.PRECISIONS), default="float32",
                        help="arithmetic of the forward pass; bfloat16 was 2x faster on an AVX-512-BF16 CPU, and is "
                             "slower where bfloat16 is not native (the output folder gets _bfloat16)")
    parser.add_argument("--batch-size", type=int, default=segment.PREDICT_BATCH_SIZE, help="images per forward pass")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    return parser.parse_args(argv)


def resolve_model(args):
    """(weights path, encoder, dropout, model name, training facts) from --run / --weights / the default.

    Training facts (for the results table) come from a run folder's config.json and train.log,
    or from the <stem>.config.json and <stem>.train.log that ship_weights.py puts beside shipped
    weights; weights without either have none, and --encoder says their architecture.
    """
    if args.run:
        weights, encoder, dropout = segment.run_settings(args.run)
        run_dir = Path(args.run)
        training = report.training_facts(run_dir / "config.json", run_dir / "train.log")
        return weights, encoder, dropout, run_dir.resolve().name, training
    weights = Path(args.weights) if args.weights else SHIPPED_WEIGHTS
    if not weights.is_file():
        hint = ("Train them with `python baseline_aug.py`, then run `python predict.py --run output/baseline_aug`."
                if not args.weights else "Check the path.")
        raise FileNotFoundError(f"Weights file {weights} does not exist. {hint}")
    stem = weights.name.removesuffix(".weights.h5").removesuffix(".h5")
    config_path = weights.with_name(f"{stem}.config.json")
    if config_path.is_file():
        training = report.training_facts(config_path, weights.with_name(f"{stem}.train.log"))
        return weights, training["encoder"], training["dropout"], stem, training
    return weights, args.encoder, 0.1, stem, None


def output_name(args, model_name):
    """--name, or the model's name plus each inference setting, so that no setting refuses another."""
    suffixes = ("_tta" if args.tta else "") + ("_bfloat16" if args.precision == "bfloat16" else "")
    return args.name or model_name + suffixes


def prepare_output(folder, overwrite):
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"{folder} already holds results; pass --overwrite to replace them.")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_probability_png(path, probabilities):
    Image.fromarray(np.round(probabilities * 255).astype(np.uint8)).save(path)


def predict_drive(model, drive_dir, out_dir, args, weights, training):
    """Segment and score the DRIVE test split; returns the metrics dict."""
    test = load_split(drive_dir, "test")
    print(f"Segmenting the {len(test.ids)} DRIVE test images in {drive_dir}")
    started = time.perf_counter()
    probabilities = segment.segment_images(model, test.images, batch_size=args.batch_size, tta=args.tta)
    segmented = time.perf_counter()
    scores = {
        "vs_1st_manual": evaluate(probabilities, test.manual1, test.masks, args.threshold),
        "vs_2nd_manual": evaluate(probabilities, test.manual2, test.masks, args.threshold),
    }
    scored = time.perf_counter()
    metrics = {"weights": str(weights), "training": training, "tta": args.tta, "precision": args.precision,
               "threshold": args.threshold,
               "ids": test.ids, **scores}
    for index, image_id in enumerate(test.ids):
        np.save(out_dir / f"{image_id:02d}_prob.npy", probabilities[index])
        save_probability_png(out_dir / f"{image_id:02d}_prob.png", probabilities[index])
        report.save_image_figures(out_dir / f"{image_id:02d}", test.images[index], probabilities[index],
                                  test.manual1[index], test.masks[index], args.threshold, f"DRIVE test image {image_id:02d}")
    title = f"{out_dir.parent.name}, {len(test.ids)} DRIVE test images vs 1st_manual"
    report.save_difference_grid(out_dir / "difference_grid.png", probabilities, test.manual1, test.masks,
                                test.ids, args.threshold, title)
    pooled = scores["vs_1st_manual"]["pooled"]
    report.save_curves(out_dir / "curves.png", *roc_and_pr_curves(probabilities, test.manual1, test.masks),
                       pooled["roc_auc"], pooled["pr_auc"], title)
    with open(out_dir / "per_image.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "auc_1st", "auc_2nd", "pr_auc_1st", "f1_1st", "accuracy_1st", "sensitivity_1st", "specificity_1st"])
        for image_id, first, second in zip(test.ids, scores["vs_1st_manual"]["per_image"], scores["vs_2nd_manual"]["per_image"]):
            at = first["at_threshold"]
            writer.writerow([image_id] + [f"{value:.5f}" for value in (first["roc_auc"], second["roc_auc"], first["pr_auc"],
                                                                       at["f1"], at["accuracy"], at["sensitivity"], at["specificity"])])
    # Wall seconds of each phase, for bench/bench_predict.py and for curious users.
    metrics["seconds"] = {"segmentation": round(segmented - started, 2), "scoring": round(scored - segmented, 2),
                          "files_and_figures": round(time.perf_counter() - scored, 2)}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"Seconds: segmentation {metrics['seconds']['segmentation']}, scoring {metrics['seconds']['scoring']}, "
          f"files and figures {metrics['seconds']['files_and_figures']}")
    return metrics


def print_summary(metrics):
    print(f"{'annotation':<14}{'ROC AUC':>9}{'PR AUC':>9}{'F1':>8}{'Acc':>8}{'Se':>8}{'Sp':>8}")
    for key in ("vs_1st_manual", "vs_2nd_manual"):
        pooled = metrics[key]["pooled"]
        at = pooled["at_threshold"]
        print(f"{key[3:]:<14}{pooled['roc_auc']:>9.4f}{pooled['pr_auc']:>9.4f}{at['f1']:>8.4f}"
              f"{at['accuracy']:>8.4f}{at['sensitivity']:>8.4f}{at['specificity']:>8.4f}")


def list_photographs(images):
    path = Path(images)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"--images {path} is neither a file nor a folder.")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"No images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {path}.")
    return files


def match_by_stem(folder, stem):
    matches = sorted(Path(folder).glob(f"{stem}.*")) if folder else []
    return matches[0] if matches else None


def predict_photographs(model, files, out_dir, args):
    """Segment each photograph on its own, streaming; returns the number of failures."""
    failures = 0
    for number, path in enumerate(files, start=1):
        try:
            image = read_rgb_image(path)
            mask_path = match_by_stem(args.masks, path.stem)
            fov = read_binary_map(mask_path).astype(bool) if mask_path else segment.estimate_fov(image)
            probabilities = segment.segment_photograph(model, image, fov, tta=args.tta)
        except ValueError as error:
            print(f"[{number}/{len(files)}] skipped {path}: {error}", file=sys.stderr)
            failures += 1
            continue
        np.save(out_dir / f"{path.stem}_prob.npy", probabilities)
        save_probability_png(out_dir / f"{path.stem}_prob.png", probabilities)
        binary = probabilities >= args.threshold
        Image.fromarray(binary.astype(np.uint8) * 255).save(out_dir / f"{path.stem}_vessels.png")
        report.save_overlay(out_dir / f"{path.stem}_overlay.png", image, binary)
        label_path = match_by_stem(args.labels, path.stem)
        summary = ""
        if label_path:
            scores = evaluate(probabilities, read_binary_map(label_path), fov, args.threshold)
            (out_dir / f"{path.stem}_metrics.json").write_text(json.dumps(scores, indent=2))
            summary = f", AUC {scores['pooled']['roc_auc']:.4f}"
        print(f"[{number}/{len(files)}] {path.name}: {image.shape[1]}x{image.shape[0]}{summary}")
    return failures


def main(args):
    if args.batch_size < 1:
        raise ValueError("--batch-size must be at least 1.")
    weights, encoder, dropout, model_name, training = resolve_model(args)
    name = output_name(args, model_name)
    drive_dir = None if args.images else find_drive_dir_or_none(args.data_dir)
    if args.data_dir and drive_dir is None and not args.images:
        raise FileNotFoundError(f"No DRIVE database in {args.data_dir}.")
    sample = args.images is None and drive_dir is None
    out_dir = Path(args.output_dir) / name / ("test" if drive_dir else "images")
    # Load first: a wrong weights file must leave nothing behind.
    model = segment.load_model(weights, encoder, dropout, args.precision)
    if args.precision == "bfloat16" and not devices.native_bfloat16():
        print("warning: this machine shows no native bfloat16 (no GPU, no avx512_bf16 or amx_bf16 CPU flag); "
              "--precision bfloat16 will likely be slower than float32 here.", file=sys.stderr)
    prepare_output(out_dir, args.overwrite)
    if drive_dir:
        metrics = predict_drive(model, drive_dir, out_dir, args, weights, training)
        print_summary(metrics)
        report.write_results_table(Path(args.output_dir))
        print(f"Wrote {out_dir} and {Path(args.output_dir) / 'results.md'}")
        return 0
    if sample:
        import skimage.data

        files = [Path(skimage.data.__file__).parent / "retina.jpg"]
        print(f"No DRIVE found (unzip it into {DEFAULT_INPUT_DIR}, see input/README.md); "
              f"segmenting scikit-image's sample retina {files[0]} instead.")
    else:
        files = list_photographs(args.images)
    failures = predict_photographs(model, files, out_dir, args)
    print(f"Wrote {out_dir}" + (f"; {failures} image(s) could not be processed" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main(get_args()))
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        sys.exit(f"error: {error}")
