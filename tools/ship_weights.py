"""Copy a finished training run's weights into weights/ as float16, with where they came from.

    python tools/ship_weights.py --run output/baseline_aug --name unet_aug

A float32 scratch U-Net is 31 MB, too large to ship comfortably; float16 halves it. Before
writing anything, both copies segment the 20 DRIVE test images and their pooled AUCs against
1st_manual are compared: the float16 copy is refused if they differ by 0.0005 or more. This is
a check of storage precision, not a choice of model, so it reads the test split.

For the artery/vein model the vessel output is the one scored. A folder that
tools/average_weights.py wrote is shipped as a finished run.

Writes the folder weights/<name>/:
    model.weights.h5     the model's weights in float16 (loads into the float32 U-Net by name)
    provenance.json      source run, epochs, training time and hardware, both AUCs, the command
    config.json, history.csv, train.log   copied from the run folder
"""

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from metrics import pooled_roc_auc  # noqa: E402
from vesselseg import quiet_startup  # noqa: F401  (before TensorFlow loads: drops its start-up noise)
from vesselseg.cli import HelpFormatter, summary  # noqa: E402
from vesselseg.data.drive_data import find_drive_dir, load_split  # noqa: E402
from vesselseg.inference import segment  # noqa: E402
from vesselseg.inference.normalisation import model_normalisation  # noqa: E402
from vesselseg.paths import SHIPPED_WEIGHTS_FILE, WEIGHTS_DIR  # noqa: E402
from vesselseg.results_table import training_facts  # noqa: E402
from vesselseg.tasks import TASK_HEADS  # noqa: E402
from vesselseg.training.run_folder import FINAL_WEIGHTS, project_relative, read_checkpoint, read_run_config  # noqa: E402
from vesselseg.training.settings import recipe_value  # noqa: E402
from vesselseg.unet import build_unet  # noqa: E402

# Largest pooled AUC change that float16 storage may cause.
MAX_AUC_CHANGE = 0.0005
# Largest file we ship; GitHub and the GPU machine's transfers both stay comfortable below it.
MAX_FILE_BYTES = 16_000_000
# Files of the run folder copied beside the shipped weights.
RUN_FILES = ("config.json", "history.csv", "train.log")


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--run", required=True, help="a finished training run folder (output/<run-name>)")
    parser.add_argument("--name", required=True, help="the model's folder in weights/, e.g. unet_aug")
    parser.add_argument("--weights-dir", default=str(WEIGHTS_DIR), help="where the model's folder goes")
    parser.add_argument(
        "--data-dir", help="DRIVE folder for the AUC check (default: $DRIVE_DIR, input/DRIVE or input/)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace files already shipped under this name")
    return parser.parse_args(argv)


def finished_run(run_dir):
    """The config of a run that completed all its epochs, or of weights that
    tools/average_weights.py wrote (nothing to finish); ValueError otherwise."""
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    if config.get("averaged_from") and (run_dir / FINAL_WEIGHTS).is_file():
        return config
    checkpoint = read_checkpoint(run_dir)
    epochs_done = checkpoint["epoch"] if checkpoint else 0
    if epochs_done < config["epochs"] or not (run_dir / FINAL_WEIGHTS).is_file():
        raise ValueError(
            f"{run_dir} has finished {epochs_done} of its {config['epochs']} epochs; "
            "only finished runs are shipped. Rerun its training command to resume it."
        )
    return config


def float16_model(model, config):
    """A copy of `model` whose variables are float16, built under a float16 dtype policy."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float16")
    try:
        half = build_unet(config["encoder"], dropout=config["dropout"], vgg_weights=None, heads=heads(config))
    finally:
        keras.config.set_dtype_policy(previous)
    half.set_weights(
        [
            np.asarray(weights).astype(half_weights.dtype)
            for weights, half_weights in zip(model.get_weights(), half.weights)
        ]
    )
    return half


def heads(config):
    return TASK_HEADS[recipe_value(config, "task")]


def pooled_auc(model, test, config):
    """The pooled AUC of the vessel output against 1st_manual (the last output for several heads)."""
    probabilities = segment.segment_images(
        model, test.images, fovs=test.masks, normalisation=model_normalisation(config)
    )
    vessels = probabilities if probabilities.ndim == 3 else probabilities[..., -1]
    return pooled_roc_auc(vessels, test.manual1, test.masks)


def ship(args):
    run_dir = Path(args.run)
    config = finished_run(run_dir)
    out_dir = Path(args.weights_dir) / args.name
    target = out_dir / SHIPPED_WEIGHTS_FILE
    if target.exists() and not args.overwrite:
        raise FileExistsError(f"{target} already exists; pass --overwrite to replace it.")
    test = load_split(find_drive_dir(args.data_dir), "test")

    full = segment.load_model(run_dir / FINAL_WEIGHTS, config["encoder"], config["dropout"], heads=heads(config))
    out_dir.mkdir(parents=True, exist_ok=True)
    temporary = out_dir / f".tmp-{SHIPPED_WEIGHTS_FILE}"
    float16_model(full, config).save_weights(temporary)
    half = segment.load_model(temporary, config["encoder"], config["dropout"], heads=heads(config))
    print("Scoring the float32 and the float16 weights on the DRIVE test images (AUC vs 1st_manual)")
    auc_float32, auc_float16 = pooled_auc(full, test, config), pooled_auc(half, test, config)
    change = abs(auc_float32 - auc_float16)
    size = temporary.stat().st_size
    if change >= MAX_AUC_CHANGE or size > MAX_FILE_BYTES:
        temporary.unlink()
        raise ValueError(
            f"float16 copy refused: AUC {auc_float32:.5f} -> {auc_float16:.5f} "
            f"(change {change:.5f}, limit {MAX_AUC_CHANGE}), {size:,} bytes (limit {MAX_FILE_BYTES:,})."
        )
    temporary.replace(target)
    for name in RUN_FILES:
        # Averaged weights were not trained, so they have no history.
        if (run_dir / name).is_file():
            shutil.copyfile(run_dir / name, out_dir / name)
    provenance = {
        **training_facts(run_dir / "config.json", run_dir / "train.log"),
        "source_run": project_relative(run_dir),
        **({"averaged_from": config["averaged_from"]} if config.get("averaged_from") else {}),
        "stored_as": "float16",
        "bytes": size,
        "auc_vs_1st_manual_float32": round(auc_float32, 6),
        "auc_vs_1st_manual_float16": round(auc_float16, 6),
        "command": shlex.join(["python", "tools/ship_weights.py", *sys.argv[1:]]),
    }
    (out_dir / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(
        f"Wrote {target} ({size / 1e6:.1f} MB): AUC vs 1st_manual {auc_float32:.5f} (float32), "
        f"{auc_float16:.5f} (float16)"
    )


if __name__ == "__main__":
    try:
        ship(get_args())
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        sys.exit(f"error: {error}")
