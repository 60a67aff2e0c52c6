"""Train the vessel U-Net on three datasets: DRIVE's training images, CHASE_DB1 and DR HAGIS.

    python tools/train_multi_set.py                      # the first stage of the shipped model (below)
    python tools/train_multi_set.py --init-weights output/multi_set/model.weights.h5 \
        --training-sets drive drive chasedb1 drhagis --crop 96 --batch-size 8 --epochs 20 \
        --lr-drop-epochs 12 --seed 43 --output-dir output/multi_set_drive2   # its second stage
    python tools/train_multi_set.py --epochs 1 --steps-per-epoch 2 --output-dir /tmp/multi   # a smoke run

The shipped weights/unet_multi_set is the second stage: it continued the first stage, as shipped
then in float16, drawing DRIVE twice as often, with 96-px crops (docs/results/any_camera.md).
stage1_train.log beside it is the first stage's log, and train.log the second's.

Every photograph is rescaled as predict.py --images rescales it (its FOV to 540 pixels across),
so that the model learns from what it sees in use: a 30-degree camera's wide vessels, diabetic
eyes' lesions and haze. A fixed part of each set is held out (vesselseg/data/training_sets.py:
DRIVE 37-40, CHASE_DB1's children 11-14, ten of DR HAGIS's forty) and scored after every epoch as
val_auc_<set> in train.log and history.csv. The run starts from the default model
unet_camera_scratch, which was trained on DRIVE 21-36 with the same settings for other cameras
(FOV standardisation, strong photometric and scale augmentation), and keeps them. Writes
output/multi_set/, as the other training scripts do; run the same command again to resume.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vesselseg import quiet_startup  # noqa: E402,F401  (before TensorFlow loads: drops its start-up noise)
from vesselseg.training import recipe  # noqa: E402

ENCODER = "scratch"
AUGMENTATION = True
RUN_NAME = "multi_set"
# The recipe's defaults, where they differ from the blog's. The schedule is fixed in advance and
# the last epoch's weights are the model: the held-out scores are reported, not chosen on.
DEFAULTS = {
    "training_sets": ["drive", "chasedb1", "drhagis"],
    "epochs": 40,
    "lr_drop_epochs": [30],
    "normalisation": "fov_standardise",
    "photometric": "strong",
    "zoom_range": [0.65, 1.5],
    "zoom_probability": 0.5,
    "init_weights": str(Path(__file__).resolve().parents[1] / "weights" / "unet_camera_scratch" / "model.weights.h5"),
}


def add_multi_set_defaults(parser):
    parser.set_defaults(**DEFAULTS)


if __name__ == "__main__":
    recipe.main(__doc__.splitlines()[0], ENCODER, AUGMENTATION, RUN_NAME, extra_arguments=add_multi_set_defaults)
