"""The clinical measures of one photograph's artery/vein map: clinical.csv, one row per
photograph, and zone_vessels.csv, one row per vessel measured in zone B or zone C.

predict.py --images and measure.py both come here, so that a model's maps and manual labels are
measured by the same code:

    row = measure_photograph("01.png", classes, fov, image=photograph, disc_centre=None, disc_diameter=None)
    write_clinical_csv("clinical.csv", [row])
    write_zone_vessels_csv("zone_vessels.csv", [row])

The disc is estimated from the photograph when there is one, else from the vessel map alone
(optic_disc.py), unless --disc-centre and --disc-diameter give it.
"""

import csv
import math

import numpy as np

from vesselseg.artery_vein import BACKGROUND
from vesselseg.data.training_sets import fov_diameter
from vesselseg.measurement.calibre import CALIBRE_ZONES, VESSELS_SUMMARISED, clinical_summary
from vesselseg.measurement.optic_disc import given_disc, locate_disc, typical_diameter

# clinical.csv's pixel_size_source where a DICOM photograph states its pixel size.
DICOM_PIXEL_SIZE_SOURCE = "DICOM Pixel Spacing"
# ... and the words before the field's where a DICOM photograph states its camera's field.
DICOM_FIELD_SOURCE = "DICOM Horizontal Field of View: "
# Micrometres of retina a degree of the camera's field spans near the posterior pole, in the
# schematic emmetropic eye (Drasdo and Fowler, Br J Ophthalmol 58, 1974: 0.288 mm a degree). An
# eye's length moves it by about a tenth, as real discs differ from DISC_DIAMETER_UM by about a
# tenth; unlike the disc it does not carry the locator's error into each photograph's figure.
MICROMETRES_PER_DEGREE = 288.0
# --field-degrees is taken for conventional cameras only: beyond about 60 degrees the retina's
# curvature makes micrometres a degree vary across the field.
FIELD_DEGREES_RANGE = (10.0, 60.0)
# clinical.csv's columns, in order. Positions and lengths are in the photograph's own pixels.
CLINICAL_COLUMNS = (
    "image",
    "disc_x",
    "disc_y",
    "disc_diameter_px",
    "disc_source",
    "pixel_size_um",
    "pixel_size_source",
    "crae_px",
    "crve_px",
    "crae_um",
    "crve_um",
    "avr",
    "arterioles",
    "venules",
    "zone_b_in_fov",
    "crae_zone_c_px",
    "crve_zone_c_px",
    "crae_zone_c_um",
    "crve_zone_c_um",
    "avr_zone_c",
    "arterioles_zone_c",
    "venules_zone_c",
    "zone_c_in_fov",
    "artery_tortuosity_zone_c",
    "vein_tortuosity_zone_c",
    "artery_tortuosity_fov",
    "vein_tortuosity_fov",
    "artery_fractal_dimension_zone_c",
    "vein_fractal_dimension_zone_c",
    "artery_fractal_dimension_fov",
    "vein_fractal_dimension_fov",
    "artery_density_zone_c",
    "vein_density_zone_c",
    "artery_density_fov",
    "vein_density_fov",
    "flags",
)
# One row per vessel measured in zone B or C, so that a grader can check each width against the
# clinical figure's labels and a study can summarise the widths its own way.
ZONE_VESSEL_COLUMNS = (
    "image",
    "zone",
    "vessel_class",
    "rank",
    "width_px",
    "width_um",
    "x",
    "y",
    "widths_read",
    "summarised",
)


