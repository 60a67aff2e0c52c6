"""Segment the 20 DRIVE test images whole, score them inside the FOV, and draw the results.

    python predict.py                                   # the default model (weights/unet_camera_scratch), with TTA
    python predict.py --no-tta                          # one pass per image, the blog's method
    python predict.py --precision bfloat16              # faster where bfloat16 is native
    python predict.py --run output/baseline_aug         # the model a training run produced
    python predict.py --weights my.weights.h5 --encoder scratch --name mine
    python predict.py --weights a.weights.h5 b.weights.h5   # an ensemble: the two models' maps averaged
    python predict.py --images photos/                  # your own photographs (weights/unet_soup60): vessels, A/V, CRAE/CRVE/AVR
    python predict.py --images DIR --disc-centre 480 290 --disc-diameter 80 --pixel-size-um 12
    python predict.py --images DIR --field-degrees 45        # micrometres from the camera's field, not the disc
    python predict.py --images DIR --labels DIR --masks DIR   # and scored, e.g. CHASE_DB1 as it ships
    python predict.py --images DIR --fov-diameters 540 450 380   # a camera with a narrower field (30 degrees)
    python predict.py --images DIR --fov-diameters auto # the widths chosen from the folder's optic discs
    python predict.py --images DIR --no-figures         # maps, scores and tables only, for large batches
    python predict.py --images DIR --recursive          # and its subfolders: a DICOM export, a folder per patient
    python predict.py --images DIR --cluster local:2    # on a Dask cluster: here, or tcp://scheduler:8786

The four flips of each image are averaged (test-time augmentation, --tta) by default: on
training images held out from training, it raised the AUC of models trained with the previous
default's recipe and with the current one's (docs/results/drive.md). --no-tta makes one pass per image,
as the blog did, and takes about a quarter of the segmentation time. --precision bfloat16
computes in bfloat16 with the same weights: on held-out training images it scored within 0.0001
of float32, at half the time on the development CPU (docs/performance.md); float32 stays the
default because it gives the same numbers on every machine, and bfloat16 is slower than float32
where the hardware lacks it.

DRIVE mode (vesselseg/inference/drive_test.py) writes output/<name>/test/: NN_prob.npy (float32
584x565 probabilities), NN_prob.png, NN_prediction.png and NN_difference.png per image,
difference_grid.png, curves.png, metrics.json (pooled and per image, vs 1st_manual and
2nd_manual) and per_image.csv; then it regenerates output/results.md and output/results.json
from every evaluated run. --no-figures leaves out the figures (the PNGs but NN_prob.png) in both
modes.
--images mode (vesselseg/cohort/) writes output/<name>/<the photographs' folder name>/ (with its
parent's name before it for a folder named images): per photograph a probability map, a binary
vessel map, its FOV and an overlay, and, with the artery/vein model (--clinical, the default),
<stem>_av.png (artery red, vein blue) and <stem>_clinical.png (the disc, zones B and C and each
measured vessel's width); for the folder manifest.jsonl (one line per photograph: done, skipped
or failed, why, its quality, figures and seconds), settings.json, each photograph's vessel
fraction and vessel measurements, clinical.csv (disc, CRAE, CRVE, AVR and the rest,
vesselseg/measurement/calibre.py; widths read from the vessel probability under the classes),
zone_vessels.csv (each vessel measured in zones B and C: class, width, place, whether summarised),
and with --labels the scores and a difference grid. The same command run again resumes: it
skips the photographs done and does the rest; other settings on the same folder are refused
unless --overwrite. Without DRIVE and without --images it runs on scikit-image's sample retina.
"""

import argparse
import os
import sys
from pathlib import Path

