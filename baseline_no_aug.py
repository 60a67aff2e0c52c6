"""Train the blog's U-Net from scratch without data augmentation (random crops only).

    python baseline_no_aug.py                                 # the full recipe: 100 x 125 steps
    python baseline_no_aug.py --epochs 2 --steps-per-epoch 3 --output-dir /tmp/o2   # a smoke run

Writes output/baseline_no_aug/ (see training.py): final weights model.weights.h5, config.json,
history.csv and train.log. Run the same command again to resume an interrupted run.
"""

from vesselseg import quiet_startup  # noqa: F401  (before TensorFlow loads: drops its start-up noise)
from vesselseg.training import recipe

# What distinguishes this script from its two siblings.
ENCODER = "scratch"
AUGMENTATION = False
RUN_NAME = "baseline_no_aug"

if __name__ == "__main__":
    recipe.main(__doc__.splitlines()[0], ENCODER, AUGMENTATION, RUN_NAME)
