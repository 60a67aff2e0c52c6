"""Figures and the results table that predict.py writes.

    python report.py --readme README.md   # regenerate output/results.{md,json}, copy the table into README


Colours are named defaults, so every figure reads the same way:
difference maps show true positives white, false negatives blue, false positives red.
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # Files only: no display is needed, and none exists on servers.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import quiet_startup  # noqa: F401, E402  (before TensorFlow loads: drops its start-up noise)
from drive_data import TRAINING_IMAGES  # noqa: E402
from normalisation import DEFAULT_NORMALISATION, model_normalisation  # noqa: E402
from run_folder import RECIPE_KEYS, training_seconds  # noqa: E402
from training import LR_DROP_FACTOR  # noqa: E402

TRUE_POSITIVE_COLOUR = (1.0, 1.0, 1.0)
FALSE_NEGATIVE_COLOUR = (0.15, 0.35, 1.0)
FALSE_POSITIVE_COLOUR = (1.0, 0.1, 0.1)
TRUE_NEGATIVE_COLOUR = (0.0, 0.0, 0.0)
OUTSIDE_FOV_COLOUR = (0.25, 0.25, 0.25)
OVERLAY_COLOUR = (0.0, 1.0, 0.3)

# The second DRIVE observer against the first, over the FOV of the 20 test images,
# computed from DRIVE itself with metrics.py (2nd_manual scored as a prediction vs 1st_manual).
SECOND_OBSERVER = {"accuracy": 0.9473, "sensitivity": 0.7746, "specificity": 0.9725, "f1": 0.789}
# The blog's three models: their run names, descriptions and published AUCs (vs 2nd_manual).
BLOG_MODELS = {
    "baseline_aug": ("scratch U-Net + augmentation", 0.9820),
    "baseline_no_aug": ("scratch U-Net, no augmentation", 0.9806),
    "baseline_pretrained": ("VGG16 encoder + augmentation", 0.9811),
}
BLOG_AUC = {run_name: auc for run_name, (_, auc) in BLOG_MODELS.items()}
# What the table says of the blog's models that have not been evaluated here.
NOT_RUN = {
    "baseline_aug": "not trained yet (`python baseline_aug.py`)",
    "baseline_no_aug": "not trained yet (`python baseline_no_aug.py`)",
    "baseline_pretrained": "not run here: needs the ImageNet VGG16 weights (`python baseline_pretrained.py`)",
}
# The shipped weights of each blog model's faithful recipe, in weights/.
FAITHFUL_WEIGHTS = {"baseline_aug": "unet_aug", "baseline_no_aug": "unet_no_aug"}
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def not_run_note(run_name, weights_dir=WEIGHTS_DIR):
    """What the table says of a blog model without a row: how to evaluate its shipped weights,
    or, when none ship, how to train it."""
    stem = FAITHFUL_WEIGHTS.get(run_name)
    if stem and (Path(weights_dir) / f"{stem}.weights.h5").is_file():
        return f"shipped, not evaluated yet (`python predict.py --weights weights/{stem}.weights.h5 --no-tta`)"
    return NOT_RUN[run_name]
# Published figures of other work: (name, AUC vs 1st_manual, AUC vs 2nd_manual, training).
REFERENCES = tuple(
    (f"blog: {description}", "-", f"{auc:.4f}", "the blog's GPU") for description, auc in BLOG_MODELS.values()
) + (
    ("orobix/retina-unet", "0.9790", "-", "about 20 h, GTX TITAN"),
)


def difference_map(probabilities, truth, fov, threshold):
    """RGB image (H, W, 3): TP white, FN blue, FP red, TN black, outside the FOV grey."""
    predicted, truth = probabilities >= threshold, truth.astype(bool)
    colours = np.empty(truth.shape + (3,), dtype=np.float32)
    colours[:] = TRUE_NEGATIVE_COLOUR
    colours[predicted & truth] = TRUE_POSITIVE_COLOUR
    colours[~predicted & truth] = FALSE_NEGATIVE_COLOUR
    colours[predicted & ~truth] = FALSE_POSITIVE_COLOUR
    colours[~fov] = OUTSIDE_FOV_COLOUR
    return colours


# What each colour of a difference map means, in legend order.
DIFFERENCE_LEGEND = (
    (TRUE_POSITIVE_COLOUR, "vessel found (TP)"),
    (FALSE_NEGATIVE_COLOUR, "vessel missed (FN)"),
    (FALSE_POSITIVE_COLOUR, "false vessel (FP)"),
    (TRUE_NEGATIVE_COLOUR, "background (TN)"),
    (OUTSIDE_FOV_COLOUR, "outside the FOV, not scored"),
)


def difference_legend(figure):
    """The colour key of the difference maps, in one row under the figure's axes."""
    handles = [plt.Rectangle((0, 0), 1, 1, facecolor=colour, edgecolor="k") for colour, _ in DIFFERENCE_LEGEND]
    figure.legend(handles, [label for _, label in DIFFERENCE_LEGEND], loc="outside lower center",
                  ncol=len(DIFFERENCE_LEGEND), fontsize=9, frameon=False)