from vesselseg import quiet_startup  # noqa: F401  (before TensorFlow loads: drops its start-up noise)
from vesselseg.cli import HelpFormatter, add_disc_flags, add_field_degrees_flag, add_version_flag, summary
from vesselseg.cohort import cluster
from vesselseg.cohort.field_width import NARROW_FIELD_DISC_PX, folder_fov_diameters
from vesselseg.cohort.folder_settings import AUTO, folder_settings
from vesselseg.cohort.manifest import OutputFolder, OutputWriteError, read_settings, version_note
from vesselseg.cohort.run import ModelSpec, load_networks, predict_folder
from vesselseg.cohort.work import TTA_VIEWS, Options, companions_for
from vesselseg.data.drive_data import DEFAULT_INPUT_DIR, find_drive_dir_or_none
from vesselseg.data.image_files import (
    IMAGE_SUFFIXES,
    brief,
    check_distinct_stems,
    list_images,
    recursive_root,
    subfolders_with_images,
    unread_files,
)
from vesselseg.inference import drive_test, photographs, segment
from vesselseg.inference.models import (
    ARTERY_VEIN_WEIGHTS,
    DEFAULT_WEIGHTS,
    IMAGES_DEFAULT_WEIGHTS,
    load_models,
    relative_name,
    resolve_models,
)
from vesselseg.measurement import calibre
from vesselseg.measurement.clinical import check_field_degrees
from vesselseg.paths import OUTPUT_DIR
from vesselseg.results_table import write_results_table
from vesselseg.training import devices

THRESHOLD = 0.5
# --images batches inputs of one size bucket on a GPU. On the development CPU a batch of 4
# photographs cost more per input than single inputs, while the four flips of one photograph
# (with TTA) cost less as one call than as four (docs/performance.md, cohorts): so a CPU takes
# photographs one by one, and with TTA each photograph's four flips together.
IMAGES_BATCH_SIZE_ACCELERATOR = 4
# Photograph folder names that most public sets share (DRIVE, CHASE_DB1, LES-AV and DR HAGIS
# all keep theirs in images/): such a folder's output subfolder takes its parent's name as well,
# so that two sets' outputs land apart without --name.
SHARED_FOLDER_NAMES = ("images", "image", "imgs", "img")
# The flags of --images' photographs and clinical measures. DRIVE mode (no --images) scores the
# test images at DRIVE's own scale and measures no photograph, so it refuses them, other than at
# their defaults, rather than leave a user believing they acted.
IMAGES_ONLY_FLAGS = (
    "rim_fill",
    "fov_diameters",
    "av_weights",
    "pixel_size_um",
    "field_degrees",
    "disc_centre",
    "disc_diameter",
    "zone_b_scale",
    "min_quality",
)


def images_batch_size(tta):
    """Network inputs per forward pass for --images: IMAGES_BATCH_SIZE_ACCELERATOR on a GPU; on a
    CPU one photograph's views, which share a size, so that no batch mixes photographs."""
    if devices.accelerator_present():
        return IMAGES_BATCH_SIZE_ACCELERATOR
    return TTA_VIEWS if tta else 1


