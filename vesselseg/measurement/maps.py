"""Vessel maps as files: which files in a folder are maps, how each is read, the threshold that
predict.py cut its maps at, and the CSV that measure.py and predict.py write of their measurements
(vessel_measures.py measures them).
"""

import csv
import json
from pathlib import Path

import numpy as np

from vesselseg.artery_vein import ARTERY_COLOUR, VEIN, VEIN_COLOUR, av_codes
from vesselseg.data.image_files import IMAGE_SUFFIXES, list_images
from vesselseg.data.image_reading import RITE_CODES, read_pixels

COLUMNS = (
    "image",
    "vessel_fraction",
    "skeleton_length_px",
    "mean_width_px",
    "branch_points",
    "end_points",
    "tortuosity",
    "fractal_dimension",
)
PHYSICAL_COLUMNS = ("skeleton_length_mm", "mean_width_um")
# Last column: why a row's figures are missing or not to be trusted; empty otherwise.
NOTE_COLUMN = "note"
# Fundus photographs show about 8-15% vessel pixels in the FOV; a map above this fraction is a
# failed map (an exposure or FOV problem), and its "widths" are the widths of blobs, not vessels.
OVERFULL_FRACTION = 0.5
MAP_SUFFIXES = IMAGE_SUFFIXES | {".npy"}
# predict.py writes these beside its maps; they are pictures of maps, not maps.
PREDICT_PICTURES = ("_prob.png", "_overlay.png", "_prediction.png", "_difference.png", "_vessels.png", "_fov.png")
# The records in which predict.py keeps the threshold it cut its maps at: --images' settings.json,
# DRIVE mode's metrics.json.
PREDICT_RECORDS = ("settings.json", "metrics.json")


def list_maps(path, recursive=False):
    """Map files: every image or .npy file (with `recursive`, in the subfolders too), except that in
    a folder of predict.py's output only its probability maps are maps: *_prob.npy, or *_prob.png
    where it wrote no arrays (--no-probability-arrays)."""
    files = list_images(path, MAP_SUFFIXES, flag="MAPS", recursive=recursive, recursive_flag="--recursive")
    for suffix in ("_prob.npy", "_prob.png"):
        if any(file.name.endswith(suffix) for file in files):
            return [file for file in files if file.name.endswith(suffix)]
    return [file for file in files if not file.name.endswith(PREDICT_PICTURES)] or files


def recorded_threshold(maps):
    """(threshold, record): the threshold at which predict.py cut the maps of `maps` (its output
    folder, or a map in it), read from the folder's settings.json or metrics.json; (None, None)
    where neither records one between 0 and 1."""
    folder = Path(maps) if Path(maps).is_dir() else Path(maps).parent
    for name in PREDICT_RECORDS:
        record = folder / name
        if not record.is_file():
            continue
        try:
            threshold = json.loads(record.read_text()).get("threshold")
        except (json.JSONDecodeError, AttributeError, UnicodeDecodeError):
            continue
        if isinstance(threshold, (int, float)) and 0 < threshold < 1:
            return threshold, record
    return None, None


def map_stem(path):
    """The image stem of a map: `Image_01L` for `Image_01L_prob.npy`, `Image_01L_vessels.png` or `Image_01L_av.png`."""
    return path.stem.removesuffix("_prob").removesuffix("_vessels").removesuffix("_av")


def is_colour_photograph(pixels):
    """Whether (H, W, 3) `pixels` are a colour photograph rather than a map saved in colour: two or
    more of its channels take over four levels each (a map drawn in one colour, or in RITE's
    four, varies in fewer), and they differ."""
    varied = [channel for channel in np.moveaxis(pixels, -1, 0) if len(np.unique(channel)) > 4]
    return len(varied) >= 2 and not np.array_equal(varied[0], varied[1])


