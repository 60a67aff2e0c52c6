"""The training recipe's constants and the settings that define a run, without Keras, so that
the results table and the tools can read a run's settings without loading TensorFlow.
"""

import json
import re
from pathlib import Path

# The blog's recipe.
EPOCHS = 100
BATCH_SIZE = 16  # 4 images x 4 crops
STEPS_PER_EPOCH = 100 * 20 // BATCH_SIZE  # 125: "100 passes over the 20 images" per epoch
CROP_SIZE = 64
LEARNING_RATE = 1e-3
LR_DROP_FACTOR = 0.1  # Not the blog's: --lr-drop-epochs multiplies the learning rate by this after each.
DROPOUT = 0.1
SEED = 42

# Settings that define the result; a resumed run must match them. Others (where the data
# lives, XLA, precision) may change between sessions without changing what is trained.
RECIPE_KEYS = (
    "encoder",
    "augmentation",
    "epochs",
    "steps_per_epoch",
    "batch_size",
    "crop",
    "learning_rate",
    "dropout",
    "seed",
    "vgg_weights",
    "lr_drop_epochs",
    "validation_images",
    "normalisation",
    "photometric",
    "zoom_range",
    "zoom_probability",
    "init_weights",
    "reinitialise",
    "task",
    "training_sets",
    "lesions",
)
# What a recipe setting was before it existed, so that older run folders still resume.
RECIPE_DEFAULTS = {
    "lr_drop_epochs": [],
    "validation_images": 0,
    "normalisation": "rgb255",
    "photometric": "blog",
    "zoom_range": [0.9, 1.1],
    "zoom_probability": 0.05,
    "init_weights": None,
    "reinitialise": [],
    "task": "vessels",
    "training_sets": ["drive"],
    "lesions": 0.0,
}
# TextLog's line for one epoch; training_seconds reads the seconds back from it.
EPOCH_LINE = re.compile(r" epoch \d+/\d+ .*seconds=([0-9.]+)")


def recipe_value(config, key):
    """A run's setting `key`, or what it was before the setting existed when the config lacks it
    (or, as the results table's training facts do, records it as None)."""
    value = config.get(key)
    return RECIPE_DEFAULTS.get(key) if value is None else value


def training_seconds(log_text):
    """The seconds spent training, summed over the epoch lines that TextLog writes into train.log,
    so that a run resumed across several sessions counts only its training time."""
    return sum(float(match.group(1)) for match in EPOCH_LINE.finditer(log_text))


def read_run_config(run_dir):
    """The settings (config.json) of a training run folder; FileNotFoundError for any other folder."""
    config_path = Path(run_dir) / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a training run folder: it has no config.json.")
    return json.loads(config_path.read_text())
