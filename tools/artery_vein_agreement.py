"""Score the artery/vein model, and compare its CRAE, CRVE and AVR with those of manual labels.

    python tools/artery_vein_agreement.py                   # RITE test (DRIVE 01-20) and LES-AV
    python tools/artery_vein_agreement.py --sets lesav      # LES-AV only, the development set
    python tools/artery_vein_agreement.py --no-tta          # one pass per photograph
    python tools/artery_vein_agreement.py --no-tta --sets validation lesav --bifurcation-weight 0  # a variant
    python tools/artery_vein_agreement.py --no-tta --sets training --widths half-peak  # fits calibre's widths

For each set, the model segments every photograph as `predict.py --images` does (its FOV mask,
its default widths and TTA) and prints:
- artery/vein classification: accuracy over the labelled artery and vein pixels that the model
  marks as vessel (uncertain pixels left out), the share of those pixels it marks as vessel, and
  artery and vein F1 as segmentations, pooled over the set;
- the optic disc: on DRIVE, the distance of the estimated centre from the centre of the zone B
  ring drawn by hand (DRIVE_zoneB);
- agreement of CRAE, CRVE and AVR between the model's maps and the manual labels, both measured
  by the same code at the same disc: on DRIVE at the zone B rings' centres with their 80-px disc
  diameter, on LES-AV at the disc estimated from the photograph and the model's map. Pearson r,
  the ICC(A,1) (two-way random effects, absolute agreement, single measurement; McGraw and
  Wong 1996, Shrout and Fleiss' ICC(2,1)), the mean difference (model minus manual) with its 95%
  limits of agreement, and the bias as a share of the manual mean; and the same for zone C's
  CRAE, CRVE and AVR (0.5 to 2 DD from the disc's margin);
- the widths vessel by vessel: each zone B vessel of the model's map is matched to the manual
  vessel of its class whose label point lies within MATCH_TOLERANCE_DD disc diameters (one to
  one), and the model-minus-manual widths of the matched vessels are summarised;
- where the disagreement comes from: CRAE, CRVE and AVR again with the matched vessels' widths
  exchanged, once the model's vessels at the manual widths (its choice of vessels alone) and once
  the manual vessels at the model's widths (its widths alone), and per class how many zone B
  vessels each side measures and how many of each side's six widest have no match.

Writes output/artery_vein_agreement/<set>/: each photograph's <stem>_av.png and
<stem>_clinical.png, clinical_model.csv and clinical_manual.csv, bland_altman.png, and the
matched vessels in matched_vessels.csv and bland_altman_vessels.png; and
output/artery_vein_agreement/agreement.md with the tables that it prints.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vesselseg import (
    artery_vein,  # noqa: E402
    quiet_startup,  # noqa: E402,F401  (before TensorFlow loads: drops its start-up noise)
)
from vesselseg.cli import HelpFormatter, summary  # noqa: E402
from vesselseg.data.drive_data import find_drive_dir  # noqa: E402
from vesselseg.data.image_reading import read_binary_map, read_rgb_image  # noqa: E402
from vesselseg.figures import (
    save_bland_altman,  # noqa: E402
    save_clinical_figure,  # noqa: E402
)
from vesselseg.inference import segment  # noqa: E402
from vesselseg.inference.models import (  # noqa: E402
    ARTERY_VEIN_WEIGHTS,
    IMAGES_DEFAULT_WEIGHTS,
    load_artery_vein_model,
    load_models,
    resolve_models,
)
from vesselseg.measurement import calibre  # noqa: E402
from vesselseg.measurement.agreement import agreement_row, exchanged_widths, matched_pairs  # noqa: E402
from vesselseg.measurement.clinical import measure_photograph, write_clinical_csv, write_rows  # noqa: E402
from vesselseg.measurement.optic_disc import ring_centre  # noqa: E402
from vesselseg.paths import OUTPUT_DIR, dataset_dir  # noqa: E402

SETS = ("rite", "lesav", "validation", "training")
# The sets scored unless --sets names others: RITE test and LES-AV. "validation" is DRIVE's training
# images 37-40 with RITE's labels, held out from the artery/vein model's training, for choosing;
# "training" is 21-36, which the model learnt from, for fitting what may be fitted there.
DEFAULT_SETS = ("rite", "lesav")
MEASURES = ("crae_px", "crve_px", "avr")
# Zone C's figures, rows of the same table below zone B's, not judged by any rule here.
ZONE_C_MEASURES = ("crae_zone_c_px", "crve_zone_c_px", "avr_zone_c")
# Each set's name in the printed tables and on its Bland-Altman figure.
SET_LABELS = {
    "rite": "RITE test (DRIVE 01-20), disc at the zone B rings' centres",
    "lesav": "LES-AV (22), disc estimated",
    "validation": "RITE training 37-40 (held out), disc estimated",
    "training": "RITE training 21-36 (trained on), disc estimated",
}
# DRIVE_zoneB's rings assume this disc diameter (pixels).
ZONE_B_DISC_DIAMETER = 80.0
# The targets that the tables are read against.
DISC_TOLERANCE_PX = 40
# A model's zone B vessel and a manual one are the same vessel when their label points lie within
# this many disc diameters (8 px at DRIVE's 80-px disc, about two venules' widths).
MATCH_TOLERANCE_DD = 0.1
# matched_vessels.csv's columns: the photograph, the class, the manual vessel's label point, both
# widths, and the photograph's pixels per network pixel.
MATCHED_COLUMNS = ("image", "class", "x", "y", "manual_width_px", "model_width_px", "network_pixel_px")
# How the report names each of calibre.WIDTH_SOURCES.
WIDTH_PHRASES = {
    "binary": "its binary class maps",
    "probability": "its vessel probability at 0.5",
    "half-peak": "its vessel probability at half the peak",
    "half-peak-offset": "its vessel probability at half the peak, less the training set's offset",
    "half-peak-factor": "its vessel probability at half the peak, times the training set's factor",
}

# How the report names each of calibre.ZONE_B_SCALES.
ZONE_B_PHRASES = {
    "network": "the network's scale on photographs larger than it",
    "photograph": "the photograph's size",
}


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument(
        "--sets",
        nargs="+",
        choices=SETS,
        default=list(DEFAULT_SETS),
        help="which sets to score: RITE test, LES-AV, the held-out training images 37-40, or the training "
        "images 21-36 that the model learnt from",
    )
    parser.add_argument(
        "--by-segment",
        action=argparse.BooleanOptionalAction,
        default=artery_vein.BY_SEGMENT,
        help="give each vessel segment one class (artery_vein.av_classes)",
    )
    parser.add_argument(
        "--artery-share",
        type=share,
        default=artery_vein.ARTERY_SHARE,
        metavar="S",
        help="balance each photograph's classes so that arteries hold this share of its vessel pixels (default: %(default)s, "
        "the median of RITE's training labels); 'none' leaves the model's balance (artery_vein.av_classes)",
    )
    parser.add_argument(
        "--bifurcation-weight",
        type=float,
        default=artery_vein.BIFURCATION_WEIGHT,
        metavar="W",
        help="with --by-segment, the share of its neighbours' votes at bifurcations that a segment gains "
        "(artery_vein.av_classes)",
    )
    parser.add_argument(
        "--crossing-weight",
        type=float,
        default=artery_vein.CROSSING_WEIGHT,
        metavar="W",
        help="with --by-segment, the share of the vote of the segment that continues it through a crossing that "
        "a segment gains; 1 joins the two (artery_vein.av_classes)",
    )
    parser.add_argument(
        "--av-disc-scale",
        action=argparse.BooleanOptionalAction,
        default=artery_vein.AT_DISC_SCALE,
        help="take the artery and vein outputs at the FOV width that brings the disc to DRIVE's size "
        "(artery_vein.disc_fov_width), when it is much larger; the vessel output stays the first width's",
    )
    parser.add_argument(
        "--av-fov-diameters",
        type=int,
        nargs="+",
        default=list(artery_vein.AV_FOV_DIAMETERS),
        metavar="PX",
        help="the FOV widths the artery and vein outputs are averaged over; the vessel output is the "
        "first's (artery_vein.combine_scales)",
    )
    parser.add_argument("--weights", default=str(ARTERY_VEIN_WEIGHTS), help="the artery/vein model's weights")
    parser.add_argument(
        "--av-vessels",
        choices=artery_vein.AV_VESSELS_SOURCES,
        default=artery_vein.AV_VESSELS,
        help="the vessels the classes are drawn on: the artery/vein model's vessel output, the vessel "
        "model's map (probability at least 0.5, at the first of --av-fov-diameters), or the vessel "
        "model's where the disc marks a camera unlike DRIVE's (artery_vein.vessel_model_under_classes); "
        "the disc is located on the artery/vein model's vessel output either way",
    )
    parser.add_argument(
        "--vessel-weights",
        default=str(IMAGES_DEFAULT_WEIGHTS),
        metavar="FILE",
        help="the vessel model of --av-vessels, as predict.py --images runs it",
    )
    parser.add_argument(
        "--widths",
        choices=calibre.WIDTH_SOURCES,
        default=calibre.WIDTH_SOURCE,
        help="what the model's zone B widths are read from: its binary class map, the vessel probability at the "
        "level that drew it, or at half its peak, as it is or calibrated on RITE 21-36 by an offset or a factor "
        "(calibre.zone_vessels, calibre.calibrated); manual labels are read as binary",
    )
    parser.add_argument(
        "--zone-b-scale",
        choices=calibre.ZONE_B_SCALES,
        default=calibre.MODEL_ZONE_B_SCALE,
        help="where the model's zone B is measured on a photograph whose FOV is wider than the network's 540 px: "
        "resampled to the network's scale, or at the photograph's own size (calibre.zone_vessels_at_scale); "
        "manual labels are measured at their own size",
    )
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True, help="average the four flips")
    parser.add_argument("--output-dir", default=str(OUTPUT_DIR / "artery_vein_agreement"), help="where it writes")
    args = parser.parse_args(argv)
    for name in ("bifurcation_weight", "crossing_weight"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} cannot be negative, got {getattr(args, name):g}.")
    if min(args.av_fov_diameters) < segment.MIN_IMAGE_SIZE:
        parser.error(f"--av-fov-diameters must each be at least {segment.MIN_IMAGE_SIZE} pixels.")
    return args


def share(text):
    """--artery-share's value: a share strictly between 0 and 1, or None for 'none'."""
    if text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"takes a share between 0 and 1, or 'none', not {text!r}")
    return value


