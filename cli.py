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
