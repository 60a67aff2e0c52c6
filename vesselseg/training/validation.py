"""A validation split of the DRIVE training images, scored after every epoch.

The 20 test images are for the final score only, so any setting beyond the blog's recipe (a
learning-rate schedule, more epochs, larger crops) is chosen on training images held out from
training: `--validation-images 4` trains on images 21-36 and, after every epoch, segments
images 37-40 whole, as predict.py does, and logs their pooled ROC AUC over the FOV as val_auc
(in train.log and history.csv). The chosen setting is then trained on all 20 images.
tools/score_validation_run.py scores a validation run under each inference setting.
"""

from pathlib import Path

import keras
import numpy as np

from metrics import pooled_roc_auc
from vesselseg import artery_vein
from vesselseg.inference import segment
from vesselseg.training.run_folder import FINAL_WEIGHTS, read_checkpoint

# The inference settings of predict.py that are chosen on the validation split, as its flags
# and as (precision, tta); the first, predict.py's single float32 pass, is the reference.
INFERENCE_SETTINGS = {
    f"{'--tta' if tta else '--no-tta'} --precision {precision}": (precision, tta)
    for precision in segment.PRECISIONS
    for tta in (False, True)
}


def hold_out(split, count):
    """(training images, training annotations, training FOVs, validation split or None): the last
    `count` images of a DRIVE split are held out, so the choice does not depend on a seed."""
    if not 0 <= count < len(split.ids):
        raise ValueError(
            f"--validation-images must be between 0 and {len(split.ids) - 1} "
            f"(there are {len(split.ids)} training images), got {count}."
        )
    if count == 0:
        return split.images, split.manual1, split.masks, None
    validation = {
        "ids": split.ids[-count:],
        "images": split.images[-count:],
        "manual1": split.manual1[-count:],
        "masks": split.masks[-count:],
    }
    return split.images[:-count], split.manual1[:-count], split.masks[:-count], validation


def validation_auc(model, validation, tta=False, normalisation="rgb255"):
    """Pooled FOV ROC AUC of the held-out images, segmented whole as predict.py does."""
    probabilities = segment.segment_images(
        model, validation["images"], tta=tta, progress=False, fovs=validation["masks"], normalisation=normalisation
    )
    return pooled_roc_auc(probabilities, validation["manual1"], validation["masks"])


class ValidationAUC(keras.callbacks.Callback):
    """Adds val_auc to each epoch's logs, before the callbacks that write them down."""

    def __init__(self, validation, normalisation="rgb255"):
        super().__init__()
        self.validation, self.normalisation = validation, normalisation

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["val_auc"] = validation_auc(self.model, self.validation, normalisation=self.normalisation)


class ValidationArteryVein(keras.callbacks.Callback):
    """Adds the held-out images' artery/vein scores to each epoch's logs: val_av_accuracy,
    val_detected, val_artery_f1, val_vein_f1, and val_auc of the vessel output against the
    labels' vessels (artery_vein.py)."""

    def __init__(self, validation, normalisation="rgb255"):
        super().__init__()
        self.validation, self.normalisation = validation, normalisation

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(validation_av_scores(self.model, self.validation, normalisation=self.normalisation))


def validation_av_scores(model, validation, tta=False, normalisation="rgb255"):
    """The artery/vein scores of the held-out images, segmented whole, with val_ names."""
    probabilities = segment.segment_images(
        model, validation["images"], tta=tta, progress=False, fovs=validation["masks"], normalisation=normalisation
    )
    counts = [
        artery_vein.av_counts(artery_vein.av_classes(maps), labels, fov)
        for maps, labels, fov in zip(probabilities, validation["av_labels"], validation["masks"])
    ]
    scores = artery_vein.scores_from_counts({key: sum(count[key] for count in counts) for key in counts[0]})
    vessels = (validation["av_labels"] != artery_vein.BACKGROUND).astype(np.uint8)
    return {
        "val_av_accuracy": scores["accuracy"],
        "val_detected": scores["detected_fraction"],
        "val_artery_f1": scores["artery_f1"],
        "val_vein_f1": scores["vein_f1"],
        "val_auc": pooled_roc_auc(probabilities[..., 2], vessels, validation["masks"]),
    }


def held_out_auc(model, photographs, normalisation):
    """Pooled FOV ROC AUC of held-out photographs (training_sets.Photograph) of any size, each
    segmented as predict.py --images segments it, one pass at DRIVE's FOV width."""
    probabilities, annotations, fovs = [], [], []
    for photograph in photographs:
        probabilities.append(
            segment.segment_photograph(model, photograph.image, photograph.fov, normalisation=normalisation).ravel()
        )
        annotations.append(photograph.annotation.ravel())
        fovs.append(photograph.fov.ravel())
    return pooled_roc_auc(np.concatenate(probabilities), np.concatenate(annotations), np.concatenate(fovs))


class ValidationSets(keras.callbacks.Callback):
    """Adds val_auc_<set> for each set's held-out photographs, and val_auc, their mean, to each
    epoch's logs. They are a record of the run; training_sets.py says what is chosen on them."""

    def __init__(self, held_out, normalisation="rgb255"):
        super().__init__()
        self.held_out, self.normalisation = held_out, normalisation

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        scores = {
            f"val_auc_{name}": held_out_auc(self.model, photographs, self.normalisation)
            for name, photographs in self.held_out.items()
        }
        logs.update(scores)
        logs["val_auc"] = float(np.mean(list(scores.values())))


def latest_weights(run_dir):
    """The run's final weights, or its latest checkpoint while it is still training."""
    run_dir = Path(run_dir)
    if (run_dir / FINAL_WEIGHTS).is_file():
        return run_dir / FINAL_WEIGHTS
    checkpoint = read_checkpoint(run_dir)
    if checkpoint:
        return run_dir / checkpoint["weights"]
    raise FileNotFoundError(f"{run_dir} has neither {FINAL_WEIGHTS} nor a checkpoint yet.")