def photographs(name):
    """[(stem, photograph path, FOV mask path, label path, zone B path or None)] of a set, or a
    FileNotFoundError that names the folder."""
    if name == "rite":
        drive, rite, zones = find_drive_dir(), dataset_dir("RITE"), dataset_dir("DRIVE_zoneB")
        if rite is None or zones is None:
            raise FileNotFoundError(
                "RITE and DRIVE_zoneB are needed: set RITE_DIR and DRIVE_ZONEB_DIR, or put "
                "them in input/ or ../shared/."
            )
        return [
            (
                f"{index:02d}",
                drive / "test" / "images" / f"{index:02d}_test.tif",
                drive / "test" / "mask" / f"{index:02d}_test_mask.gif",
                rite / "test" / "av" / f"{index:02d}_test_av.png",
                zones / f"{index:02d}_test_B.png",
            )
            for index in range(1, 21)
        ]
    if name in ("validation", "training"):
        drive, rite = find_drive_dir(), dataset_dir("RITE")
        if rite is None:
            raise FileNotFoundError("RITE is needed: set RITE_DIR, or put it in input/RITE or ../shared/RITE.")
        return [
            (
                f"{index}",
                drive / "training" / "images" / f"{index}_training.tif",
                drive / "training" / "mask" / f"{index}_training_mask.gif",
                rite / "training" / "av" / f"{index}_training_av.png",
                None,
            )
            for index in (range(37, 41) if name == "validation" else range(21, 37))
        ]
    lesav = dataset_dir("LESAV")
    if lesav is None:
        raise FileNotFoundError("LES-AV is needed: set LESAV_DIR, or put it in input/LESAV or ../shared/LESAV.")
    return [
        (path.stem, path, lesav / "mask" / f"{path.stem}_mask.gif", lesav / "av" / f"{path.stem}_av.png", None)
        for path in sorted((lesav / "images").glob("*.png"))
    ]


