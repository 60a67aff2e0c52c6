"""Regenerate output/results.{md,json} from every evaluated DRIVE run, and optionally the README's table.

    python tools/results_table.py                       # output/results.md and output/results.json
    python tools/results_table.py --readme README.md    # and the README's short table into the README

It reads output/*/test/metrics.json, which `python predict.py` writes, and segments nothing.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vesselseg.cli import HelpFormatter, summary  # noqa: E402
from vesselseg.paths import OUTPUT_DIR  # noqa: E402
from vesselseg.results_table import update_readme, write_results_table  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument(
        "--output-dir", default=str(OUTPUT_DIR), help="folder whose */test/metrics.json files are tabulated"
    )
    parser.add_argument("--readme", help="also copy the table into this README, between its results markers")
    args = parser.parse_args(argv)
    rows = write_results_table(args.output_dir)
    print(f"{len(rows)} evaluated run(s) in {Path(args.output_dir) / 'results.md'}")
    if args.readme:
        update_readme(args.readme, (Path(args.output_dir) / "results_readme.md").read_text())
        print(f"Updated the results table in {args.readme}")


if __name__ == "__main__":
    try:
        main()
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