def save_image_figures(path_prefix, image, probabilities, truth, fov, threshold, title):
    """Two PNGs: the prediction beside the ground truth, and the difference map."""
    figure, axes = plt.subplots(1, 3, figsize=(13, 4.8))
    for axis, picture, name in zip(
        axes, (image, truth, probabilities), ("photograph", "ground truth (1st_manual)", "predicted probability")
    ):
        axis.imshow(picture, cmap="gray", vmin=0, vmax=1)
        axis.set_title(name)
        axis.axis("off")
    figure.suptitle(title)
    figure.savefig(f"{path_prefix}_prediction.png", dpi=100, bbox_inches="tight")
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(8, 7.4), layout="constrained")
    axis.imshow(difference_map(probabilities, truth, fov, threshold))
    axis.set_title(f"{title}: difference at threshold {threshold:.2f}")
    axis.axis("off")
    difference_legend(figure)
    figure.savefig(f"{path_prefix}_difference.png", dpi=100, bbox_inches="tight")
    plt.close(figure)


def save_difference_grid(path, probabilities, truth, fov, names, threshold, title):
    """All difference maps in a grid five columns wide, each titled by its name in `names`;
    the maps may differ in size."""
    columns = min(5, len(names))
    rows = int(np.ceil(len(names) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3.1 * rows + 0.9), squeeze=False,
                                layout="constrained")
    for axis in axes.flat:
        axis.axis("off")
    for axis, name, p, t, f in zip(axes.flat, names, probabilities, truth, fov):
        axis.imshow(difference_map(p, t, f, threshold))
        axis.set_title(str(name), fontsize=10)
    figure.suptitle(f"{title}: difference maps at threshold {threshold:.2f}")
    difference_legend(figure)
    figure.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(figure)


def save_curves(path, false_positive_rate, true_positive_rate, recall, precision, roc_auc, pr_auc, title):
    """ROC and precision-recall curves with the second human observer's operating point."""
    figure, (roc_axis, pr_axis) = plt.subplots(1, 2, figsize=(11, 5))
    roc_axis.plot(false_positive_rate, true_positive_rate, label=f"U-Net (AUC {roc_auc:.4f})")
    roc_axis.plot(1 - SECOND_OBSERVER["specificity"], SECOND_OBSERVER["sensitivity"], "r*", markersize=12,
                  label="second human observer")
    roc_axis.set(xlabel="false positive rate (1 - specificity)", ylabel="true positive rate (sensitivity)",
                 title="ROC, FOV pixels", xlim=(0, 0.3), ylim=(0.5, 1.0))
    pr_axis.plot(recall, precision, label=f"U-Net (average precision {pr_auc:.4f})")
    pr_axis.set(xlabel="recall (sensitivity)", ylabel="precision", title="Precision-recall, FOV pixels",
                xlim=(0, 1), ylim=(0, 1))
    for axis in (roc_axis, pr_axis):
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right" if axis is roc_axis else "lower left")
    figure.suptitle(title)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


