"""How well the model's vessel measurements agree with the first observer's, beside how well the
second observer's do: Pearson r and mean absolute relative difference over the 20 DRIVE test
images, and a Bland-Altman figure per measure.

    python predict.py --weights weights/unet_aug_lr_drop/model.weights.h5   # writes output/unet_aug_lr_drop_tta/test/
    python tools/measure_agreement.py             # then this: prints the table, writes the figure

It reads unet_aug_lr_drop's maps by default, the model whose agreement docs/results/measurement.md reports and
for which choose_threshold.py chose its threshold; --maps takes any predict.py DRIVE folder.

Each measure (vessel_measures.py) is taken from the model's maps cut at --threshold, from
2nd_manual and from 1st_manual, inside the FOV. Writes output/measure_agreement/agreement.md
(the table it prints) and bland_altman.png; another --threshold, such as the one
choose_threshold.py picks on the training images, writes output/measure_agreement_t<threshold>/.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vesselseg.cli import HelpFormatter, summary  # noqa: E402
from vesselseg.data.drive_data import find_drive_dir, load_split  # noqa: E402
from vesselseg.measurement.agreement import MEASURES, agreement, measure_all  # noqa: E402
from vesselseg.paths import OUTPUT_DIR as PROJECT_OUTPUT_DIR  # noqa: E402

DEFAULT_MAPS = PROJECT_OUTPUT_DIR / "unet_aug_lr_drop_tta" / "test"
OUTPUT_DIR = PROJECT_OUTPUT_DIR / "measure_agreement"
# Colours of the two comparisons in the figure.
MODEL_COLOUR, OBSERVER_COLOUR = "tab:blue", "tab:orange"


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--maps", default=str(DEFAULT_MAPS), help="predict.py's DRIVE output folder (NN_prob.npy)")
    parser.add_argument("--threshold", type=float, default=0.5, help="probability from which a pixel is vessel")
    parser.add_argument("--data-dir", help="DRIVE folder (default: $DRIVE_DIR, input/DRIVE or input/)")
    parser.add_argument(
        "--output-dir",
        help="where agreement.md and bland_altman.png go (default: "
        "output/measure_agreement at threshold 0.5, else output/measure_agreement_t<threshold>)",
    )
    return parser.parse_args(argv)


def default_output_dir(threshold):
    """output/measure_agreement for the blog's 0.5, and a folder of its own for each other
    threshold, so that one threshold's table never replaces another's."""
    return OUTPUT_DIR if threshold == 0.5 else OUTPUT_DIR.with_name(f"{OUTPUT_DIR.name}_t{threshold:g}")


def agreement_table(model, second, first):
    """The Markdown table: each measure's r and relative difference, model and second observer
    against the first observer, and whether the model agrees at least as well (r)."""
    lines = [
        "| measure | mean 1st_manual | mean model | mean 2nd | r model | r 2nd observer | rel. diff. model "
        "| rel. diff. 2nd observer | r model >= r human |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in MEASURES:
        (r_model, d_model), (r_human, d_human) = (
            agreement(model[name], first[name]),
            agreement(second[name], first[name]),
        )
        lines.append(
            f"| {name} | {first[name].mean():.4g} | {model[name].mean():.4g} | {second[name].mean():.4g} "
            f"| {r_model:.3f} | {r_human:.3f} | {d_model:.1%} | {d_human:.1%} "
            f"| {'yes' if r_model >= r_human else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def save_bland_altman(path, model, second, first, title):
    """One panel per measure: difference against mean, for the model and the second observer,
    each against the first observer, with the mean difference and its 95% limits of agreement."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = 4
    rows = int(np.ceil(len(MEASURES) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.6 * rows), layout="constrained", squeeze=False)
    for axis in axes.flat[len(MEASURES) :]:
        axis.axis("off")
    for axis, name in zip(axes.flat, MEASURES):
        for values, colour, label in ((model, MODEL_COLOUR, "model - 1st"), (second, OBSERVER_COLOUR, "2nd - 1st")):
            difference = values[name] - first[name]
            axis.scatter((values[name] + first[name]) / 2, difference, s=14, color=colour, label=label)
            bias, spread = difference.mean(), 1.96 * difference.std(ddof=1)
            axis.axhline(bias, color=colour, linewidth=1)
            for limit in (bias - spread, bias + spread):
                axis.axhline(limit, color=colour, linewidth=0.8, linestyle="--")
        axis.axhline(0, color="k", linewidth=0.5)
        axis.set(title=name, xlabel="mean of the pair", ylabel="difference")
        axis.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    figure.suptitle(f"{title}\nBland-Altman: solid line mean difference, dashed lines its 95% limits of agreement")
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main(args):
    if not 0 < args.threshold < 1:
        raise ValueError(f"--threshold must lie strictly between 0 and 1, got {args.threshold:g}.")
    test = load_split(find_drive_dir(args.data_dir), "test")
    maps_dir = Path(args.maps)
    map_files = [maps_dir / f"{image_id:02d}_prob.npy" for image_id in test.ids]
    missing = [path.name for path in map_files if not path.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{maps_dir} lacks {', '.join(missing[:3])}{'...' if len(missing) > 3 else ''}; "
            "run `python predict.py --weights weights/unet_aug_lr_drop/model.weights.h5` first "
            "(or pass --maps)."
        )
    print(f"Measuring {len(test.ids)} maps each of the model ({maps_dir}), 2nd_manual and 1st_manual")
    model = measure_all([np.load(path) >= args.threshold for path in map_files], test.masks)
    second, first = measure_all(test.manual2, test.masks), measure_all(test.manual1, test.masks)
    table = agreement_table(model, second, first)
    out_dir = Path(args.output_dir) if args.output_dir else default_output_dir(args.threshold)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "agreement.md").write_text(table)
    save_bland_altman(
        out_dir / "bland_altman.png",
        model,
        second,
        first,
        f"{maps_dir.parent.name} at threshold {args.threshold:g} and 2nd_manual, each against "
        f"1st_manual, {len(test.ids)} DRIVE test images",
    )
    print(table)
    print(f"Wrote {out_dir / 'agreement.md'} and {out_dir / 'bland_altman.png'}")


if __name__ == "__main__":
    try:
        main(get_args())
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
