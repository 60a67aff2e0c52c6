"""Compare the held-out AUC curves of validation runs that differ in one setting, epoch by epoch.

Two runs trained with the same recipe and `--validation-images N`, for example in float32 and in
bfloat16, each log the pooled ROC AUC of their held-out training images after every epoch
(val_auc in history.csv). This prints both curves over the epochs that both runs have finished,
their difference at each epoch, a summary of each block of ten epochs and, as a yardstick for the
difference, how much the first run's own AUC moves from one epoch to the next. It also draws the
curves and their difference:

    python tools/compare_runs.py output/validation_float32 output/validation_bfloat16

Writes output/compare_runs/<first>_vs_<second>.png (or --figure PATH) and prints everything else.
"""

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vesselseg.cli import HelpFormatter, summary  # noqa: E402
from vesselseg.paths import OUTPUT_DIR as PROJECT_OUTPUT_DIR  # noqa: E402
from vesselseg.training.settings import read_run_config, recipe_value  # noqa: E402

# The bar for a bfloat16-trained model: its held-out AUC within this of float32's at the same epoch.
TOLERANCE = 0.001
# Epochs per summary line: early epochs, where both runs climb fast, would swamp one overall figure.
BLOCK = 10
OUTPUT_DIR = PROJECT_OUTPUT_DIR / "compare_runs"


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("runs", nargs=2, metavar="RUN", help="two run folders trained with --validation-images")
    parser.add_argument(
        "--tolerance", type=float, default=TOLERANCE, help="largest AUC difference at an epoch that counts as the same"
    )
    parser.add_argument(
        "--figure", help="where to draw the curves (default: output/compare_runs/<first>_vs_<second>.png)"
    )
    return parser.parse_args(argv)


def validation_curve(run_dir):
    """The run's held-out AUC after each finished epoch, from its history.csv, as {epoch (1-based): AUC}."""
    history = Path(run_dir) / "history.csv"
    if not history.is_file():
        raise FileNotFoundError(f"{history} does not exist: is {run_dir} a run folder?")
    if not recipe_value(read_run_config(run_dir), "validation_images"):
        raise ValueError(f"{run_dir} was trained without --validation-images, so it logged no held-out AUC.")
    with history.open() as file:
        return {
            int(row["epoch"]) + 1: float(row["val_auc"])
            for row in csv.DictReader(file)
            if row.get("val_auc") not in (None, "", "NA")
        }


def compare_curves(first, second):
    """(epochs both curves have, second - first at each, |first's change from the epoch before| at each
    but the first epoch): NumPy arrays."""
    epochs = np.array(sorted(set(first) & set(second)))
    if not len(epochs):
        raise ValueError("the two runs have no finished epoch in common")
    differences = np.array([second[epoch] - first[epoch] for epoch in epochs])
    own_changes = np.abs(np.diff([first[epoch] for epoch in epochs]))
    return epochs, differences, own_changes


def draw(path, first, second, labels, epochs, differences, tolerance):
    """Both curves above, and below them the second minus the first with the tolerance band, since
    the curves' early climb would otherwise hide gaps of a thousandth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    limit = 5 * tolerance
    figure, (curves, gaps) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, height_ratios=(3, 2))
    for curve, label in zip((first, second), labels):
        curves.plot(list(curve), list(curve.values()), marker=".", label=label)
    curves.set(ylabel="held-out ROC AUC (FOV, 1st_manual)", title="Validation AUC per epoch")
    curves.legend()
    gaps.axhspan(-tolerance, tolerance, color="0.85", label=f"within {tolerance}")
    gaps.axhline(0, color="0.5", linewidth=0.8)
    gaps.plot(epochs, differences, marker=".", color="C1", label=f"{labels[1]} - {labels[0]}")
    gaps.set(xlabel="epoch", ylabel="AUC difference", ylim=(-limit, limit))
    off_axis = np.abs(differences) > limit
    if off_axis.any():
        gaps.text(
            0.99,
            0.04,
            f"{off_axis.sum()} epochs beyond ±{limit:g}, up to {np.abs(differences).max():.3f}",
            transform=gaps.transAxes,
            ha="right",
            va="bottom",
            fontsize="small",
            color="0.3",
        )
    gaps.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2)
    for axis in (curves, gaps):
        axis.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)


def block_summaries(first, epochs, differences, tolerance, block=BLOCK):
    """One line per block of `block` epochs: how many lie within the tolerance, how many below
    zero, the mean and largest gap, and the first run's median change from the epoch before."""
    lines = []
    for start in range(1, int(epochs[-1]) + 1, block):
        inside = (epochs >= start) & (epochs < start + block)
        if not inside.any():
            continue
        gaps, shown = differences[inside], epochs[inside]
        changes = [abs(first[epoch] - first[epoch - 1]) for epoch in shown if epoch - 1 in first]
        change = f"{np.median(changes):.5f}" if changes else "-"
        lines.append(
            f"epochs {shown[0]}-{shown[-1]}: within {tolerance} at {(np.abs(gaps) <= tolerance).sum()} of "
            f"{len(gaps)}, below at {(gaps < 0).sum()}, mean {gaps.mean():+.5f}, largest gap "
            f"{np.abs(gaps).max():.5f}; first run's median change between epochs {change}"
        )
    return lines


def main(args):
    labels = [Path(run).name for run in args.runs]
    first, second = (validation_curve(run) for run in args.runs)
    epochs, differences, own_changes = compare_curves(first, second)
    print(f"{'epoch':>5}  {labels[0]:>24}  {labels[1]:>24}  {'difference':>10}")
    for epoch, difference in zip(epochs, differences):
        mark = "" if abs(difference) <= args.tolerance else "  (over the tolerance)"
        print(f"{epoch:>5}  {first[epoch]:>24.5f}  {second[epoch]:>24.5f}  {difference:>+10.5f}{mark}")
    within = np.abs(differences) <= args.tolerance
    print(
        f"{within.sum()} of {len(epochs)} common epochs within {args.tolerance} (largest gap "
        f"{np.abs(differences).max():.5f}, at epoch {epochs[np.abs(differences).argmax()]}); "
        f"mean difference {differences.mean():+.5f}"
    )
    if len(own_changes):
        print(
            f"yardstick: {labels[0]}'s own AUC moved by a median {np.median(own_changes):.5f} "
            f"(largest {own_changes.max():.5f}) from one epoch to the next"
        )
    print("\n".join(block_summaries(first, epochs, differences, args.tolerance)))
    figure = Path(args.figure) if args.figure else OUTPUT_DIR / f"{labels[0]}_vs_{labels[1]}.png"
    draw(figure, first, second, labels, epochs, differences, args.tolerance)
    print(f"curves: {figure}")


if __name__ == "__main__":
    try:
        main(get_args())
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"error: {error}")