def measure_photograph(
    name,
    classes,
    fov,
    image=None,
    disc_centre=None,
    disc_diameter=None,
    pixel_size_um=None,
    disc=None,
    probability=None,
    width_source=None,
    zone_b_scale=None,
    pixel_size_source=None,
):
    """clinical_summary's row for one RITE-coded map (H, W), named `name`, with its FOV (H, W) or
    None. The disc comes from `image` (H, W, 3) when given, else from the map, and the user's
    disc_centre (x, y) and disc_diameter override the estimate; a `disc` (optic_disc.Disc)
    already found for this photograph and map is taken as it is. A model's map can bring its
    vessel `probability` (calibre.VesselProbability) for the widths (calibre.zone_vessels, read
    as `width_source` or calibre.WIDTH_SOURCE says, at the scale `zone_b_scale` or
    calibre.MODEL_ZONE_B_SCALE names)."""
    fov = np.ones(classes.shape, dtype=bool) if fov is None else np.asarray(fov, dtype=bool)
    if disc is None:
        disc = find_disc(classes, fov, image, disc_centre, disc_diameter)
    summary = clinical_summary(
        classes, fov, disc, pixel_size_um, probability, width_source, zone_b_scale, pixel_size_source
    )
    return {"image": name, **summary}


def pixel_size_arguments(
    user_pixel_size_um, stated_pixel_size_um, field_degrees=None, fov=None, stated_field_degrees=None
):
    """measure_photograph's pixel size arguments: the user's --pixel-size-um, else the one that a
    calibrated DICOM photograph states (image_reading.dicom_pixel_size_um), else the one that the
    camera's field of view gives over the photograph's FOV (H, W) bool (field_pixel_size): the
    field a DICOM photograph states (image_reading.dicom_field_degrees, `stated_field_degrees`),
    where FIELD_DEGREES_RANGE holds it, else the user's `field_degrees` (--field-degrees); else
    none, and the disc's diameter gives it. predict.py and measure.py both take it so."""
    if user_pixel_size_um is not None:
        return {"pixel_size_um": user_pixel_size_um}
    if stated_pixel_size_um is not None:
        return {"pixel_size_um": stated_pixel_size_um, "pixel_size_source": DICOM_PIXEL_SIZE_SOURCE}
    if fov is None or not np.any(fov):
        return {"pixel_size_um": None}
    low, high = FIELD_DEGREES_RANGE
    # A file's own field is this photograph's camera, where the flag is the folder's; a wide-field
    # camera's stated field is passed over, as the flag refuses it.
    for degrees, origin in ((stated_field_degrees, DICOM_FIELD_SOURCE), (field_degrees, "")):
        if degrees is not None and low <= degrees <= high:
            size, width = field_pixel_size(degrees, fov)
            source = (
                f"{origin}{degrees:g}-degree field over the FOV's {width} px, {MICROMETRES_PER_DEGREE:g} um a degree"
            )
            return {"pixel_size_um": size, "pixel_size_source": source}
    return {"pixel_size_um": None}


def field_pixel_size(field_degrees, fov):
    """(micrometres per pixel, the FOV's width in pixels) of a photograph whose camera's field of
    view spans `field_degrees` across its FOV (H, W) bool, not empty: the field's width on the
    retina over the FOV's widest extent, across or down. A FOV cut by the frame on every side reads
    narrower than the camera's circle, and its pixels larger than they are."""
    width = fov_diameter(np.asarray(fov, dtype=bool))
    return field_degrees * MICROMETRES_PER_DEGREE / width, int(width)


def check_field_degrees(field_degrees, pixel_size_um=None):
    """A ValueError for a --field-degrees outside FIELD_DEGREES_RANGE, or beside --pixel-size-um."""
    if field_degrees is None:
        return
    if pixel_size_um is not None:
        raise ValueError("give --pixel-size-um or --field-degrees, not both: each sets the micrometres.")
    low, high = FIELD_DEGREES_RANGE
    if not low <= field_degrees <= high:
        wide = "; for a wide-field camera give --pixel-size-um" if field_degrees > high else ""
        raise ValueError(
            f"--field-degrees must lie between {low:g} and {high:g} (a conventional fundus camera), got "
            f"{field_degrees:g}{wide}."
        )