def parse_fov_diameters(values):
    """--fov-diameters' words as a tuple of widths in pixels, or AUTO; ValueError otherwise."""
    if list(values) == [AUTO]:
        return AUTO
    try:
        widths = tuple(int(value) for value in values)
    except ValueError:
        raise ValueError(f"--fov-diameters takes widths in pixels, or 'auto' alone; got {' '.join(values)}.") from None
    if min(widths) < segment.MIN_IMAGE_SIZE:
        raise ValueError(f"--fov-diameters must each be at least {segment.MIN_IMAGE_SIZE} pixels, got {list(widths)}.")
    return widths


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    add_version_flag(parser)
    parser.add_argument("--run", help="training run folder (output/<run-name>); reads its config and weights")
    parser.add_argument(
        "--weights",
        nargs="+",
        metavar="FILE",
        help=f"weights file (default: {relative_name(DEFAULT_WEIGHTS)} for DRIVE, "
        f"{relative_name(IMAGES_DEFAULT_WEIGHTS)} with --images); several files "
        "make an ensemble that averages their maps, and must share an input normalisation",
    )
    parser.add_argument(
        "--encoder",
        choices=("scratch", "vgg16"),
        help="architecture of --weights that have no config.json beside them (default: scratch)",
    )
    parser.add_argument(
        "--name",
        help="output name (default: the run folder's name or the weights file's stem, "
        "plus _tta with --tta, _bfloat16 with --precision bfloat16 and, with --images, "
        "e.g. _fov540-450-380 with other --fov-diameters than 540)",
    )
    parser.add_argument("--data-dir", help="DRIVE folder (default: $DRIVE_DIR, input/DRIVE or input/)")
    parser.add_argument("--images", help="a photograph or a folder of them, instead of DRIVE")
    parser.add_argument(
        "--recursive",
        action="store_true",
        help="with --images: read the photographs of its subfolders too, at any depth (a DICOM "
        "export, a folder per patient); outputs mirror the subfolders, the manifest names each "
        "photograph by its path under --images, and --masks and --labels hold the same subfolders",
    )
    parser.add_argument("--masks", help="folder of FOV masks for --images, matched by file stem (default: estimated)")
    parser.add_argument(
        "--labels",
        help="folder of vessel annotations for --images, matched by file stem, to score: two-level images, "
        "or artery/vein labels in RITE's coding (0 to 3), every class counted as vessel",
    )
    parser.add_argument(
        "--rim-fill",
        type=float,
        default=segment.RIM_FILL_PX,
        metavar="PX",
        help="with --images and a model trained on standardised input: fill the FOV's outer PX "
        "pixels (at the scale the network sees) from further in, so that a mask's dark rim is "
        "not taken for a vessel (default: 0, off; 6 suits unet_camera on CHASE_DB1's masks)",
    )
    parser.add_argument(
        "--fov-diameters",
        nargs="+",
        default=list(map(str, segment.PHOTOGRAPH_FOV_DIAMETERS)),
        metavar="PX",
        help="with --images: segment each photograph with its FOV rescaled to each of "
        "these widths in pixels and average the maps; 540 is DRIVE's, right for "
        "45-degree cameras; for narrower fields such as CHASE_DB1's 30 degrees, "
        f"{' '.join(map(str, segment.NARROW_FIELD_FOV_DIAMETERS))} (docs/results/other_cameras.md), "
        "at about twice the segmentation time; 'auto' chooses between the two from the median size "
        "of the folder's optic discs (docs/predict.md, scale; default: 540)",
    )
    parser.add_argument("--output-dir", default=str(OUTPUT_DIR), help="where output/<name>/ goes")
    parser.add_argument(
        "--threshold",
        type=float,
        default=THRESHOLD,
        help="probability from which a pixel counts as vessel, strictly between 0 and 1",
    )
    parser.add_argument(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="average the predictions of the four flips (chosen on held-out training images); "
        "--no-tta is the blog's single pass, four times faster",
    )
    parser.add_argument(
        "--precision",
        choices=tuple(segment.PRECISIONS),
        default="float32",
        help="arithmetic of the forward pass; bfloat16 is faster where the CPU or GPU has it, and is "
        "slower where bfloat16 is not native (the output folder gets _bfloat16)",
    )
    parser.add_argument(
        "--figures",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="draw the figures: per image the prediction and difference figures (DRIVE) or the "
        "overlay (--images), the difference grid and the curves; --no-figures writes only "
        "the maps, scores and tables, for large batches",
    )
    parser.add_argument(
        "--clinical",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --images: also segment arteries and veins with the artery/vein model, locate the "
        "optic disc and write <stem>_av.png, <stem>_clinical.png and clinical.csv (CRAE, CRVE, "
        "AVR); --no-clinical segments vessels only",
    )
    parser.add_argument(
        "--av-weights",
        metavar="FILE",
        help=f"the artery/vein model's weights (default: {relative_name(ARTERY_VEIN_WEIGHTS)})",
    )
    parser.add_argument(
        "--probability-arrays",
        action=argparse.BooleanOptionalAction,
        help="with --images: write <stem>_prob.npy, the probability map in float32, 4 bytes a pixel "
        "(3.8 MB for a 999x960 photograph, 64 MB for a 4000x4000 one); --no-probability-arrays keeps "
        "only the 8-bit <stem>_prob.png beside the binary map, for cohorts; not with --labels, whose "
        "pooled scores a resumed run reads back from the arrays (default: written)",
    )
    add_disc_flags(parser, "the photograph's")
    parser.add_argument(
        "--pixel-size-um",
        type=float,
        metavar="UM",
        help="micrometres per pixel, for the clinical measures' micrometre columns (default: a "
        "calibrated DICOM photograph's Pixel Spacing, else its Horizontal Field of View, else "
        "--field-degrees, else the disc diameter taken as 1,800 um)",
    )
    add_field_degrees_flag(parser)
    parser.add_argument(
        "--zone-b-scale",
        choices=calibre.ZONE_B_SCALES,
        metavar="{photograph,network}",
        help="with --images: where zone B (and zone C alike) is measured on a photograph whose FOV is wider "
        "than the network's 540 px: 'network', on the maps resampled to the network's scale, takes most of "
        "the rise of CRAE with resolution away but moves CRVE by a few per cent the other way "
        "(docs/results/artery_vein.md, the same photograph at higher resolution); for comparing cameras of "
        "different resolutions (default: photograph)",
    )
    parser.add_argument(
        "--min-quality",
        type=float,
        default=0.0,
        metavar="Q",
        help="with --images: skip photographs whose quality score (0-1, in the manifest with its grade: "
        "good from 0.7, usable from 0.4, poor below) is under Q; by default none are skipped and poor "
        "ones are flagged",
    )
    parser.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="with --images: run on a Dask cluster, 'local:N' for N worker processes on this machine or "
        "a scheduler's address such as tcp://10.0.0.1:8786 (docs/predict.md, cohorts)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar and no per-photograph notes: warnings, failures and the summary only",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        help=f"network inputs per forward pass (default: {segment.PREDICT_BATCH_SIZE} on DRIVE; with --images "
        f"{IMAGES_BATCH_SIZE_ACCELERATOR} on a GPU; on a CPU one photograph's views: 4 with --tta, 1 without)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing outputs; with --images, redo every photograph (only this project's files are removed)",
    )
    args = parser.parse_args(argv)
    args.fov_diameters = parse_fov_diameters(args.fov_diameters)
    return args