def score_set(name, model, normalisation, args, out_dir, vessel_model=None):
    """(classification scores, disc errors or None, model rows, manual rows) of one set; the
    `vessel_model` (model, normalisation) maps the vessels where --av-vessels asks for them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts, disc_errors, model_rows, manual_rows, matched = [], [], [], [], []
    files = photographs(name)
    for number, (stem, image_path, mask_path, label_path, zone_path) in enumerate(files, start=1):
        image = read_rgb_image(image_path)
        fov = read_binary_map(mask_path).astype(bool)
        labels = artery_vein.read_av_labels(label_path)
        probabilities, estimate, width = artery_vein.segment_artery_vein(
            model, image, fov, normalisation, args.tta, args.av_fov_diameters, args.av_disc_scale
        )
        if width is not None:
            print(f"    a large disc: arteries and veins at FOV width {width} px", flush=True)
        # Photograph pixels per network pixel, at the first width, which drew the vessels.
        scale = 1 / segment.network_scales(fov, args.av_fov_diameters[:1])[0]
        probabilities, under, drawn = artery_vein.vessels_under_classes(
            probabilities,
            estimate,
            fov,
            args.av_fov_diameters[0],
            scale,
            lambda: segment.segment_photograph(
                vessel_model[0],
                image,
                fov,
                tta=args.tta,
                normalisation=vessel_model[1],
                fov_diameters=args.av_fov_diameters[:1],
            ),
            source=args.av_vessels,
        )
        if drawn:
            print("    classes drawn on the vessel model's map", flush=True)
        classes = artery_vein.classes_at_network_scale(
            probabilities,
            fov,
            lambda drawn_on: artery_vein.av_classes(
                drawn_on,
                by_segment=args.by_segment,
                artery_share=args.artery_share,
                bifurcation_weight=args.bifurcation_weight,
                crossing_weight=args.crossing_weight,
            ),
        )
        Image.fromarray(artery_vein.av_colour_map(classes)).save(out_dir / f"{stem}_av.png")
        counts.append(artery_vein.av_counts(classes, labels, fov))
        if zone_path is not None:
            ring = np.asarray(Image.open(zone_path).convert("L")) > 127
            centre, diameter = ring_centre(ring), ZONE_B_DISC_DIAMETER
            disc_errors.append(float(np.hypot(estimate.centre[0] - centre[0], estimate.centre[1] - centre[1])))
        else:
            centre, diameter = estimate.centre, estimate.diameter_px
        model_row = measure_photograph(
            stem,
            classes,
            fov,
            image=image,
            disc_centre=centre,
            disc_diameter=diameter,
            probability=under,
            width_source=args.widths,
            zone_b_scale=args.zone_b_scale,
        )
        manual_row = measure_photograph(stem, labels, fov, image=image, disc_centre=centre, disc_diameter=diameter)
        save_clinical_figure(out_dir / f"{stem}_clinical.png", image, classes, model_row)
        model_rows.append(model_row)
        manual_rows.append(manual_row)
        matched += matched_vessels(stem, model_row, manual_row, MATCH_TOLERANCE_DD * diameter, scale)
        print(
            f"[{number}/{len(files)}] {name} {stem}: CRAE {model_row['crae_px']:.2f} / {manual_row['crae_px']:.2f} px, "
            f"CRVE {model_row['crve_px']:.2f} / {manual_row['crve_px']:.2f} px (model / manual)",
            flush=True,
        )
    write_clinical_csv(out_dir / "clinical_model.csv", model_rows)
    write_clinical_csv(out_dir / "clinical_manual.csv", manual_rows)
    write_matched_vessels(out_dir, name, matched)
    pooled = artery_vein.scores_from_counts({key: sum(count[key] for count in counts) for key in counts[0]})
    return pooled, (disc_errors or None), model_rows, manual_rows, matched


def matched_vessels(stem, model_row, manual_row, tolerance, scale):
    """The zone B vessels of one photograph's model and manual rows (measure_photograph's) that
    match one to one within `tolerance` pixels, as MATCHED_COLUMNS dicts; `scale` is the
    photograph's pixels per network pixel."""
    vessels = []
    for kind in ("artery", "vein"):
        model_vessels, manual_vessels = model_row["vessels"][kind], manual_row["vessels"][kind]
        for manual_index, model_index in matched_pairs(model_vessels, manual_vessels, tolerance):
            manual, model = manual_vessels[manual_index], model_vessels[model_index]
            vessels.append(
                {
                    "image": stem,
                    "class": kind,
                    "x": manual["x"],
                    "y": manual["y"],
                    "manual_width_px": manual["width_px"],
                    "model_width_px": model["width_px"],
                    "network_pixel_px": scale,
                }
            )
    return vessels


