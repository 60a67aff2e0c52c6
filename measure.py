"""Measure vessel maps: fraction, skeleton length, width, branch and end points, tortuosity and
fractal dimension, one CSV row per map (vessel_measures.py says how each is measured).

    python measure.py output/unet_camera_scratch_tta/CHASEDB1_images   # predict.py's maps, at its threshold
    python measure.py ../shared/DRIVE/test/1st_manual --masks ../shared/DRIVE/test/mask --output /tmp/m.csv
    python measure.py my_map.png --pixel-size-um 12.5 --images photos/ --output my_map.csv
    python measure.py ../shared/RITE/test/av --masks ../shared/DRIVE/test/mask   # artery/vein labels
    python measure.py output/unet_soup60/cohort --recursive --no-figures   # predict.py --recursive's output

Artery/vein maps (RITE's coding: 0 background, 1 artery, 2 vein, 3 uncertain; or predict.py's
red and blue <stem>_av.png) are recognised as such, and also get the clinical measures of
vesselseg/measurement/calibre.py (CRAE, CRVE, AVR and the rest, one row each in <csv
stem>_clinical.csv, and each zone B and C vessel's width in <csv stem>_zone_vessels.csv) and a
figure <stem>_clinical.png; the disc is estimated from the photograph in --images, else from the
vessel map, unless --disc-centre and --disc-diameter give it. From the vessel map alone the disc
is where the wide vessels, uncertain ones included, are densest: on average 40 px from the disc's
centre on DRIVE's training labels (a disc is 80 px across), 9 px with their photographs: give
--images.
The widths are read from the binary map, as manual labels are; predict.py reads a model's from its
vessel probability (calibre.WIDTH_SOURCE), so its clinical.csv differs a little from this one's.
Micrometres come from --pixel-size-um, else, as in predict.py, from the Pixel Spacing of a
calibrated DICOM photograph in --images, else from the camera's field over the map's FOV (the
DICOM photograph's Horizontal Field of View, else --field-degrees), else from the disc's diameter
taken as 1,800 um.

MAPS is a map file or a folder of them: binary PNG/GIF/TIFF maps (any two grey levels), or
probability maps (.npy, or 8/16-bit grey PNG) cut at --threshold. In a folder of predict.py's
output, the *_prob.npy maps are measured (the *_prob.png maps where it wrote no arrays,
--no-probability-arrays), its other PNGs are left alone, and without --threshold the maps are cut
where predict.py cut them (the threshold in its settings.json or metrics.json). FOV masks in --masks
are matched by file stem, as predict.py matches them, or by DRIVE's leading id
(`01_manual1.gif` with `01_test_mask.gif`); without --masks, the <stem>_fov.png that predict.py
saved beside a map is its FOV, and otherwise the whole image counts.

Writes the CSV (default output/measure/<MAPS name>.csv), with the columns image,
vessel_fraction, skeleton_length_px, mean_width_px, branch_points, end_points, tortuosity,
fractal_dimension (and skeleton_length_mm, mean_width_um with --pixel-size-um), and beside it a
folder <csv stem>_figures/ with one figure per map: the skeleton coloured by local width over the
map, or over the photograph found in --images. The figure takes most of a map's time
(docs/performance.md): --no-figures leaves the figures out, for large folders.
"""

import argparse
import collections
import shutil
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vesselseg.artery_vein import BACKGROUND
from vesselseg.cli import add_disc_flags, add_field_degrees_flag, add_version_flag, progress_bar
from vesselseg.data.image_files import Companions, TreeCompanions, brief, photograph_name, recursive_root
from vesselseg.data.image_reading import dicom_field_degrees, dicom_pixel_size_um, read_rgb_image
from vesselseg.figures import save_clinical_figure, save_width_figure
from vesselseg.measurement import vessel_measures
from vesselseg.measurement.clinical import (
    check_field_degrees,
    measure_photograph,
    pixel_size_arguments,
    write_clinical_csv,
    write_zone_vessels_csv,
)
from vesselseg.measurement.maps import (
    NOTE_COLUMN,
    empty_row,
    list_maps,
    map_stem,
    measurement_row,
    read_av_classes,
    read_map,
    recorded_threshold,
    write_csv,
)
from vesselseg.paths import OUTPUT_DIR


