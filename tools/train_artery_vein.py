"""Train the artery/vein U-Net on RITE's labels of DRIVE's training photographs.

    python tools/train_artery_vein.py                    # the first stage of the shipped model (below)
    python tools/train_artery_vein.py --init-weights output/artery_vein/model.weights.h5 \
        --seed 43 --epochs 14 --lr-drop-epochs 10 --output-dir output/artery_vein_long   # its second stage
    python tools/train_artery_vein.py --init-weights output/artery_vein_long/model.weights.h5 --crop 192 \
        --batch-size 4 --seed 45 --epochs 12 --lr-drop-epochs 9 --output-dir output/artery_vein_crop192   # third
    python tools/train_artery_vein.py --init-weights output/artery_vein_crop192/model.weights.h5 --crop 256 \
        --batch-size 4 --seed 46 --epochs 8 --lr-drop-epochs 6 --output-dir output/artery_vein_crop256   # fourth
    python tools/train_artery_vein.py --epochs 1 --steps-per-epoch 2 --output-dir /tmp/av   # a smoke run

The shipped weights/unet_artery_vein is the fourth stage: each stage continued the one before
with a fresh crop sequence, the third with crops of 192 px (about the network's reach) and the
fourth with 256 px. stage1_train.log to stage3_train.log beside it are the earlier stages' logs,
and train.log the fourth's. The second and third stages started from the stage before as shipped
in float16 (weights/unet_artery_vein then); each log's Command: line is the exact command.

The U-Net has three sigmoid outputs, artery, vein and vessel (vesselseg/artery_vein.py says why).
It starts from the vessel model unet_camera_scratch, which was trained on the same images 21-36,
and learns with the settings for other cameras: FOV standardisation, strong photometric and
scale augmentation. Images 37-40 are held out and scored after every epoch (val_av_accuracy and
the rest in train.log and history.csv). Crops are 96 px rather than the blog's 64, because telling
an artery from a vein needs the vessel's surroundings. Writes output/artery_vein/, as the other
training scripts do; run the same command again to resume.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vesselseg import quiet_startup  # noqa: E402,F401  (before TensorFlow loads: drops its start-up noise)
from vesselseg.training import recipe  # noqa: E402

ENCODER = "scratch"
AUGMENTATION = True
RUN_NAME = "artery_vein"
TASK = "artery_vein"
# The recipe's defaults, where they differ from the blog's.
DEFAULTS = {
    "epochs": 14,
    "lr_drop_epochs": [11],
    "crop": 96,
    "batch_size": 8,
    "validation_images": 4,
    "normalisation": "fov_standardise",
    "photometric": "strong",
    "zoom_range": [0.65, 1.5],
    "zoom_probability": 0.5,
    "init_weights": str(Path(__file__).resolve().parents[1] / "weights" / "unet_camera_scratch" / "model.weights.h5"),
}


def add_artery_vein_flags(parser):
    parser.add_argument(
        "--rite-dir",
        default=None,
        help="RITE folder with training/av and test/av (default: $RITE_DIR, input/RITE or ../shared/RITE)",
    )
    parser.set_defaults(**DEFAULTS)


if __name__ == "__main__":
    recipe.main(
        __doc__.splitlines()[0], ENCODER, AUGMENTATION, RUN_NAME, extra_arguments=add_artery_vein_flags, task=TASK
    )
