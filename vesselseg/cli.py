"""What every script's command line shares: its --help formatting."""

import argparse


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds each flag's default to its help, unless it is None (a required or derived value) or
    the help already states it."""

    def _get_help_string(self, action):
        said = action.default in (None, argparse.SUPPRESS) or "default" in (action.help or "")
        return action.help if said else super()._get_help_string(action)


def summary(docstring):
    """The first paragraph of a script's docstring as one line, for argparse's description."""
    return " ".join(docstring.strip().split("\n\n")[0].split())


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
