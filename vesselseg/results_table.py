"""The results table that predict.py writes: every evaluated DRIVE run, beside the blog's and
published figures. tools/results_table.py regenerates it and copies it into the README.
"""

import json
from pathlib import Path

from vesselseg.data.drive_data import TRAINING_IMAGES
from vesselseg.inference.normalisation import DEFAULT_NORMALISATION, model_normalisation
from vesselseg.paths import SHIPPED_WEIGHTS_FILE, WEIGHTS_DIR, shipped_weights
from vesselseg.training.settings import LR_DROP_FACTOR, RECIPE_KEYS, training_seconds

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


def not_run_note(run_name, weights_dir=WEIGHTS_DIR):
    """What the table says of a blog model without a row: how to evaluate its shipped weights,
    or, when none ship, how to train it."""
    stem = FAITHFUL_WEIGHTS.get(run_name)
    if stem and (Path(weights_dir) / stem / shipped_weights(stem).name).is_file():
        return f"shipped, not evaluated yet (`python predict.py --weights weights/{stem}/{shipped_weights(stem).name} --no-tta`)"
    return NOT_RUN[run_name]


# Published figures of other work: (name, AUC vs 1st_manual, AUC vs 2nd_manual, training).
REFERENCES = tuple(
    (f"blog: {description}", "-", f"{auc:.4f}", "the blog's GPU") for description, auc in BLOG_MODELS.values()
) + (("orobix/retina-unet", "0.9790", "-", "about 20 h, GTX TITAN"),)


def training_facts(config_path, log_path):
    """What a results table says about how a model was trained, from its config and train.log."""
    config = json.loads(Path(config_path).read_text())
    seconds = training_seconds(Path(log_path).read_text()) if Path(log_path).is_file() else 0.0
    keys = ("run_name", *RECIPE_KEYS, "precision", "jit", "backend", "keras_version")
    # Older configs name only the machine, with its kernel version, which says nothing of speed.
    hardware = config.get("hardware") or config.get("machine", "unknown").split(", Linux")[0]
    return {**{key: config.get(key) for key in keys}, "hardware": hardware, "train_seconds": round(seconds, 1)}


def model_name(weights):
    """A weights file's model name: its folder's for a shipped model (weights/<name>/model.weights.h5),
    else its stem."""
    path = Path(weights)
    return path.parent.name if path.name == SHIPPED_WEIGHTS_FILE else path.name.removesuffix(".weights.h5")


def describe_training(training):
    """'2.1 h, AMD EPYC (2 CPUs), tensorflow' or '-' when unknown; a recipe other than the blog's
    constant learning rate is named first."""
    if not training or not training.get("train_seconds"):
        return "-"
    hours = training["train_seconds"] / 3600
    duration = f"{hours:.1f} h" if hours >= 1 else f"{training['train_seconds'] / 60:.0f} min"
    drops = training.get("lr_drop_epochs")
    recipe = (
        f"{training['epochs']} epochs, learning rate /{1 / LR_DROP_FACTOR:g} after epoch {', '.join(map(str, drops))}; "
        if drops
        else ""
    )
    start = training.get("init_weights")
    origin = f"fine-tuned from {model_name(start)}; " if start else ""
    normalisation = model_normalisation(training)
    inputs = (
        f"{normalisation} input, {training.get('photometric')} photometric augmentation; "
        if normalisation != DEFAULT_NORMALISATION
        else ""
    )
    trained_in = "trained in bfloat16; " if training.get("precision") == "bfloat16" else ""
    # A model from a validation run never saw its held-out images, so the row says it had fewer.
    held_out = training.get("validation_images") or 0
    images = (
        f"{TRAINING_IMAGES - held_out} of the {TRAINING_IMAGES} training images ({held_out} held out); "
        if held_out
        else ""
    )
    return f"{origin}{inputs}{trained_in}{images}{recipe}{duration}, {training['hardware']}, {training['backend']}"


def result_row(name, metrics):
    """One row of the results table from a run's metrics.json."""
    first, second = metrics["vs_1st_manual"]["pooled"], metrics["vs_2nd_manual"]["pooled"]
    at = first["at_threshold"]
    training = metrics.get("training") or {}
    return {
        "run": name,
        "auc_1st": first["roc_auc"],
        "auc_2nd": second["roc_auc"],
        "pr_auc_1st": first["pr_auc"],
        "f1": at["f1"],
        "accuracy": at["accuracy"],
        "sensitivity": at["sensitivity"],
        "specificity": at["specificity"],
        "blog_auc_2nd": BLOG_AUC.get(training.get("run_name", name)),
        "weights": metrics.get("weights"),
        "tta": metrics.get("tta", False),
        "precision": metrics.get("precision", "float32"),
        "training": training,
        "threshold": metrics.get("threshold", 0.5),
    }


