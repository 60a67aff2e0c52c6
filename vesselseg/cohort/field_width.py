"""The FOV widths at which predict.py --images segments a folder, chosen from its optic discs.

    choice = folder_fov_diameters(paths, masks)     # masks: a cohort.work.Companions of FOV masks
    choice["fov_diameters"]                         # [540], or [540, 450, 380] for a narrow field

A camera's field angle sets how wide the vessels look once the FOV is rescaled to DRIVE's 540
pixels: a 30-degree field shows them about 1.5 times wider than DRIVE's 45 degrees, and the
network, trained on DRIVE, then splits wide vessels along their central reflex. The optic disc
is a ruler of the same kind (about 80 px across at the working scale in a 45-degree field), but
one disc's diameter scatters too much to judge one photograph by; the median over a folder,
which usually comes from one camera, separates the fields of the development sets
(docs/results/any_camera.md, scale from the folder's discs).
"""

import numpy as np

from vesselseg.cohort.work import photograph_fov
from vesselseg.data.image_reading import read_rgb_image
from vesselseg.inference import segment
from vesselseg.measurement.optic_disc import locate_disc, working_scale

# Photographs whose discs are located, spread evenly over the folder: about 6 s on 2 CPU cores.
SAMPLE_SIZE = 32
# A median disc at least this wide (pixels at the 540-px working scale) marks a narrow field. It
# lies between the medians of the 45-degree development sets (DRIVE 74.5, DR HAGIS 88) and the
# 30-degree ones (LES-AV 110, CHASE_DB1 112).
NARROW_FIELD_DISC_PX = 100


def spread_sample(paths, count=SAMPLE_SIZE):
    """Up to `count` of `paths`, evenly spread over the list, in its order."""
    if len(paths) <= count:
        return list(paths)
    return [paths[index] for index in np.unique(np.linspace(0, len(paths) - 1, count).round().astype(int))]


def working_disc_diameter(image, fov):
    """The optic disc's diameter (pixels at the 540-px working scale) of a photograph (H, W, 3) in
    [0, 1] with its FOV (H, W) bool, or NaN when no disc stands out."""
    disc = locate_disc(image, fov)
    return disc.diameter_px * working_scale(fov) if disc.found and np.isfinite(disc.diameter_px) else float("nan")


def fov_diameters_for_discs(diameters):
    """(FOV widths, median disc diameter) for the working-scale disc diameters of a folder's
    photographs (NaN where none was found): NARROW_FIELD_FOV_DIAMETERS when the median of the found
    ones is at least NARROW_FIELD_DISC_PX, else PHOTOGRAPH_FOV_DIAMETERS; the median is NaN when
    no disc was found."""
    found = np.asarray([value for value in diameters if np.isfinite(value)], dtype=float)
    median = float(np.median(found)) if found.size else float("nan")
    narrow = found.size and median >= NARROW_FIELD_DISC_PX
    return (segment.NARROW_FIELD_FOV_DIAMETERS if narrow else segment.PHOTOGRAPH_FOV_DIAMETERS), median


def folder_fov_diameters(paths, masks):
    """The FOV widths for photographs `paths` (sorted), with `masks` (a cohort Companions) giving
    their FOV masks where it has them, as a dict for settings.json: fov_diameters, median_disc_px
    (None when no disc was found), discs_found and photographs_sampled. Photographs that cannot be
    read are passed over here; the run itself reports them."""
    diameters = []
    sample = spread_sample(paths)
    for path in sample:
        try:
            image = read_rgb_image(path)
            fov, _ = photograph_fov(path, image, masks)
            if fov.any():
                diameters.append(working_disc_diameter(image, fov))
        except (OSError, ValueError):
            continue
    widths, median = fov_diameters_for_discs(diameters)
    return {
        "fov_diameters": list(widths),
        "median_disc_px": round(median, 1) if np.isfinite(median) else None,
        "discs_found": int(np.isfinite(diameters).sum()) if diameters else 0,
        "photographs_sampled": len(sample),
    }