def find_disc(classes, fov, image=None, disc_centre=None, disc_diameter=None):
    """measure_photograph's disc (optic_disc.Disc) of a RITE-coded map (H, W) and its FOV (H, W)
    bool: located in `image` when given, else in the map, with the user's figures over it."""
    estimate = None
    if disc_centre is None or disc_diameter is None:
        # Every labelled vessel counts, uncertain ones too: RITE marks many of the vessels on the
        # disc uncertain, and without them the tree's trunk, where it converges, goes missing.
        estimate = locate_disc(image, fov, classes != BACKGROUND)
        if image is None:
            # Without the photograph there is no rim to see: the diameter is that of a 45-degree
            # camera's disc, a seventh of the FOV's width, as DRIVE's zone B rings assume.
            estimate.diameter_px = typical_diameter(fov if fov.any() else np.ones_like(fov))
            estimate.source = "centre from the vessel map, diameter a seventh of the FOV"
    return given_disc(disc_centre, disc_diameter, estimate)


def format_value(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


def row_writer(file, columns):
    """A function that writes one row (a dict) to the open CSV `file` in `columns`, whose header it
    writes first: other keys left out, floats to six significant digits, NaN and None as an empty
    cell."""
    writer = csv.DictWriter(file, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    return lambda row: writer.writerow({key: format_value(value) for key, value in row.items()})


def write_rows(path, rows, columns):
    """A CSV of `rows` (dicts) in `columns` (row_writer)."""
    with open(path, "w", newline="") as file:
        write = row_writer(file, columns)
        for row in rows:
            write(row)


def zone_vessel_rows(row):
    """The zone_vessels.csv rows (ZONE_VESSEL_COLUMNS) of one clinical row (measure_photograph's,
    or a manifest's copy of it): per vessel measured in zone B, then zone C, the zone ("B" or
    "C"), its class (arteriole or venule), its rank by width within the zone and class (1 the
    widest), its width in pixels and in micrometres at the row's pixel size, its label point
    (x, y) in the photograph's pixels, the number of across-vessel widths whose median it is,
    and whether that zone's CRAE or CRVE summarises it ("yes" for the VESSELS_SUMMARISED
    widest)."""
    # A manifest stores a pixel size that could not be had (no disc) as null.
    size = row["pixel_size_um"] if row["pixel_size_um"] is not None else math.nan
    rows = []
    for zone, (suffix, _) in CALIBRE_ZONES.items():
        # A record of a version that measured zone B alone (a cohort resumed after an upgrade)
        # holds no zone C vessels: its rows are zone B's.
        measured = row.get(f"vessels{suffix}", {"artery": [], "vein": []})
        for name, vessel_class in (("artery", "arteriole"), ("vein", "venule")):
            widest_first = sorted(measured[name], key=lambda vessel: -vessel["width_px"])
            for rank, vessel in enumerate(widest_first, start=1):
                rows.append(
                    {
                        "image": row["image"],
                        "zone": zone,
                        "vessel_class": vessel_class,
                        "rank": rank,
                        "width_px": vessel["width_px"],
                        "width_um": vessel["width_px"] * size,
                        "x": vessel["x"],
                        "y": vessel["y"],
                        "widths_read": vessel["points"],
                        "summarised": "yes" if rank <= VESSELS_SUMMARISED else "no",
                    }
                )
    return rows


def write_clinical_csv(path, rows):
    """clinical.csv: one row per photograph, CLINICAL_COLUMNS (write_rows)."""
    write_rows(path, rows, CLINICAL_COLUMNS)


def write_zone_vessels_csv(path, rows):
    """zone_vessels.csv of the clinical `rows` (measure_photograph's): one row per measured vessel,
    ZONE_VESSEL_COLUMNS (zone_vessel_rows)."""
    write_rows(path, [vessel for row in rows for vessel in zone_vessel_rows(row)], ZONE_VESSEL_COLUMNS)
