"""Score a validation run's weights on its held-out training images under each inference setting.

    python tools/score_validation_run.py --run output/validation_aug_lr_drop
    python tools/score_validation_run.py --run output/validation_aug_lr_drop --weights saved/checkpoint-0050.weights.h5

It prints the pooled validation AUC of each combination of --tta / --no-tta and --precision that
predict.py offers, so that those too are chosen on held-out images and not on the test images,
and writes nothing.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vesselseg import quiet_startup  # noqa: E402,F401  (before TensorFlow loads: drops its start-up noise)
from vesselseg.cli import HelpFormatter, summary  # noqa: E402
from vesselseg.data.drive_data import load_split  # noqa: E402
from vesselseg.inference import segment  # noqa: E402
from vesselseg.inference.normalisation import model_normalisation  # noqa: E402
from vesselseg.training.run_folder import project_path, read_run_config, recipe_value  # noqa: E402
from vesselseg.training.validation import INFERENCE_SETTINGS, hold_out, latest_weights, validation_auc  # noqa: E402


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--run", required=True, help="a run folder trained with --validation-images N")
    parser.add_argument("--weights", help="weights to score instead of the run's final weights or latest checkpoint")
    parser.add_argument("--data-dir", help="DRIVE folder (default: the one the run was trained on)")
    return parser.parse_args(argv)


def main(args):
    config = read_run_config(args.run)
    if not recipe_value(config, "validation_images"):
        raise ValueError(
            f"{args.run} was trained on every training image (no --validation-images), "
            "so it has no held-out images to score."
        )
    _, _, _, validation = hold_out(
        load_split(args.data_dir or project_path(config["data_dir"]), "training"), config["validation_images"]
    )
    weights = Path(args.weights) if args.weights else latest_weights(args.run)
    models = {
        precision: segment.load_model(weights, config["encoder"], config["dropout"], precision)
        for precision in segment.PRECISIONS
    }
    print(
        f"{weights}: pooled FOV ROC AUC of training images {validation['ids'][0]}-{validation['ids'][-1]} vs 1st_manual"
    )
    scores = {
        flags: validation_auc(models[precision], validation, tta=tta, normalisation=model_normalisation(config))
        for flags, (precision, tta) in INFERENCE_SETTINGS.items()
    }
    reference = next(iter(scores.values()))
    for flags, auc in scores.items():
        print(f"  {flags:<30} {auc:.5f}  ({auc - reference:+.5f})")


if __name__ == "__main__":
    try:
        main(get_args())
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
