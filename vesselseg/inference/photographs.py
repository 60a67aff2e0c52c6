"""What predict.py's two modes share about a photograph's map: its vessel fraction, the warning
when that is implausible, and the 8-bit picture of a probability map.

predict.py --images itself lives in vesselseg/cohort/ (run.py drives it).
"""

from pathlib import Path

import numpy as np
from PIL import Image

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


def save_probability_png(path, probabilities):
    """Probabilities in [0, 1] as an 8-bit grey PNG (255 = certain vessel)."""
    Image.fromarray(np.round(probabilities * 255).astype(np.uint8)).save(path)