def inference_note(row):
    """' (TTA, bfloat16)' for the inference settings of a row that differ from one float32 pass."""
    notes = (
        (["TTA"] if row["tta"] else [])
        + ([row["precision"]] if row["precision"] != "float32" else [])
        + ([f"threshold {row['threshold']:g}"] if row.get("threshold", 0.5) != 0.5 else [])
    )
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
            lines.append(
                f"| {run_name}: {not_run_note(run_name)} | - | - | {BLOG_AUC[run_name]:.4f} | - | - | - | - | - | - |"
            )
    for name, auc_first, auc_second, training in REFERENCES:
        lines.append(f"| {name} (published) | {auc_first} | - | {auc_second} | - | - | - | - | - | {training} |")
    observer = SECOND_OBSERVER
    lines.append(
        f"| second human observer (2nd_manual vs 1st_manual) | - | - | - | - | {observer['f1']:.3f} "
        f"| {observer['accuracy']:.4f} | {observer['sensitivity']:.4f} | {observer['specificity']:.4f} | - |"
    )
    lines.append("")
    thresholds = sorted({row["threshold"] for row in rows}) or [0.5]
    lines.append(
        "Measured rows: pooled over the FOV pixels of the 20 DRIVE test images; F1, accuracy, sensitivity "
        f"and specificity at threshold {' or '.join(f'{value:g}' for value in thresholds)} against 1st_manual"
        f"{' (each row names its threshold when it is not 0.5)' if thresholds != [0.5] else ''}."
    )
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
    (output_dir / "results_readme.md").write_text(readme_markdown(rows))
    return rows


# The README's results table sits between these two lines; update_readme replaces what is between.
README_START = "<!-- results table: generated from output/results_readme.md by `python tools/results_table.py --readme README.md` -->"
README_END = "<!-- end of results table -->"


def update_readme(readme_path, table):
    """Replace the results table in the README (between README_START and README_END) by `table`."""
    text = Path(readme_path).read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme_path} has no results table markers; add the lines\n{README_START}\n{README_END}")
    before, rest = text.split(README_START, 1)
    after = rest.split(README_END, 1)[1]
    Path(readme_path).write_text(f"{before}{README_START}\n{table}{README_END}{after}")


# The rows of the README's short table: run name -> (what it is, the command that prints it).
README_MODELS = {
    "unet_aug": (
        "`unet_aug`: the blog's recipe, scratch U-Net + augmentation",
        "`python predict.py --weights weights/unet_aug/model.weights.h5 --no-tta`",
    ),
    "unet_no_aug": (
        "`unet_no_aug`: the blog's recipe without augmentation",
        "`python predict.py --weights weights/unet_no_aug/model.weights.h5 --no-tta`",
    ),
    "unet_camera_scratch": ("`unet_camera_scratch`, the default, one pass", "`python predict.py --no-tta`"),
    "unet_camera_scratch_tta": ("`unet_camera_scratch`, the default, four flips (TTA)", "`python predict.py`"),
}


def readme_markdown(rows):
    """The README's short table: the README_MODELS rows that have been evaluated, the blog's VGG16
    model, a published reference and the second observer."""
    lines = [
        "| model | AUC vs 1st | AUC vs 2nd | blog AUC vs 2nd | F1 | command |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    by_name = {row["run"]: row for row in rows}
    for name, (description, command) in README_MODELS.items():
        if name in by_name:
            row = by_name[name]
            # Only the blog's own recipes have a blog figure to stand beside.
            faithful = name in FAITHFUL_WEIGHTS.values() and row["blog_auc_2nd"]
            blog = f"{row['blog_auc_2nd']:.4f}" if faithful else "-"
            lines.append(
                f"| {description} | {row['auc_1st']:.4f} | {row['auc_2nd']:.4f} | {blog} | {row['f1']:.4f} "
                f"| {command} |"
            )
    lines.append(
        f"| VGG16 encoder + augmentation | not run: needs the ImageNet weights | - "
        f"| {BLOG_AUC['baseline_pretrained']:.4f} | - | `python baseline_pretrained.py` |"
    )
    lines.append("| orobix/retina-unet (published) | 0.9790 | - | - | - | |")
    lines.append(f"| second human observer | - | - | - | {SECOND_OBSERVER['f1']:.3f} | |")
    return "\n".join(lines) + "\n"
