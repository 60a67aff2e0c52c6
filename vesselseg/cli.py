"""What the scripts' command lines share: the --help formatting, --version, the clinical
measures' flags, and the progress bar."""

import argparse
import sys

from tqdm import tqdm

from vesselseg import __version__

# The progress bar redraws at most this often, in seconds: a terminal twice a second, a log file
# (not a terminal) every half minute, so that a long run's log stays readable.
BAR_SECONDS_TERMINAL, BAR_SECONDS_LOG = 0.5, 30


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds each flag's default to its help, unless it is None (a required or derived value) or
    the help already states it."""

    def _get_help_string(self, action):
        said = action.default in (None, argparse.SUPPRESS) or "default" in (action.help or "")
        return action.help if said else super()._get_help_string(action)


def summary(docstring):
    """The first paragraph of a script's docstring as one line, for argparse's description."""
    return " ".join(docstring.strip().split("\n\n")[0].split())


def add_version_flag(parser):
    """--version: print the project's version and stop."""
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__} (vesselseg)")


def add_disc_flags(parser, whose):
    """--disc-centre X Y and --disc-diameter PX, which override the estimated optic disc; `whose`
    says in whose pixels they are given (the photograph's, the map's)."""
    parser.add_argument(
        "--disc-centre",
        type=float,
        nargs=2,
        metavar=("X", "Y"),
        help=f"the optic disc's centre in {whose} pixels, instead of the estimate",
    )
    parser.add_argument(
        "--disc-diameter",
        type=float,
        metavar="PX",
        help=f"the optic disc's diameter in {whose} pixels, instead of the estimate",
    )


def add_field_degrees_flag(parser):
    """--field-degrees: the camera's field of view, from which the clinical measures' micrometres
    are taken per photograph (clinical.field_pixel_size)."""
    parser.add_argument(
        "--field-degrees",
        type=float,
        metavar="DEGREES",
        help="the camera's field of view in degrees (45 for most fundus cameras, 30 or 50 for others): "
        "the clinical measures' micrometres are then the field's width on the retina, 288 um a degree, "
        "over each photograph's FOV in pixels, rather than the disc taken as 1,800 um, whose estimate "
        "varies from photograph to photograph; 10 to 60 degrees (a calibrated DICOM's Pixel Spacing "
        "still comes first, and then a DICOM's own Horizontal Field of View)",
    )


def progress_bar(total, done=0, quiet=False, unit="photograph"):
    """A tqdm bar on stderr over `total` items of which `done` are done before it starts: items per
    second and the time left; hidden with `quiet`."""
    return tqdm(
        total=total,
        initial=done,
        unit=unit,
        disable=quiet,
        file=sys.stderr,
        mininterval=BAR_SECONDS_TERMINAL if sys.stderr.isatty() else BAR_SECONDS_LOG,
        dynamic_ncols=True,
    )
