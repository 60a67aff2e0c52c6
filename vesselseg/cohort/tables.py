"""The folder's tables, rebuilt from its manifest at the end of every run (a resumed one too).

    write_tables(out_dir, manifest, options, scores, settings)

vessel_fractions.csv, measurements.csv and clinical.csv hold one row per photograph done, in the
order the photographs first appear in the manifest, and zone_vessels.csv one row per vessel that
zone B's and zone C's CRAE and CRVE were measured on. They are written as its lines are read back
one at a time, so that a cohort's records are never held together, only each photograph's name
and place in the manifest. With --labels, per_image.csv, metrics.json and (with figures)
difference_grid.png. The manifest holds every figure as each photograph ends, so a killed
run loses no table: the next run writes them whole. Pooled scores come from `scores` (a
StreamingScores) and, for photographs done by earlier runs, from their saved maps, read back one
at a time.
"""

import contextlib
import csv
import json
from pathlib import Path

import numpy as np

from metrics import evaluate
from vesselseg.cohort.manifest import atomic_path, write_text_atomically
from vesselseg.cohort.scores import BINS
from vesselseg.cohort.work import companions_for, read_companion
from vesselseg.data.image_files import output_stem
from vesselseg.data.image_reading import read_binary_map
from vesselseg.figures import save_difference_grid
from vesselseg.measurement import clinical, maps

# The difference grid shows at most this many photographs, the first done.
GRID_PHOTOGRAPHS = 24
SCORE_COLUMNS = ("auc", "pr_auc", "f1", "accuracy", "sensitivity", "specificity")


def fractions_writer(file):
    """A function that writes one record's row of vessel_fractions.csv to the open `file`, whose
    header it writes first."""
    writer = csv.writer(file)
    # network_scale: the factor by which the photograph was rescaled for the network (its FOV to
    # the first of --fov-diameters), which follows the photograph's resolution.
    writer.writerow(["image", "vessel_fraction", "fov", "network_scale", "quality", "quality_grade"])
    return lambda record: writer.writerow(
        [
            record["image"],
            f"{record['vessel_fraction']:.5f}",
            record["fov"],
            f"{record['network_scale']:.4f}",
            f"{record['quality']:.3f}",
            record["quality_grade"],
        ]
    )


def write_row_tables(out_dir, manifest):
    """vessel_fractions.csv, measurements.csv, clinical.csv and zone_vessels.csv (where a
    photograph has clinical measures), one row per photograph done (per measured vessel in the
    last), in one pass over the manifest's latest records, read one at a time: only each
    photograph's name and place in the manifest are held (Manifest.latest). Returns the image,
    path and scores of the photographs scored against labels (with --labels), for the tables of
    scores."""
    scored = []
    with contextlib.ExitStack() as stack:

        def open_table(name):
            # The file closes before its temporary name is renamed, since an ExitStack leaves the
            # contexts in the reverse order of their entry.
            temporary = stack.enter_context(atomic_path(out_dir / name))
            return stack.enter_context(open(temporary, "w", newline=""))

        write_fraction = fractions_writer(open_table("vessel_fractions.csv"))
        write_measurements = maps.row_writer(open_table("measurements.csv"), pixel_size_um=None)
        write_clinical = write_vessel = None
        for record in manifest.latest():
            if record["status"] != "done":
                continue
            write_fraction(record)
            write_measurements(record["measurements"])
            if record.get("clinical"):
                if write_clinical is None:
                    write_clinical = clinical.row_writer(open_table("clinical.csv"), clinical.CLINICAL_COLUMNS)
                    write_vessel = clinical.row_writer(open_table("zone_vessels.csv"), clinical.ZONE_VESSEL_COLUMNS)
                write_clinical(record["clinical"])
                for row in clinical.zone_vessel_rows(record["clinical"]):
                    write_vessel(row)
            if record.get("scores"):
                scored.append({key: record[key] for key in ("image", "path", "scores")})
    return scored