def write_matched_vessels(out_dir, name, matched):
    """matched_vessels.csv, one row per matched vessel, and bland_altman_vessels.png, the
    model-minus-manual widths of arterioles and venules against their means."""
    write_rows(out_dir / "matched_vessels.csv", matched, MATCHED_COLUMNS)
    rows = {side: [] for side in ("model", "manual")}
    for vessel in matched:
        for side in rows:
            width = vessel[f"{side}_width_px"]
            is_artery = vessel["class"] == "artery"
            rows[side].append(
                {"arteriole_px": width if is_artery else np.nan, "venule_px": np.nan if is_artery else width}
            )
    save_bland_altman(
        out_dir / "bland_altman_vessels.png",
        rows["model"],
        rows["manual"],
        ("arteriole_px", "venule_px"),
        f"{SET_LABELS[name]}: matched zone B vessels",
        points="vessels",
    )


def tables(name, pooled, disc_errors, model_rows, manual_rows, matched):
    """The Markdown lines of one set's results; `matched` holds the zone B vessels matched one to
    one (matched_vessels)."""
    lines = [
        f"### {SET_LABELS[name]}",
        "",
        f"A/V accuracy {pooled['accuracy']:.4f} over the labelled artery and vein pixels marked as vessel "
        f"({pooled['detected_fraction']:.1%} of them); artery F1 {pooled['artery_f1']:.4f}, vein F1 "
        f"{pooled['vein_f1']:.4f}.",
        "",
    ]
    if disc_errors:
        errors = np.array(disc_errors)
        lines += [
            f"Optic disc centre against the zone B rings: mean error {errors.mean():.1f} px, largest "
            f"{errors.max():.1f} px, {np.count_nonzero(errors <= DISC_TOLERANCE_PX)} of {len(errors)} within "
            f"{DISC_TOLERANCE_PX} px.",
            "",
        ]
    lines += [
        "| measure | mean manual | mean model | Pearson r | ICC(A,1) | mean difference (95% limits) | bias |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for measure in MEASURES + ZONE_C_MEASURES:
        model = np.array([row[measure] for row in model_rows], dtype=float)
        manual = np.array([row[measure] for row in manual_rows], dtype=float)
        row = agreement_row(model, manual)
        lines.append(
            f"| {measure} | {row['mean_reference']:.3f} | {row['mean_values']:.3f} | {row['pearson_r']:.3f} "
            f"| {row['icc']:.3f} | {row['mean_difference']:+.3f} ({row['lower_limit']:+.3f}, "
            f"{row['upper_limit']:+.3f}) | {row['bias_share']:+.1%} |"
        )
    usable = sum(np.isfinite(row["crae_px"]) and np.isfinite(row["crve_px"]) for row in model_rows)
    lines += [
        "",
        f"{usable} of {len(model_rows)} photographs with both figures from the model's maps; "
        "photographs where either side has no figure are left out of that measure's row.",
        "",
    ]
    if matched:
        manual, model, scales = (
            np.array([vessel[key] for vessel in matched])
            for key in ("manual_width_px", "model_width_px", "network_pixel_px")
        )
        differences = model - manual
        arterioles = sum(vessel["class"] == "artery" for vessel in matched)
        spread = differences.std(ddof=1) if len(matched) > 1 else float("nan")
        lines += [
            f"Zone B vessels matched one to one with the manual ones of their class (label points within "
            f"{MATCH_TOLERANCE_DD:g} disc diameters): {len(matched)} ({arterioles} arterioles, "
            f"{len(matched) - arterioles} venules); model minus manual width {differences.mean():+.2f} px on "
            f"average ({np.mean(differences / scales):+.3f} of the network's pixels), standard deviation "
            f"{spread:.2f} px; the manual widths' mean over the model's {manual.mean() / model.mean():.4f}.",
            "",
        ]
    return lines + exchanged_lines(model_rows, manual_rows)


def exchanged_lines(model_rows, manual_rows):
    """The Markdown lines that tell the model's widths from its choice of zone B vessels in the
    disagreement: CRAE, CRVE and AVR again with the matched vessels' widths exchanged
    (agreement.exchanged_widths), and a table of, per class, the vessels that each side measures
    and those of each side's six widest with no match on the other side (widest_unmatched)."""
    kinds = ("artery", "vein")
    summaries = {side: {kind: [] for kind in kinds} for side in ("model", "manual")}
    counts = {kind: [] for kind in kinds}
    for model_row, manual_row in zip(model_rows, manual_rows):
        tolerance = MATCH_TOLERANCE_DD * manual_row["disc_diameter_px"]
        for kind, other in zip(kinds, reversed(kinds)):
            model_vessels, manual_vessels = model_row["vessels"][kind], manual_row["vessels"][kind]
            pairs = matched_pairs(model_vessels, manual_vessels, tolerance)
            for side, widths in zip(summaries, exchanged_widths(model_vessels, manual_vessels, pairs)):
                summaries[side][kind].append(calibre.central_equivalent(widths, kind))
            counts[kind].append(
                (
                    len(model_vessels),
                    len(manual_vessels),
                    *widest_unmatched(
                        model_vessels, {model for _, model in pairs}, manual_row["vessels"][other], tolerance
                    ),
                    *widest_unmatched(
                        manual_vessels, {manual for manual, _ in pairs}, model_row["vessels"][other], tolerance
                    ),
                )
            )
    reference = {
        kind: np.array([row[measure] for row in manual_rows], float)
        for kind, measure in (("artery", "crae_px"), ("vein", "crve_px"))
    }
    phrases = []
    for side in summaries:
        crae, crve = (np.array(summaries[side][kind]) for kind in kinds)
        with np.errstate(divide="ignore", invalid="ignore"):
            rows = [
                agreement_row(crae, reference["artery"]),
                agreement_row(crve, reference["vein"]),
                agreement_row(crae / crve, reference["artery"] / reference["vein"]),
            ]
        phrases.append(
            " / ".join(f"{row['icc']:.3f}" for row in rows)
            + " (biases "
            + " / ".join(f"{row['bias_share']:+.1%}" for row in rows)
            + ")"
        )
    lines = [
        "CRAE / CRVE / AVR ICC(A,1) with the matched zone B vessels' widths exchanged: the model's vessels "
        f"at their matches' manual widths {phrases[0]}; the manual vessels at their matches' model widths "
        f"{phrases[1]}. The first keeps the model's choice of vessels, the second its widths.",
        "",
        "| class | zone B vessels per photograph, model / manual | of each side's six widest, without a match "
        "on the other side, model / manual | of those, where the other side has the other class |",
        "| --- | --- | --- | --- |",
    ]
    for kind, name in zip(kinds, ("arterioles", "venules")):
        measured = np.array(counts[kind])
        means, totals = measured[:, :2].mean(axis=0), measured[:, 2:].sum(axis=0)
        lines.append(
            f"| {name} | {means[0]:.1f} / {means[1]:.1f} | {totals[0]} of {totals[1]} / {totals[3]} of {totals[4]} "
            f"| {totals[2]} / {totals[5]} |"
        )
    return lines + [""]


def widest_unmatched(vessels, matched, others, tolerance):
    """(unmatched, considered, beside another class): of the six widest of one side's zone B
    vessels of a class (zone_vessels lists them widest first), how many have no match on the other
    side (their indices not in `matched`), how many were looked at, and how many of the unmatched
    lie within `tolerance` pixels of one of the other side's vessels of the other class, `others`:
    a vessel that the other side measured, but called the other class."""
    unmatched = [vessel for index, vessel in enumerate(vessels[: calibre.VESSELS_SUMMARISED]) if index not in matched]
    beside = sum(
        any(np.hypot(vessel["x"] - other["x"], vessel["y"] - other["y"]) <= tolerance for other in others)
        for vessel in unmatched
    )
    return len(unmatched), min(len(vessels), calibre.VESSELS_SUMMARISED), beside


def main(args):
    loaded = load_artery_vein_model(args.weights)
    if loaded is None:
        raise FileNotFoundError(f"No artery/vein model at {args.weights}: train it with tools/train_artery_vein.py.")
    model, normalisation = loaded
    vessel_model = None
    if args.av_vessels != "artery-vein":
        choices = resolve_models(weights=[args.vessel_weights])
        vessel_model = (load_models(choices, "float32"), choices[0].normalisation)
    out_root = Path(args.output_dir)
    lines = [
        f"Artery/vein model {args.weights}, {'TTA' if args.tta else 'one pass'}"
        f"{', one class per vessel segment' if args.by_segment else ''}"
        f"{f', arteries balanced to {args.artery_share:.1%} of vessel pixels' if args.artery_share else ''}"
        f"{f', neighbours weighted {args.bifurcation_weight:g} at bifurcations' if args.bifurcation_weight else ''}"
        f"{f', segments joined through crossings at weight {args.crossing_weight:g}' if args.crossing_weight else ''}"
        f"{', arteries and veins at the disc scale where it is larger' if args.av_disc_scale else ''}"
        f", arteries and veins at FOV widths {', '.join(str(width) for width in args.av_fov_diameters)} px"
        f", the classes' vessels: {args.av_vessels}"
        f"{f' ({args.vessel_weights})' if args.av_vessels != 'artery-vein' else ''}"
        f", the model's widths read from {WIDTH_PHRASES[args.widths]}"
        f", its zone B measured at {ZONE_B_PHRASES[args.zone_b_scale]}.",
        "",
    ]
    for name in args.sets:
        pooled, disc_errors, model_rows, manual_rows, matched = score_set(
            name, model, normalisation, args, out_root / name, vessel_model
        )
        lines += tables(name, pooled, disc_errors, model_rows, manual_rows, matched)
        save_bland_altman(
            out_root / name / "bland_altman.png",
            model_rows,
            manual_rows,
            MEASURES,
            f"{SET_LABELS[name]}: model against manual labels",
        )
    text = "\n".join(lines)
    (out_root / "agreement.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    try:
        main(get_args())
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
