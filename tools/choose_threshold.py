"""Choose the threshold at which the model's vessel measurements best match the first observer's,
on the 20 DRIVE training images, for measure_agreement.py to use on the test images.

    python tools/choose_threshold.py                     # prints the table, names the threshold
    python tools/measure_agreement.py --threshold 0.35   # then the test images, once, at that threshold

At 0.5 the default model's maps lose thin vessels: shorter skeletons, fewer branch points, more
end points and a larger mean width than 1st_manual (docs/results/measurement.md). This script segments the
training images with the same model and TTA as `python predict.py`, measures its maps at each
candidate threshold (vessel_measures.py, inside the FOV) and 1st_manual, and picks the threshold
with the lowest mean absolute relative difference, averaged over the measures. The test images
play no part. Writes output/choose_threshold/thresholds.md (the table it prints) and caches the
training maps there (training_prob.npz).

The default model was trained on these images, so its maps of them are surer of thin vessels
than of unseen ones: the threshold chosen here errs towards 0.5, if anything.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vesselseg import quiet_startup  # noqa: E402,F401  (before TensorFlow loads: drops its start-up noise)
from vesselseg.cli import HelpFormatter, summary  # noqa: E402
from vesselseg.data.drive_data import find_drive_dir, load_split  # noqa: E402
from vesselseg.inference import segment  # noqa: E402
from vesselseg.inference.models import weights_choice  # noqa: E402
from vesselseg.measurement.agreement import MEASURES, agreement, measure_all  # noqa: E402
from vesselseg.paths import OUTPUT_DIR as PROJECT_OUTPUT_DIR  # noqa: E402
from vesselseg.paths import shipped_weights

DEFAULT_WEIGHTS = shipped_weights("unet_aug_lr_drop")
OUTPUT_DIR = PROJECT_OUTPUT_DIR / "choose_threshold"
# Candidate thresholds: 0.5, the blog's, and the lower ones that keep thin vessels connected.
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55)


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="the model whose maps are measured")
    parser.add_argument(
        "--thresholds",
        type=float,
        nargs="+",
        default=list(THRESHOLDS),
        metavar="T",
        help="candidate thresholds, each strictly between 0 and 1",
    )
    parser.add_argument(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="average the four flips, as `python predict.py` does for the maps measure_agreement.py reads",
    )
    parser.add_argument("--data-dir", help="DRIVE folder (default: $DRIVE_DIR, input/DRIVE or input/)")
    parser.add_argument("--output-dir", default=str(OUTPUT_DIR), help="where thresholds.md and the cached maps go")
    return parser.parse_args(argv)


def training_maps(weights, training, tta, cache):
    """The model's probability maps (N, H, W) of the training images, from `cache` when it holds
    them for the same weights and TTA setting, else segmented and cached (float16)."""
    key = f"{Path(weights).resolve()} tta={tta}"
    if cache.is_file():
        cached = np.load(cache)
        if str(cached["key"]) == key and cached["maps"].shape[0] == len(training.ids):
            print(f"Reusing the training maps in {cache}")
            return cached["maps"].astype(np.float32)
    choice = weights_choice(weights)
    model = segment.load_model(choice.weights, choice.encoder, choice.dropout)
    print(f"Segmenting the {len(training.ids)} DRIVE training images with {weights}")
    maps = segment.segment_images(
        model, training.images, tta=tta, fovs=training.masks, normalisation=choice.normalisation
    )
    np.savez_compressed(cache, maps=maps.astype(np.float16), key=key)
    return maps


def threshold_table(maps, manual, fovs, thresholds):
    """Rows (threshold, {measure: (r, relative difference)}, mean relative difference) of the maps
    cut at each threshold, each measure against the same measure of `manual`."""
    reference = measure_all(manual, fovs)
    rows = []
    for threshold in thresholds:
        measured = measure_all(maps >= threshold, fovs)
        scores = {name: agreement(measured[name], reference[name]) for name in MEASURES}
        rows.append((threshold, scores, float(np.mean([difference for _, difference in scores.values()]))))
    return rows


def best_threshold(rows):
    """The threshold of the row with the lowest mean relative difference."""
    return min(rows, key=lambda row: row[2])[0]


def format_table(rows):
    header = "| threshold | " + " | ".join(MEASURES) + " | mean rel. diff. |"
    lines = [header, "| --- " * (len(MEASURES) + 2) + "|"]
    for threshold, scores, mean_difference in rows:
        cells = [f"r {r:.2f}, {difference:.1%}" for r, difference in (scores[name] for name in MEASURES)]
        lines.append(f"| {threshold:g} | " + " | ".join(cells) + f" | {mean_difference:.1%} |")
    return "\n".join(lines) + "\n"


def main(args):
    if any(not 0 < threshold < 1 for threshold in args.thresholds):
        raise ValueError(f"--thresholds must each lie strictly between 0 and 1, got {args.thresholds}.")
    training = load_split(find_drive_dir(args.data_dir), "training")
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    maps = training_maps(args.weights, training, args.tta, out_dir / "training_prob.npz")
    print(f"Measuring the maps at {len(args.thresholds)} thresholds and 1st_manual")
    rows = threshold_table(maps, training.manual1, training.masks, sorted(args.thresholds))
    chosen = best_threshold(rows)
    table = (
        f"Each measure of {Path(args.weights).name}'s maps{' (TTA)' if args.tta else ''} against 1st_manual, "
        f"{len(training.ids)} DRIVE training images: Pearson r and mean absolute relative difference.\n\n"
        + format_table(rows)
        + f"\nChosen: {chosen:g} (lowest mean relative difference).\n"
    )
    (out_dir / "thresholds.md").write_text(table)
    print(table)
    print(f"Wrote {out_dir / 'thresholds.md'}. Next: python tools/measure_agreement.py --threshold {chosen:g}")


if __name__ == "__main__":
    try:
        main(get_args())
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
