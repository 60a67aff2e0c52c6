"""The project's folders, in one place: every module and command asks here.

from vesselseg.paths import OUTPUT_DIR, WEIGHTS_DIR, shipped_weights, dataset_dir
shipped_weights("unet_camera_scratch")   # weights/unet_camera_scratch/model.weights.h5
dataset_dir("CHASEDB1")                  # $CHASEDB1_DIR, else input/CHASEDB1, else ../shared/CHASEDB1, else None
"""

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
INPUT_DIR = PROJECT_DIR / "input"
OUTPUT_DIR = PROJECT_DIR / "output"
# One folder per shipped model: model.weights.h5, config.json, provenance.json, history.csv, train.log.
WEIGHTS_DIR = PROJECT_DIR / "weights"
SHIPPED_WEIGHTS_FILE = "model.weights.h5"
# Where the development team keeps the data sets, beside the checkout; tests and benchmarks
# fall back on it after the environment variable and input/.
SHARED_DIR = PROJECT_DIR.parent / "shared"


def shipped_weights(name):
    """The weights file of the shipped model `name` (weights/<name>/model.weights.h5)."""
    return WEIGHTS_DIR / name / SHIPPED_WEIGHTS_FILE


def dataset_dir(name):
    """The folder of data set `name` (e.g. "CHASEDB1", "DRHAGIS", "LESAV", "RITE", "DRIVE_zoneB"):
    the environment variable <NAME>_DIR when set, else input/<name>, else ../shared/<name>; None
    when none of them exists. A variable that names a missing folder is an error, not "absent"."""
    variable = f"{name.upper()}_DIR"
    named = os.environ.get(variable)
    if named:
        if not Path(named).is_dir():
            raise FileNotFoundError(f"{variable}={named} is not a folder.")
        return Path(named)
    for candidate in (INPUT_DIR / name, SHARED_DIR / name):
        if candidate.is_dir():
            return candidate
    return None


def project_relative(path):
    """`path` relative to the project folder (e.g. "../shared/DRIVE"), so that logs and configs
    do not record the folders of the machine that trained."""
    return os.path.relpath(Path(path).expanduser().resolve(), PROJECT_DIR)


def project_path(recorded):
    """The path that project_relative recorded (or an older run's absolute path), usable from any folder."""
    return PROJECT_DIR / recorded