def get_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    add_version_flag(parser)
    parser.add_argument("maps", help="a vessel map file, or a folder of them")
    parser.add_argument(
        "--recursive",
        action="store_true",
        help="read the maps of MAPS' subfolders too (predict.py --images --recursive's output); rows "
        "are named by their paths under MAPS, figures mirror the subfolders, and --masks and "
        "--images hold the same subfolders",
    )
    parser.add_argument("--masks", help="folder of FOV masks, matched by file stem or DRIVE id (default: whole image)")
    parser.add_argument(
        "--threshold",
        type=float,
        help="probability from which a pixel is vessel, for maps with more than two levels "
        "(required for them, except in predict.py's output folders, whose threshold is read from "
        "their settings.json or metrics.json; binary maps need none)",
    )
    parser.add_argument(
        "--pixel-size-um",
        type=float,
        help="pixel size in micrometres; adds millimetre and micrometre columns (the clinical measures' "
        "micrometres otherwise come from a calibrated DICOM photograph in --images, else from "
        "--field-degrees, else from the disc)",
    )
    add_field_degrees_flag(parser)
    parser.add_argument(
        "--images",
        help="folder of the photographs, matched by stem, to draw the skeleton over and to find the disc in",
    )
    parser.add_argument("--output", help="CSV file to write (default: output/measure/<MAPS name>.csv)")
    add_disc_flags(parser, "the map's")
    parser.add_argument(
        "--no-figures",
        action="store_true",
        help="write the CSVs only: for large folders, since a map's width figure takes most of its time",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing CSV and its figures")
    return parser.parse_args(argv)


def companions(files, args, root=None):
    """[(mask, photograph)]: for each map of `files`, the files of --masks and --images that belong
    to it (match_companion's rule), each None where its flag is absent or holds no such file.
    Each folder is listed once (Companions), so a folder of a hundred thousand maps is matched in
    seconds. With `root` (--recursive) they lie in the map's subfolder under it."""
    stems = collections.defaultdict(set)
    for path in files:
        stems[path.parent].add(map_stem(path))
    indexes = [TreeCompanions(folder, root) if root else Companions(folder) for folder in (args.masks, args.images)]
    return [tuple(index.find(path, map_stem(path), stems[path.parent]) for index in indexes) for path in files]


def check_companions(files, found, args, root=None):
    """Refuse, before any map is measured, a --masks or --images folder that holds no file for some
    of the maps: a folder of other photographs would otherwise be found out half way through, or
    not at all. `found`: companions' pair for each of `files`."""
    for flag, index, kind in (("masks", 0, "FOV mask"), ("images", 1, "photograph")):
        missing = [photograph_name(path, root) for path, pair in zip(files, found) if pair[index] is None]
        if getattr(args, flag) and missing:
            raise FileNotFoundError(
                f"--{flag} {getattr(args, flag)} holds no {kind} for {len(missing)} of the {len(files)} "
                f"map(s) ({brief(missing)}); each map is matched by its file stem or by DRIVE's leading number."
            )


def measure_file(path, args, figures_dir, found, root=None):
    """Measure one map file; returns its CSV row and, for an artery/vein map, its clinical.csv row.
    `found`: its FOV mask and photograph (companions). With `root` (--recursive) the map is named
    by its path under it, and its figures lie in the same subfolder of `figures_dir` (None for no
    figures, --no-figures)."""
    name = photograph_name(path, root)
    if figures_dir is not None:
        figures_dir = figures_dir / (path.parent.relative_to(root) if root else Path())
        figures_dir.mkdir(parents=True, exist_ok=True)
    classes = read_av_classes(path)
    vessels = classes != BACKGROUND if classes is not None else read_map(path, args.threshold)
    mask_path, photograph_path = found
    # predict.py --images saves the FOV it used beside each map, so that both count the same pixels.
    saved_fov = path.with_name(f"{map_stem(path)}_fov.png")
    if mask_path is None and saved_fov.is_file():
        mask_path = saved_fov
    fov = read_map(mask_path, None) if mask_path else None
    if not vessel_measures.inside_fov(vessels, fov).any():
        tqdm.write(f"note: {name} holds no vessel pixel in its FOV; its row says so.", file=sys.stderr)
        return empty_row(name), None
    values = vessel_measures.measure(vessels, fov)
    # The photograph serves the figures and the disc; a vessel map without figures needs neither.
    wanted = photograph_path and (figures_dir is not None or classes is not None)
    background = read_rgb_image(photograph_path) if wanted else None
    if background is not None and background.shape[:2] != vessels.shape:
        raise ValueError(f"{photograph_path} is not the size of its map {path}.")
    if figures_dir is not None:
        save_width_figure(
            figures_dir / f"{map_stem(path)}_widths.png",
            vessel_measures.inside_fov(vessels, fov),
            background,
            f"{name}: skeleton by width, mean {values['mean_width_px']:.2f} px",
        )
    clinical = None
    if classes is not None and args.field_degrees is not None and fov is None:
        raise ValueError(
            f"--field-degrees needs the FOV of {name}, whose width the field spans: give --masks, or measure "
            "the folder that predict.py wrote, which keeps each photograph's FOV."
        )
    if classes is not None:
        clinical = measure_photograph(
            name,
            classes,
            fov,
            image=background,
            disc_centre=args.disc_centre,
            disc_diameter=args.disc_diameter,
            **pixel_size_arguments(
                args.pixel_size_um,
                dicom_pixel_size_um(photograph_path) if photograph_path else None,
                args.field_degrees,
                fov,
                dicom_field_degrees(photograph_path) if photograph_path else None,
            ),
        )
        if figures_dir is not None:
            picture = background if background is not None else np.repeat(vessels[..., None] * 0.5, 3, axis=-1)
            save_clinical_figure(figures_dir / f"{map_stem(path)}_clinical.png", picture, classes, clinical)
    row = measurement_row(name, values, args.pixel_size_um)
    if NOTE_COLUMN in row:
        tqdm.write(f"warning: {name}: {row[NOTE_COLUMN]}.", file=sys.stderr)
    return row, clinical


def main(args):
    if args.threshold is not None and not 0 < args.threshold < 1:
        raise ValueError(f"--threshold must lie strictly between 0 and 1, got {args.threshold:g}.")
    if args.pixel_size_um is not None and args.pixel_size_um <= 0:
        raise ValueError(f"--pixel-size-um must be positive, got {args.pixel_size_um:g}.")
    check_field_degrees(args.field_degrees, args.pixel_size_um)
    for flag in ("masks", "images"):
        if getattr(args, flag) and not Path(getattr(args, flag)).is_dir():
            raise FileNotFoundError(f"--{flag} {getattr(args, flag)} is not a folder.")
    root = recursive_root(args.maps, args.recursive)
    files = list_maps(args.maps, recursive=root is not None)
    found = companions(files, args, root)
    check_companions(files, found, args, root)
    if args.threshold is None:
        args.threshold, record = recorded_threshold(args.maps)
        if record:
            print(
                f"Probability maps are cut at {args.threshold:g}, the threshold in {record}; --threshold overrides it."
            )
    output = Path(args.output) if args.output else OUTPUT_DIR / "measure" / f"{Path(args.maps).stem}.csv"
    output.parent.mkdir(parents=True, exist_ok=True)
    figures_dir = None if args.no_figures else output.with_name(f"{output.stem}_figures")
    existing = [str(written) for written in (output, figures_dir) if written is not None and written.exists()]
    if existing and not args.overwrite:
        verb = "exists" if len(existing) == 1 else "exist"
        raise FileExistsError(f"{' and '.join(existing)} {verb}; pass --overwrite to replace them.")
    created = figures_dir is not None and not figures_dir.exists()
    if figures_dir is not None:
        figures_dir.mkdir(parents=True, exist_ok=True)
    rows, clinical_rows = [], []
    with progress_bar(len(files), quiet=len(files) < 2, unit="map") as bar:
        for path, pair in zip(files, found):
            try:
                row, clinical = measure_file(path, args, figures_dir, pair, root)
                rows.append(row)
                if clinical is not None:
                    clinical_rows.append(clinical)
            except (ValueError, FileNotFoundError) as error:
                # A failed run leaves nothing behind, so that the same command can run again.
                if created:
                    shutil.rmtree(figures_dir)
                raise type(error)(str(error) if str(path) in str(error) else f"{path}: {error}") from error
            bar.update()
    write_csv(output, rows, args.pixel_size_um)
    print(f"Wrote {len(rows)} row(s) to {output}" + (f" and figures to {figures_dir}" if figures_dir else ""))
    if clinical_rows:
        clinical_path = output.with_name(f"{output.stem}_clinical.csv")
        write_clinical_csv(clinical_path, clinical_rows)
        vessels_path = output.with_name(f"{output.stem}_zone_vessels.csv")
        write_zone_vessels_csv(vessels_path, clinical_rows)
        print(
            f"Wrote the clinical measures of {len(clinical_rows)} artery/vein map(s) to {clinical_path}, "
            f"and each zone B and C vessel's width to {vessels_path}"
        )


if __name__ == "__main__":
    try:
        main(get_args())
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        sys.exit(f"error: {error}")
