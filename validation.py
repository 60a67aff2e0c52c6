"""A validation split of the DRIVE training images, scored after every epoch.

The 20 test images are for the final score only, so any setting beyond the blog's recipe (a
learning-rate schedule, more epochs, larger crops) is chosen on training images held out from
training: `--validation-images 4` trains on images 21-36 and, after every epoch, segments
images 37-40 whole, as predict.py does, and logs their pooled ROC AUC over the FOV as val_auc
(in train.log and history.csv). The chosen setting is then trained on all 20 images.

Run as a script, it scores a finished (or running) validation run's weights on its held-out
images under each inference setting that predict.py offers, so that those too are chosen here
and not on the test images:

    python validation.py --run output/validation_aug_lr_drop
    python validation.py --run output/validation_aug_lr_drop --weights saved/checkpoint-0050.weights.h5

It prints the pooled validation AUC of each combination of --tta / --no-tta and --precision,
and writes nothing.
"""

import argparse
from pathlib import Path

import quiet_startup  # noqa: F401  (before TensorFlow loads: drops its start-up noise)

import keras

import segment
from drive_data import load_split
from metrics import pooled_roc_auc
from normalisation import model_normalisation
from run_folder import FINAL_WEIGHTS, project_path, read_checkpoint, read_run_config, recipe_value

# The inference settings of predict.py that are chosen on the validation split, as its flags
# and as (precision, tta); the first, predict.py's single float32 pass, is the reference.
INFERENCE_SETTINGS = {f"{'--tta' if tta else '--no-tta'} --precision {precision}": (precision, tta)
                      for precision in segment.PRECISIONS for tta in (False, True)}


def hold_out(split, count):
    """(training images, training annotations, training FOVs, validation split or None): the last
    `count` images of a DRIVE split are held out, so the choice does not depend on a seed."""
    if not 0 <= count < len(split.ids):
        raise ValueError(f"--validation-images must be between 0 and {len(split.ids) - 1} "
                         f"(there are {len(split.ids)} training images), got {count}.")
    if count == 0:
        return split.images, split.manual1, split.masks, None
    validation = {"ids": split.ids[-count:], "images": split.images[-count:],
                  "manual1": split.manual1[-count:], "masks": split.masks[-count:]}
    return split.images[:-count], split.manual1[:-count], split.masks[:-count], validation


def validation_auc(model, validation, tta=False, normalisation="rgb255"):
    """Pooled FOV ROC AUC of the held-out images, segmented whole as predict.py does."""
    probabilities = segment.segment_images(model, validation["images"], tta=tta, progress=False,
                                           fovs=validation["masks"], normalisation=normalisation)
    return pooled_roc_auc(probabilities, validation["manual1"], validation["masks"])


class ValidationAUC(keras.callbacks.Callback):
    """Adds val_auc to each epoch's logs, before the callbacks that write them down."""

    def __init__(self, validation, normalisation="rgb255"):
        super().__init__()
        self.validation, self.normalisation = validation, normalisation

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["val_auc"] = validation_auc(self.model, self.validation, normalisation=self.normalisation)


def latest_weights(run_dir):
    """The run's final weights, or its latest checkpoint while it is still training."""
    run_dir = Path(run_dir)
    if (run_dir / FINAL_WEIGHTS).is_file():
        return run_dir / FINAL_WEIGHTS
    checkpoint = read_checkpoint(run_dir)
    if checkpoint:
        return run_dir / checkpoint["weights"]
    raise FileNotFoundError(f"{run_dir} has neither {FINAL_WEIGHTS} nor a checkpoint yet.")


def get_args(argv=None):
    parser = argparse.ArgumentParser(description="Score a validation run's weights on its held-out training "
                                                 "images under each inference setting of predict.py.")
    parser.add_argument("--run", required=True, help="a run folder trained with --validation-images N")
    parser.add_argument("--weights", help="weights to score instead of the run's final weights or latest checkpoint")
    parser.add_argument("--data-dir", help="DRIVE folder (default: the one the run was trained on)")
    return parser.parse_args(argv)


def main(args):
    config = read_run_config(args.run)
    if not recipe_value(config, "validation_images"):
        raise ValueError(f"{args.run} was trained on every training image (no --validation-images), "
                         "so it has no held-out images to score.")
    _, _, _, validation = hold_out(load_split(args.data_dir or project_path(config["data_dir"]), "training"), config["validation_images"])
    weights = Path(args.weights) if args.weights else latest_weights(args.run)
    models = {precision: segment.load_model(weights, config["encoder"], config["dropout"], precision)
              for precision in segment.PRECISIONS}
    print(f"{weights}: pooled FOV ROC AUC of training images {validation['ids'][0]}-{validation['ids'][-1]} "
          "vs 1st_manual")
    scores = {flags: validation_auc(models[precision], validation, tta=tta, normalisation=model_normalisation(config))
              for flags, (precision, tta) in INFERENCE_SETTINGS.items()}
    reference = next(iter(scores.values()))
    for flags, auc in scores.items():
        print(f"  {flags:<30} {auc:.5f}  ({auc - reference:+.5f})")


if __name__ == "__main__":
    main(get_args())
