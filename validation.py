"""A validation split of the DRIVE training images, scored after every epoch.

The 20 test images are for the final score only, so any setting beyond the blog's recipe (a
learning-rate schedule, more epochs, larger crops) is chosen on training images held out from
training: `--validation-images 4` trains on images 21-36 and, after every epoch, segments
images 37-40 whole, as predict.py does, and logs their pooled ROC AUC over the FOV as val_auc
(in train.log and history.csv). The chosen setting is then trained on all 20 images.
"""

import keras

import segment
from metrics import pooled_roc_auc


def hold_out(split, count):
    """(training images, training annotations, validation split or None): the last `count`
    images of a DRIVE split are held out, so the choice does not depend on a seed."""
    if not 0 <= count < len(split.ids):
        raise ValueError(f"--validation-images must be between 0 and {len(split.ids) - 1} "
                         f"(there are {len(split.ids)} training images), got {count}.")
    if count == 0:
        return split.images, split.manual1, None
    validation = {"ids": split.ids[-count:], "images": split.images[-count:],
                  "manual1": split.manual1[-count:], "masks": split.masks[-count:]}
    return split.images[:-count], split.manual1[:-count], validation


class ValidationAUC(keras.callbacks.Callback):
    """Adds val_auc to each epoch's logs, before the callbacks that write them down."""

    def __init__(self, validation):
        super().__init__()
        self.validation = validation

    def on_epoch_end(self, epoch, logs=None):
        probabilities = segment.segment_images(self.model, self.validation["images"], progress=False)
        if logs is not None:
            logs["val_auc"] = pooled_roc_auc(probabilities, self.validation["manual1"], self.validation["masks"])