def save_overlay(path, image, binary, threshold):
    """The photograph at its own size with the detected vessels painted over it, and a key
    under it that says what the colour means."""
    overlay = image.copy()
    overlay[binary] = 0.4 * overlay[binary] + 0.6 * np.array(OVERLAY_COLOUR)
    height, width = (size / 100 for size in image.shape[:2])
    key_height = 0.35  # inches, at 100 pixels per inch
    figure = plt.figure(figsize=(width, height + key_height), dpi=100)
    axis = figure.add_axes((0, key_height / (height + key_height), 1, height / (height + key_height)))
    axis.imshow(np.clip(overlay, 0, 1), interpolation="nearest")
    axis.axis("off")
    figure.legend([plt.Rectangle((0, 0), 1, 1, facecolor=OVERLAY_COLOUR, edgecolor="k")],
                  [f"detected vessel (probability at least {threshold:g})"], loc="lower left", fontsize=9, frameon=False)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def training_facts(config_path, log_path):
    """What a results table says about how a model was trained, from its config and train.log."""
    config = json.loads(Path(config_path).read_text())
    seconds = training_seconds(Path(log_path).read_text()) if Path(log_path).is_file() else 0.0
    keys = ("run_name", *RECIPE_KEYS, "precision", "jit", "backend", "keras_version")
    hardware = config.get("hardware") or config.get("machine", "unknown")
    return {**{key: config.get(key) for key in keys}, "hardware": hardware, "train_seconds": round(seconds, 1)}


def describe_training(training):
    """'2.1 h, AMD EPYC (2 CPUs), tensorflow' or '-' when unknown; a recipe other than the blog's
    constant learning rate is named first."""
    if not training or not training.get("train_seconds"):
        return "-"
    hours = training["train_seconds"] / 3600
    duration = f"{hours:.1f} h" if hours >= 1 else f"{training['train_seconds'] / 60:.0f} min"
    drops = training.get("lr_drop_epochs")
    recipe = (f"{training['epochs']} epochs, learning rate /{1 / LR_DROP_FACTOR:g} after epoch "
              f"{', '.join(map(str, drops))}; "
              if drops else "")
    start = training.get("init_weights")
    origin = f"fine-tuned from {Path(start).name.removesuffix('.weights.h5')}; " if start else ""
    normalisation = model_normalisation(training)
    inputs = (f"{normalisation} input, {training.get('photometric')} photometric augmentation; "
              if normalisation != DEFAULT_NORMALISATION else "")
    trained_in = "trained in bfloat16; " if training.get("precision") == "bfloat16" else ""
    # A model from a validation run never saw its held-out images, so the row says it had fewer.
    held_out = training.get("validation_images") or 0
    images = (f"{TRAINING_IMAGES - held_out} of the {TRAINING_IMAGES} training images ({held_out} held out); "
              if held_out else "")
    return f"{origin}{inputs}{trained_in}{images}{recipe}{duration}, {training['hardware']}, {training['backend']}"


def result_row(name, metrics):
    """One row of the results table from a run's metrics.json."""
    first, second = metrics["vs_1st_manual"]["pooled"], metrics["vs_2nd_manual"]["pooled"]
    at = first["at_threshold"]
    training = metrics.get("training") or {}
    return {
        "run": name,
        "auc_1st": first["roc_auc"], "auc_2nd": second["roc_auc"], "pr_auc_1st": first["pr_auc"],
        "f1": at["f1"], "accuracy": at["accuracy"], "sensitivity": at["sensitivity"],
        "specificity": at["specificity"], "blog_auc_2nd": BLOG_AUC.get(training.get("run_name", name)),
        "weights": metrics.get("weights"), "tta": metrics.get("tta", False),
        "precision": metrics.get("precision", "float32"), "training": training,
        "threshold": metrics.get("threshold", 0.5),
    }