def output_name(args, model_name):
    """--name, or the model's name plus each inference setting, so that no setting refuses another."""
    widths = args.fov_diameters
    suffixes = ("_tta" if args.tta else "") + ("_bfloat16" if args.precision == "bfloat16" else "")
    if args.images and widths != segment.PHOTOGRAPH_FOV_DIAMETERS:
        suffixes += "_fov" + (AUTO if widths == AUTO else "-".join(map(str, widths)))
    return args.name or model_name + suffixes


def prepare_output(folder, overwrite):
    """Make the output folder; FileExistsError when it holds results and not `overwrite`, and one
    clear error, not a traceback, when it cannot be made or written to."""
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"{folder} already holds results; pass --overwrite to replace them.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FileExistsError(f"cannot make the output folder {folder}: {error.strerror or error}.") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise FileExistsError(f"cannot write to the output folder {folder}: permission denied.")
    return folder


def photograph_files(args):
    """The photographs of --images, checked for outputs that would collide; without --images and
    without DRIVE, scikit-image's sample retina."""
    if args.images is None:
        import skimage.data

        sample = Path(skimage.data.__file__).parent / "retina.jpg"
        print(
            f"No DRIVE found (unzip it into {DEFAULT_INPUT_DIR}, see input/README.md); "
            f"segmenting scikit-image's sample retina {sample} instead."
        )
        return [sample]
    folder, root = Path(args.images).is_dir(), images_root(args)
    recursive = root is not None
    files = list_images(args.images, recursive=recursive, recursive_flag="--recursive")
    check_distinct_stems(files, root)
    nested = subfolders_with_images(args.images) if folder and not recursive else []
    if nested:
        print(
            f"note: {len(nested)} subfolder(s) of {args.images} hold photographs that are not read ({brief(nested)})."
        )
    unread = unread_files(args.images, recursive=recursive) if folder else []
    if unread:
        print(
            f"note: {len(unread)} file(s) of {args.images} are not read ({brief(unread)}): "
            f"photographs are read from {', '.join(sorted(IMAGE_SUFFIXES))} files, and from DICOM files named "
            "without a suffix or by their UID."
        )
    return files


def main(args):
    """Check the flags, then run DRIVE mode, or --images where it is given or DRIVE is not found."""
    check_args(args)
    drive_dir = None if args.images else find_drive_dir_or_none(args.data_dir)
    return predict_drive(args, drive_dir) if drive_dir else predict_images(args)


