"""predict.py --images: segment your own fundus photographs, and score them when annotated.

Each photograph is segmented on its own (streaming, so a folder of any size fits in memory),
with its FOV rescaled to each of --fov-diameters in turn and the maps averaged; the map comes back
at the photograph's own size. Its FOV mask and vessel annotation are found in --masks and --labels
by file stem, as datasets distribute them (match_companion): CHASE_DB1's `Image_01L.jpg` goes
with `Image_01L.png` and with `Image_01L_1stHO.png`.

Writes into output/<name>/images/, per photograph: <stem>_prob.npy (float32 probabilities of the
photograph's own size), <stem>_prob.png, <stem>_vessels.png (the binary map) and <stem>_overlay.png;
for the folder: vessel_fractions.csv, measurements.csv (measure.py's columns: width, length, branching,
tortuosity, fractal dimension, in pixels of the photograph), and with --labels metrics.json (pooled and per photograph,
inside the FOV), per_image.csv and difference_grid.png. --no-figures leaves out the overlays and
the difference grid.
"""

import csv
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from metrics import evaluate
from vesselseg import artery_vein
from vesselseg.data.drive_data import check_same_size, read_binary_map, read_rgb_image
from vesselseg.data.image_files import match_companion
from vesselseg.figures import save_clinical_figure, save_difference_grid, save_overlay
from vesselseg.inference import segment
from vesselseg.measurement import vessel_measures
from vesselseg.measurement.clinical import measure_photograph, write_clinical_csv
from vesselseg.measurement.maps import empty_row, measurement_row, write_csv

# Whether each vessel segment of the artery/vein map takes one class (artery_vein.av_classes),
# decided by the rule in docs/results/artery_vein.md.
BY_SEGMENT = True
# Fundus photographs show roughly 8-15% vessel pixels inside the FOV (DRIVE 12.7%, CHASE_DB1
# 10.0%, by their first observers); a map outside this range is most likely a failure.
PLAUSIBLE_VESSEL_FRACTION = (0.04, 0.25)


def check_folders(args):
    for flag in ("masks", "labels"):
        folder = getattr(args, flag)
        if folder is not None and not Path(folder).is_dir():
            raise FileNotFoundError(f"--{flag} {folder} is not a folder.")


def vessel_fraction(probabilities, fov, threshold):
    """Fraction of the FOV's pixels whose probability is at least `threshold`."""
    return float((probabilities[fov] >= threshold).mean()) if fov.any() else 0.0


def vessel_fraction_warning(fraction, plausible=PLAUSIBLE_VESSEL_FRACTION):
    """A warning when `fraction` lies outside what fundus photographs show, else None."""
    low, high = plausible
    if fraction < low:
        return (
            f"only {fraction:.1%} of the FOV is vessel (photographs show about 8-15%): the map is nearly empty. "
            "The photograph may be too dark, blurred or unlike the training images."
        )
    if fraction > high:
        return (
            f"{fraction:.1%} of the FOV is vessel (photographs show about 8-15%): the map is over-full. "
            "Check the FOV mask and the photograph's exposure."
        )
    return None


def load_annotation(path, image_path, shape):
    annotation = read_binary_map(path)
    check_same_size(image_path, shape, path, annotation)
    return annotation


def segment_as_asked(model, image, fov, args, normalisation):
    """segment.segment_photograph with predict.py's flags (TTA, rim fill, FOV widths), the same
    for the vessel model and the artery/vein model."""
    return segment.segment_photograph(
        model,
        image,
        fov,
        tta=args.tta,
        normalisation=normalisation,
        rim_fill_px=args.rim_fill,
        fov_diameters=args.fov_diameters,
    )