def inference_note(row):
    """' (TTA, bfloat16)' for the inference settings of a row that differ from one float32 pass."""
    notes = ((["TTA"] if row["tta"] else []) + ([row["precision"]] if row["precision"] != "float32" else [])
             + ([f"threshold {row['threshold']:g}"] if row.get("threshold", 0.5) != 0.5 else []))
    return f" ({', '.join(notes)})" if notes else ""


def results_markdown(rows):
    """The results table as Markdown: measured rows, then published and human references."""
    lines = [
        "| model | AUC vs 1st | AUC vs 2nd | blog AUC vs 2nd | PR AUC | F1 | accuracy | sensitivity | specificity "
        "| training |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        blog = f"{row['blog_auc_2nd']:.4f}" if row["blog_auc_2nd"] else "-"
        lines.append(
            f"| {row['run']}{inference_note(row)} | {row['auc_1st']:.4f} | {row['auc_2nd']:.4f} | {blog} "
            f"| {row['pr_auc_1st']:.4f} | {row['f1']:.4f} | {row['accuracy']:.4f} | {row['sensitivity']:.4f} "
            f"| {row['specificity']:.4f} | {describe_training(row['training'])} |"
        )
    trained = {row["training"].get("run_name") for row in rows if row["training"]}
    for run_name in NOT_RUN:
        if run_name not in trained:
            lines.append(f"| {run_name}: {not_run_note(run_name)} | - | - | {BLOG_AUC[run_name]:.4f} | - | - | - | - | - | - |")
    for name, auc_first, auc_second, training in REFERENCES:
        lines.append(f"| {name} (published) | {auc_first} | - | {auc_second} | - | - | - | - | - | {training} |")
    observer = SECOND_OBSERVER
    lines.append(f"| second human observer (2nd_manual vs 1st_manual) | - | - | - | - | {observer['f1']:.3f} "
                 f"| {observer['accuracy']:.4f} | {observer['sensitivity']:.4f} | {observer['specificity']:.4f} | - |")
    lines.append("")
    thresholds = sorted({row["threshold"] for row in rows}) or [0.5]
    lines.append("Measured rows: pooled over the FOV pixels of the 20 DRIVE test images; F1, accuracy, sensitivity "
                 f"and specificity at threshold {' or '.join(f'{value:g}' for value in thresholds)} against 1st_manual"
                 f"{' (each row names its threshold when it is not 0.5)' if thresholds != [0.5] else ''}.")
    return "\n".join(lines) + "\n"


def write_results_table(output_dir):
    """Regenerate output/results.{md,json} from every evaluated run under output_dir."""
    output_dir = Path(output_dir)
    rows = [
        result_row(path.parent.parent.name, json.loads(path.read_text()))
        for path in sorted(output_dir.glob("*/test/metrics.json"))
    ]
    (output_dir / "results.json").write_text(json.dumps({"runs": rows, "second_observer": SECOND_OBSERVER}, indent=2))
    (output_dir / "results.md").write_text(results_markdown(rows))
    return rows


# The README's results table sits between these two lines; update_readme replaces what is between.
README_START = "<!-- results table: generated from output/results.md by `python report.py --readme README.md` -->"
README_END = "<!-- end of results table -->"


def update_readme(readme_path, table):
    """Replace the results table in the README (between README_START and README_END) by `table`."""
    text = Path(readme_path).read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme_path} has no results table markers; add the lines\n{README_START}\n{README_END}")
    before, rest = text.split(README_START, 1)
    after = rest.split(README_END, 1)[1]
    Path(readme_path).write_text(f"{before}{README_START}\n{table}{README_END}{after}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Regenerate output/results.{md,json} from every evaluated run.")
    parser.add_argument("--output-dir", default=str(Path(__file__).resolve().parent / "output"),
                        help="folder whose */test/metrics.json files are tabulated")
    parser.add_argument("--readme", help="also copy the table into this README, between its results markers")
    args = parser.parse_args()
    rows = write_results_table(args.output_dir)
    print(f"{len(rows)} evaluated run(s) in {Path(args.output_dir) / 'results.md'}")
    if args.readme:
        update_readme(args.readme, (Path(args.output_dir) / "results.md").read_text())
        print(f"Updated the results table in {args.readme}")