def check_args(args):
    """ValueError for flags out of range or given to the wrong mode; fills in --batch-size."""
    if args.batch_size is None:
        args.batch_size = segment.PREDICT_BATCH_SIZE if not args.images else images_batch_size(args.tta)
    if args.batch_size < 1:
        raise ValueError("--batch-size must be at least 1.")
    if not 0 < args.threshold < 1:
        raise ValueError(f"--threshold must lie strictly between 0 and 1, got {args.threshold:g}.")
    if args.rim_fill < 0:
        raise ValueError(f"--rim-fill must be 0 (off) or a positive number of pixels, got {args.rim_fill:g}.")
    if (args.masks or args.labels or args.cluster or args.recursive or args.probability_arrays is not None) and not (
        args.images
    ):
        raise ValueError("--masks, --labels, --cluster, --recursive and --probability-arrays go with --images.")
    if args.probability_arrays is False and args.labels:
        raise ValueError(
            "--no-probability-arrays cannot go with --labels: a resumed run reads the pooled scores of the "
            "photographs done before back from their <stem>_prob.npy."
        )
    if args.cluster:
        cluster.check_address(args.cluster)
    if not 0 <= args.min_quality <= 1:
        raise ValueError(f"--min-quality must lie between 0 and 1, got {args.min_quality:g}.")
    for flag in ("disc_diameter", "pixel_size_um"):
        if getattr(args, flag) is not None and getattr(args, flag) <= 0:
            raise ValueError(f"--{flag.replace('_', '-')} must be positive, got {getattr(args, flag):g}.")
    check_field_degrees(args.field_degrees, args.pixel_size_um)


def predict_drive(args, drive_dir):
    """DRIVE mode (drive_test.py): segment and score the test images, then rebuild the results table."""
    given = images_only_flags_given(args)
    if given:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in given)
        raise ValueError(
            f"{flags} {'goes' if len(given) == 1 else 'go'} with --images: without it predict.py scores DRIVE's test images at their own scale and "
            "measures no photograph."
        )
    choices = resolve_models(args.run, args.weights, args.encoder)
    name = output_name(args, "+".join(choice.name for choice in choices))
    out_dir = Path(args.output_dir) / name / "test"
    # Load first: a wrong weights file must leave nothing behind.
    model = load_models(choices, args.precision)
    describe_models(choices, args.precision)
    prepare_output(out_dir, args.overwrite)
    metrics = drive_test.segment_and_score(
        model,
        drive_dir,
        out_dir,
        choices,
        batch_size=args.batch_size,
        tta=args.tta,
        precision=args.precision,
        threshold=args.threshold,
        draw_figures=args.figures,
    )
    drive_test.print_pooled(metrics)
    write_results_table(Path(args.output_dir))
    print(f"Wrote {out_dir} and {Path(args.output_dir) / 'results.md'}")
    return 0


def images_only_flags_given(args):
    """The IMAGES_ONLY_FLAGS that `args` sets to other than their defaults."""
    defaults = get_args([])
    return [name for name in IMAGES_ONLY_FLAGS if getattr(args, name) != getattr(defaults, name)]


def describe_models(choices, precision):
    for choice in choices:
        print(f"Model: {choice.weights} ({choice.encoder}, input normalisation {choice.normalisation})")
    if len(choices) > 1:
        print(f"Ensemble of {len(choices)} models: their probabilities are averaged.")
    if precision == "bfloat16" and not devices.native_bfloat16():
        print(
            "warning: this machine shows no native bfloat16 (no GPU, no avx512_bf16 or amx_bf16 CPU flag); "
            "--precision bfloat16 will likely be slower than float32 here.",
            file=sys.stderr,
        )


def images_folder_name(args):
    """The output subfolder of --images: the photographs' folder's name (a file's folder for one
    file), with its parent's name before it when the name is one that most datasets share
    (CHASEDB1/images writes CHASEDB1_images), or sample_retina for scikit-image's."""
    if args.images is None:
        return "sample_retina"
    images = Path(args.images).resolve()
    folder = images if images.is_dir() else images.parent
    if folder.name.lower() in SHARED_FOLDER_NAMES and folder.parent.name:
        return f"{folder.parent.name}_{folder.name}"
    return folder.name


def images_root(args):
    """The folder that photographs' names are relative to with --recursive (work.Options), else None."""
    return recursive_root(args.images, args.recursive)