def segment_one(model, path, args, normalisation):
    """(image, probabilities, FOV, annotation or None, FOV source) for one photograph."""
    label_path = match_companion(args.labels, path.stem)
    if args.labels and label_path is None:
        raise ValueError(f"no annotation for {path.stem} in {args.labels}")
    image = read_rgb_image(path)
    mask_path = match_companion(args.masks, path.stem)
    fov = load_annotation(mask_path, path, image.shape).astype(bool) if mask_path else segment.estimate_fov(image)
    label = load_annotation(label_path, path, image.shape) if label_path else None
    probabilities = segment_as_asked(model, image, fov, args, normalisation)
    return image, probabilities, fov, label, "mask" if mask_path else "estimated"


def save_probability_png(path, probabilities):
    """Probabilities in [0, 1] as an 8-bit grey PNG (255 = certain vessel)."""
    Image.fromarray(np.round(probabilities * 255).astype(np.uint8)).save(path)


def save_maps(out_dir, stem, image, probabilities, threshold, figures=True):
    """The probability map (.npy and PNG), the binary vessel map and, with `figures`, the overlay."""
    np.save(out_dir / f"{stem}_prob.npy", probabilities)
    save_probability_png(out_dir / f"{stem}_prob.png", probabilities)
    binary = probabilities >= threshold
    Image.fromarray(binary.astype(np.uint8) * 255).save(out_dir / f"{stem}_vessels.png")
    if figures:
        save_overlay(out_dir / f"{stem}_overlay.png", image, binary, threshold)


def predict_photographs(model, files, out_dir, args, normalisation, weights=(), av_model=None):
    """Segment, save and (with --labels) score each photograph; returns the number of failures.
    `weights`, the model's weights files (several for an ensemble), go into metrics.json.
    `av_model`, (model, normalisation) of the artery/vein model or None, adds the clinical measures."""
    check_folders(args)
    failures, fractions, scored, measurements, clinical_rows = 0, [], [], [], []
    for number, path in enumerate(files, start=1):
        try:
            image, probabilities, fov, label, fov_source = segment_one(model, path, args, normalisation)
        except ValueError as error:
            print(f"[{number}/{len(files)}] skipped {path}: {error}", file=sys.stderr)
            failures += 1
            continue
        save_maps(out_dir, path.stem, image, probabilities, args.threshold, args.figures)
        fraction = vessel_fraction(probabilities, fov, args.threshold)
        measurements.append(measure_map(path.name, probabilities >= args.threshold, fov))
        fractions.append((path.name, fraction, fov_source, segment.network_scales(fov, args.fov_diameters)[0]))
        summary = f"vessel fraction {fraction:.1%} of the FOV ({fov_source})"
        if av_model is not None:
            row = clinical_measures(av_model, out_dir, path, image, fov, args)
            clinical_rows.append(row)
            summary += f", CRAE {row['crae_px']:.1f} px, CRVE {row['crve_px']:.1f} px, AVR {row['avr']:.2f}"
            if row["flags"]:
                print(f"note: {path.name}: {row['flags']}", file=sys.stderr)
        if label is not None:
            scores = evaluate(probabilities, label, fov, args.threshold)["pooled"]
            summary += f", AUC {scores['roc_auc']:.4f}, F1 {scores['at_threshold']['f1']:.4f}"
            scored.append((path.stem, probabilities, label, fov, scores))
        print(f"[{number}/{len(files)}] {path.name}: {image.shape[1]}x{image.shape[0]}, {summary}")
        warning = vessel_fraction_warning(fraction)
        if warning:
            print(f"warning: {path.name}: {warning}", file=sys.stderr)
    write_fractions(out_dir / "vessel_fractions.csv", fractions)
    write_csv(out_dir / "measurements.csv", measurements, pixel_size_um=None)
    if av_model is not None:
        write_clinical_csv(out_dir / "clinical.csv", clinical_rows)
    if scored:
        write_scores(out_dir, scored, args, weights)
    return failures


