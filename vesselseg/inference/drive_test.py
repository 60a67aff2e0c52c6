"""predict.py's DRIVE mode: segment the 20 DRIVE test images whole, score them inside the FOV
against both annotators, and write the maps, the figures and the tables.

    metrics = drive_test.segment_and_score(model, drive_dir, out_dir, choices, tta=True)
    drive_test.print_pooled(metrics)

It writes into `out_dir`: NN_prob.npy (float32 probabilities) and NN_prob.png per image, with
`draw_figures` NN_prediction.png, NN_difference.png, difference_grid.png and curves.png, then
per_image.csv and metrics.json (pooled and per image, against 1st_manual and 2nd_manual).
"""

import csv
import json
import time

import numpy as np

from metrics import evaluate, roc_and_pr_curves
from vesselseg import __version__, figures
from vesselseg.data.drive_data import load_split
from vesselseg.inference import photographs, segment

# The per-image table's columns after the image's id: the ROC AUC against each annotator, then the
# first annotator's scores at the threshold.
PER_IMAGE_COLUMNS = (
    "auc_1st",
    "auc_2nd",
    "pr_auc_1st",
    "f1_1st",
    "accuracy_1st",
    "sensitivity_1st",
    "specificity_1st",
)


def segment_and_score(
    model,
    drive_dir,
    out_dir,
    choices,
    batch_size=segment.PREDICT_BATCH_SIZE,
    tta=False,
    precision="float32",
    threshold=0.5,
    draw_figures=True,
):
    """Segment and score DRIVE's test split with `model` (the models `choices` describe), write the
    outputs into `out_dir`, and return the metrics dict that metrics.json holds."""
    test = load_split(drive_dir, "test")
    print(f"Segmenting the {len(test.ids)} DRIVE test images in {drive_dir}")
    started = time.perf_counter()
    probabilities = segment.segment_images(
        model, test.images, batch_size=batch_size, tta=tta, fovs=test.masks, normalisation=choices[0].normalisation
    )
    segmented = time.perf_counter()
    scores = {
        "vs_1st_manual": evaluate(probabilities, test.manual1, test.masks, threshold),
        "vs_2nd_manual": evaluate(probabilities, test.manual2, test.masks, threshold),
    }
    scored = time.perf_counter()
    # An ensemble lists its members' weights and has no single training run to describe.
    weights = [str(choice.weights) for choice in choices]
    metrics = {
        "version": __version__,
        "weights": weights[0] if len(weights) == 1 else weights,
        "training": choices[0].training if len(choices) == 1 else None,
        "tta": tta,
        "precision": precision,
        "threshold": threshold,
        "ids": test.ids,
        **scores,
    }
    for index, image_id in enumerate(test.ids):
        np.save(out_dir / f"{image_id:02d}_prob.npy", probabilities[index])
        photographs.save_probability_png(out_dir / f"{image_id:02d}_prob.png", probabilities[index])
    if draw_figures:
        save_figures(out_dir, test, probabilities, scores, threshold)
    write_per_image_table(out_dir / "per_image.csv", test.ids, scores)
    # Wall seconds of each phase, for bench/bench_predict.py and for curious users.
    metrics["seconds"] = {
        "segmentation": round(segmented - started, 2),
        "scoring": round(scored - segmented, 2),
        "files_and_figures": round(time.perf_counter() - scored, 2),
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(
        f"Seconds: segmentation {metrics['seconds']['segmentation']}, scoring {metrics['seconds']['scoring']}, "
        f"files and figures {metrics['seconds']['files_and_figures']}"
    )
    return metrics


def write_per_image_table(path, ids, scores):
    """per_image.csv: one row per test image, its id and the PER_IMAGE_COLUMNS to five decimals."""
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", *PER_IMAGE_COLUMNS])
        for image_id, first, second in zip(
            ids, scores["vs_1st_manual"]["per_image"], scores["vs_2nd_manual"]["per_image"]
        ):
            at = first["at_threshold"]
            at_threshold = (at[key] for key in ("f1", "accuracy", "sensitivity", "specificity"))
            values = (first["roc_auc"], second["roc_auc"], first["pr_auc"], *at_threshold)
            writer.writerow([image_id, *(f"{value:.5f}" for value in values)])


def save_figures(out_dir, test, probabilities, scores, threshold):
    """Per test image its prediction and difference figures, then the difference grid and the
    ROC and precision-recall curves of all of them, against 1st_manual."""
    for index, image_id in enumerate(test.ids):
        figures.save_image_figures(
            out_dir / f"{image_id:02d}",
            test.images[index],
            probabilities[index],
            test.manual1[index],
            test.masks[index],
            threshold,
            f"DRIVE test image {image_id:02d}",
        )
    title = f"{out_dir.parent.name}, {len(test.ids)} DRIVE test images vs 1st_manual"
    figures.save_difference_grid(
        out_dir / "difference_grid.png",
        probabilities,
        test.manual1,
        test.masks,
        [f"image {image_id:02d}" for image_id in test.ids],
        threshold,
        title,
    )
    pooled = scores["vs_1st_manual"]["pooled"]
    figures.save_curves(
        out_dir / "curves.png",
        *roc_and_pr_curves(probabilities, test.manual1, test.masks),
        pooled["roc_auc"],
        pooled["pr_auc"],
        title,
    )


def print_pooled(metrics):
    """The pooled scores against each annotator, one line each."""
    print(f"Pooled over the FOV; F1, Acc, Se and Sp at threshold {metrics['threshold']:g}")
    print(f"{'annotation':<14}{'ROC AUC':>9}{'PR AUC':>9}{'F1':>8}{'Acc':>8}{'Se':>8}{'Sp':>8}")
    for key in ("vs_1st_manual", "vs_2nd_manual"):
        pooled = metrics[key]["pooled"]
        at = pooled["at_threshold"]
        print(
            f"{key[3:]:<14}{pooled['roc_auc']:>9.4f}{pooled['pr_auc']:>9.4f}{at['f1']:>8.4f}"
            f"{at['accuracy']:>8.4f}{at['sensitivity']:>8.4f}{at['specificity']:>8.4f}"
        )