def check_output_outside(out_dir, args):
    """ValueError when a --recursive run would write inside the folder it reads: a later run would
    read its outputs as photographs."""
    root = images_root(args)
    if root and Path(out_dir).resolve().is_relative_to(Path(root).resolve()):
        raise ValueError(
            f"the output folder {out_dir} lies inside --images {root}, which --recursive reads whole; "
            "give an --output-dir outside it."
        )


def chosen_fov_diameters(files, args, out_dir):
    """--fov-diameters auto's choice for a folder (field_width.folder_fov_diameters), printed; a
    run being resumed keeps the choice its folder was begun with, so that photographs added to
    the folder since cannot change it half way."""
    previous = None if args.overwrite else read_settings(out_dir)
    if previous and previous.get("fov_diameters_chosen"):
        return previous["fov_diameters_chosen"]
    chosen = folder_fov_diameters(files, companions_for(args.masks, Options(images_root=images_root(args))))
    median, widths = chosen["median_disc_px"], " ".join(map(str, chosen["fov_diameters"]))
    sampled = f"{chosen['discs_found']} of {chosen['photographs_sampled']} photographs"
    if median is None:
        print(f"FOV widths {widths}: no disc found in {sampled}, so the 45-degree width")
    else:
        side = "at least" if median >= NARROW_FIELD_DISC_PX else "under"
        print(
            f"FOV widths {widths}: median disc {median:g} px at FOV 540 over {sampled}, "
            f"{side} the {NARROW_FIELD_DISC_PX} px that marks a narrow field"
        )
    return chosen


def predict_images(args):
    """--images (or the sample retina): segment, measure and score a folder, resumably."""
    photographs.check_folders(args)
    files = photograph_files(args)
    choices = resolve_models(args.run, args.weights, args.encoder, default=IMAGES_DEFAULT_WEIGHTS)
    name = output_name(args, "+".join(choice.name for choice in choices))
    out_dir = Path(args.output_dir) / name / images_folder_name(args)
    check_output_outside(out_dir, args)
    av_weights = Path(args.av_weights) if args.av_weights else ARTERY_VEIN_WEIGHTS
    clinical = args.clinical and (args.av_weights is not None or ARTERY_VEIN_WEIGHTS.is_file())
    if args.av_weights and not av_weights.is_file():
        raise FileNotFoundError(f"--av-weights {av_weights} does not exist.")
    if args.clinical and not clinical:
        print(f"note: no artery/vein model at {av_weights}; the clinical measures are left out.", file=sys.stderr)
    spec = ModelSpec(tuple(choices), str(av_weights) if clinical else None, args.precision, clinical)
    # Load first: a wrong weights file must leave nothing behind.
    networks = load_networks(spec)
    describe_models(choices, args.precision)
    settings = folder_settings(args, files, choices, spec, images_root(args))
    widths = args.fov_diameters
    if widths == AUTO:
        settings["fov_diameters_chosen"] = chosen_fov_diameters(files, args, out_dir)
        widths = tuple(settings["fov_diameters_chosen"]["fov_diameters"])
    options = Options(
        threshold=args.threshold,
        tta=args.tta,
        rim_fill=args.rim_fill,
        fov_diameters=widths,
        figures=args.figures,
        masks=args.masks,
        labels=args.labels,
        disc_centre=tuple(args.disc_centre) if args.disc_centre else None,
        disc_diameter=args.disc_diameter,
        pixel_size_um=args.pixel_size_um,
        field_degrees=args.field_degrees,
        zone_b_scale=args.zone_b_scale,
        min_quality=args.min_quality,
        probability_arrays=args.probability_arrays is not False,
        images_root=images_root(args),
    )
    folder = OutputFolder(out_dir, settings, args.overwrite)
    if folder.earlier_version is not None:
        print(version_note(out_dir, folder.earlier_version, settings["version"]), file=sys.stderr)
    try:
        failures = predict_folder(
            files, folder, options, spec, None if args.cluster else networks, args.batch_size, args.quiet, args.cluster
        )
    finally:
        folder.close()
    print(f"Wrote {out_dir}" + (f"; {failures} photograph(s) failed (manifest.jsonl says why)" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main(get_args()))
    except (ValueError, FileNotFoundError, FileExistsError, OutputWriteError) as error:
        sys.exit(f"error: {error}")
    except KeyboardInterrupt:
        sys.exit("interrupted: with --images, run the same command again to finish the photographs not yet done.")