def clinical_measures(av_model, out_dir, path, image, fov, args):
    """Segment one photograph's arteries and veins, write <stem>_av.png (artery pure red, vein pure
    blue, background black, at the photograph's size) and, with figures, <stem>_clinical.png; returns
    its clinical.csv row."""
    model, normalisation = av_model
    probabilities = segment_as_asked(model, image, fov, args, normalisation)
    classes = artery_vein.av_classes(probabilities, by_segment=BY_SEGMENT)
    Image.fromarray(artery_vein.av_colour_map(classes)).save(out_dir / f"{path.stem}_av.png")
    row = measure_photograph(
        path.name,
        classes,
        fov,
        image=image,
        disc_centre=args.disc_centre,
        disc_diameter=args.disc_diameter,
        pixel_size_um=args.pixel_size_um,
    )
    if args.figures:
        save_clinical_figure(out_dir / f"{path.stem}_clinical.png", image, classes, row)
    return row


def measure_map(name, vessels, fov):
    """The measure.py row of one binary map; a row of its own, with a note, when it holds no vessel."""
    if not vessels[fov].any():
        return empty_row(name)
    return measurement_row(name, vessel_measures.measure(vessels, fov), pixel_size_um=None)


def write_fractions(path, fractions):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        # network_scale: the factor by which the photograph was rescaled for the network (its FOV to
        # the first of --fov-diameters), which follows the photograph's resolution.
        writer.writerow(["image", "vessel_fraction", "fov", "network_scale"])
        writer.writerows(
            [name, f"{fraction:.5f}", source, f"{scale:.4f}"] for name, fraction, source, scale in fractions
        )


def pooled_scores(scored, threshold):
    """evaluate()'s pooled scores over the FOV pixels of photographs of any sizes together."""
    pixels = [(probabilities[fov], label[fov]) for _, probabilities, label, fov, _ in scored]
    return evaluate(
        np.concatenate([p for p, _ in pixels])[None],
        np.concatenate([t for _, t in pixels])[None],
        np.ones((1, sum(len(p) for p, _ in pixels)), dtype=bool),
        threshold,
    )["pooled"]


def write_scores(out_dir, scored, args, weights=()):
    """metrics.json, per_image.csv and (with args.figures) difference_grid.png of the annotated
    photographs, whose own scores (their last element) were computed as each was segmented."""
    pooled = pooled_scores(scored, args.threshold)
    names, per_image = [stem for stem, *_ in scored], [scores for *_, scores in scored]
    metrics = {
        "weights": [str(path) for path in weights],
        "labels": str(args.labels),
        "masks": str(args.masks),
        "threshold": args.threshold,
        "tta": args.tta,
        "rim_fill_px": args.rim_fill,
        "fov_diameters": args.fov_diameters,
        "precision": args.precision,
        "images": names,
        "pooled": pooled,
        "per_image": per_image,
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    with open(out_dir / "per_image.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["image", "auc", "pr_auc", "f1", "accuracy", "sensitivity", "specificity"])
        for name, scores in zip(names, per_image):
            at = scores["at_threshold"]
            writer.writerow(
                [name]
                + [
                    f"{value:.5f}"
                    for value in (
                        scores["roc_auc"],
                        scores["pr_auc"],
                        at["f1"],
                        at["accuracy"],
                        at["sensitivity"],
                        at["specificity"],
                    )
                ]
            )
    if args.figures:
        save_difference_grid(
            out_dir / "difference_grid.png",
            [s[1] for s in scored],
            [s[2] for s in scored],
            [s[3] for s in scored],
            names,
            args.threshold,
            f"{out_dir.parent.name}, {len(scored)} photographs vs {Path(args.labels).name}",
        )
    at = pooled["at_threshold"]
    worst = min(zip((s["at_threshold"]["f1"] for s in per_image), names))
    print(
        f"Pooled over the FOV of {len(scored)} photographs: AUC {pooled['roc_auc']:.4f}, PR AUC {pooled['pr_auc']:.4f}, "
        f"F1 {at['f1']:.4f}, Acc {at['accuracy']:.4f}, Se {at['sensitivity']:.4f}, Sp {at['specificity']:.4f} "
        f"at threshold {args.threshold:g}; lowest F1 {worst[0]:.4f} ({worst[1]})"
    )