def read_map(path, threshold):
    """A map file as a bool (H, W) vessel map.

    Two grey levels: the higher is vessel. More levels (a probability map: .npy in [0, 1], or an
    8- or 16-bit PNG scaled to [0, 1]) need a threshold, and are cut at it.
    """
    values = np.load(path) if path.suffix == ".npy" else read_pixels(path, keep_palette=True)
    if values.ndim == 3 and values.shape[-1] >= 3 and is_colour_photograph(values[..., :3]):
        raise ValueError(
            f"{path} is a colour photograph, not a vessel map: segment it with "
            "`python predict.py --images`, then measure the folder that it writes."
        )
    if values.ndim == 3:
        values = values.max(axis=-1)
    if values.ndim != 2:
        raise ValueError(f"{path} is not a 2-D map (shape {values.shape}).")
    levels = np.unique(values)
    if len(levels) <= 2 and (threshold is None or path.suffix != ".npy"):
        return values == levels[-1] if len(levels) == 2 else values > 0
    if threshold is None:
        raise ValueError(
            f"{path} has {len(levels)} levels, so it is a probability map: pass --threshold "
            "(e.g. 0.5) to say where vessel begins."
        )
    if values.dtype.kind in "ui":
        values = values / np.iinfo(values.dtype).max
    return values >= threshold


def measurement_row(name, values, pixel_size_um):
    """One CSV row of vessel_measures.measure's `values`, noted when the map is over-full."""
    row = {"image": name, **{column: values[column] for column in COLUMNS[1:]}}
    if pixel_size_um:
        row["skeleton_length_mm"] = values["skeleton_length_px"] * pixel_size_um / 1000
        row["mean_width_um"] = values["mean_width_px"] * pixel_size_um
    if values["vessel_fraction"] > OVERFULL_FRACTION:
        row[NOTE_COLUMN] = (
            f"over-full map: {values['vessel_fraction']:.0%} of the FOV is vessel, so the widths are not vessel widths"
        )
    return row


def empty_row(name):
    """The CSV row of a map with no vessel pixel in its FOV: a fraction of 0 and a note."""
    return {"image": name, "vessel_fraction": 0.0, NOTE_COLUMN: "no vessel pixel in the FOV: nothing to measure"}


def row_writer(file, pixel_size_um):
    """A function that writes one measurements row (a dict) to the open CSV `file`, whose header
    it writes first; the physical columns only with a pixel size."""
    columns = COLUMNS + (PHYSICAL_COLUMNS if pixel_size_um else ()) + (NOTE_COLUMN,)
    writer = csv.DictWriter(file, fieldnames=columns)
    writer.writeheader()
    return lambda row: writer.writerow(
        {key: f"{value:.6g}" if isinstance(value, float) else value for key, value in row.items()}
    )


def write_csv(path, rows, pixel_size_um):
    with open(path, "w", newline="") as file:
        write = row_writer(file, pixel_size_um)
        for row in rows:
            write(row)


def read_av_classes(path):
    """The classes (H, W) uint8 in RITE's coding of an artery/vein map, or None for a vessel map;
    the file is read once. An artery/vein map is one of grey levels within RITE's 0-3 with veins
    (VEIN, 2) among them, or an RGB picture of pure red and blue vessels on black, as predict.py writes
    <stem>_av.png. Its classes are measured, so it asks for a vein where
    image_reading.read_vessel_annotation, which only counts vessels, takes any three or four of
    the codes."""
    if path.suffix == ".npy":
        return None
    values = read_pixels(path, keep_palette=True)
    if values.ndim == 2:
        levels = set(np.unique(values).tolist())
        is_av = VEIN in levels and levels <= set(RITE_CODES)
    else:
        colours = {tuple(colour) for colour in np.unique(values.reshape(-1, values.shape[-1])[:, :3], axis=0).tolist()}
        # Green or white for the uncertain class, as other programs draw it (colour_to_codes).
        drawn = {(0, 0, 0), ARTERY_COLOUR, VEIN_COLOUR, (0, 255, 0), (255, 255, 255)}
        is_av = colours <= drawn and len(colours) > 2
    return av_codes(values, path) if is_av else None