def write_per_image(path, records):
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["image", *SCORE_COLUMNS])
        for record in records:
            scores = record["scores"]
            at = scores["at_threshold"]
            values = (
                scores["roc_auc"],
                scores["pr_auc"],
                at["f1"],
                at["accuracy"],
                at["sensitivity"],
                at["specificity"],
            )
            writer.writerow([output_stem(record["image"])] + [f"{value:.5f}" for value in values])


def saved_maps(out_dir, record, labels):
    """(probabilities, annotation, FOV) of a photograph done before, from its files."""
    stem = output_stem(record["image"])
    probabilities = np.load(out_dir / f"{stem}_prob.npy")
    fov = read_binary_map(out_dir / f"{stem}_fov.png") > 0
    label_path = labels.find(record["path"])
    if label_path is None:
        raise FileNotFoundError(f"the annotation of {record['image']} is no longer in {labels.folder}.")
    return probabilities, read_companion(label_path, out_dir / f"{stem}_prob.npy", fov.shape), fov


def write_tables(out_dir, manifest, options, scores, settings, counted=()):
    """Every table of the folder from the manifest's photographs done. `scores` holds the pooled
    sums of the photographs named in `counted` (this run's); the others are read back and added."""
    scored = write_row_tables(out_dir, manifest)
    if not scored or scores is None:
        return None
    labels, counted = companions_for(options.labels, options), set(counted)
    for record in scored:
        if record["image"] not in counted:
            scores.add(*saved_maps(out_dir, record, labels))
    pooled = scores.pooled()
    write_per_image(out_dir / "per_image.csv", scored)
    metrics = {
        "weights": [weights["path"] for weights in settings["weights"]],
        **{key: settings.get(key) for key in ("labels", "masks", "threshold", "tta", "precision")},
        "rim_fill_px": options.rim_fill,
        "fov_diameters": list(options.fov_diameters),
        "pooled_from": f"running sums over {BINS:,} probability bins (vesselseg/cohort/scores.py)",
        "images": [output_stem(record["image"]) for record in scored],
        "pooled": pooled,
        "per_image": [record["scores"] for record in scored],
    }
    write_text_atomically(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    if options.figures:
        shown = scored[:GRID_PHOTOGRAPHS]
        maps = [saved_maps(out_dir, record, labels) for record in shown]
        title = f"{out_dir.parent.name}, {len(shown)} of {len(scored)} photographs vs {Path(settings['labels']).name}"
        with atomic_path(out_dir / "difference_grid.png") as temporary:
            save_difference_grid(
                temporary,
                [probabilities for probabilities, _, _ in maps],
                [annotation for _, annotation, _ in maps],
                [fov for _, _, fov in maps],
                [output_stem(record["image"]) for record in shown],
                options.threshold,
                title,
            )
    return pooled, scored


def pooled_summary(pooled, scored, threshold):
    """The line predict.py prints of the pooled scores and the lowest F1."""
    at = pooled["at_threshold"]
    worst = min((record["scores"]["at_threshold"]["f1"], record["image"]) for record in scored)
    return (
        f"Pooled over the FOV of {len(scored)} photographs: AUC {pooled['roc_auc']:.4f}, PR AUC {pooled['pr_auc']:.4f}, "
        f"F1 {at['f1']:.4f}, Acc {at['accuracy']:.4f}, Se {at['sensitivity']:.4f}, Sp {at['specificity']:.4f} "
        f"at threshold {threshold:g}; lowest F1 {worst[0]:.4f} ({worst[1]})"
    )


def exact_pooled(maps, threshold):
    """metrics.evaluate's exact pooled scores of [(probabilities, annotation, FOV)] of any sizes,
    for checking the streaming ones; its memory grows with the photographs."""
    scores = np.concatenate([probabilities[fov] for probabilities, _, fov in maps])
    truth = np.concatenate([annotation[fov] for _, annotation, fov in maps])
    return evaluate(scores[None], truth[None], np.ones((1, scores.size), dtype=bool), threshold)["pooled"]
