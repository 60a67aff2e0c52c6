"""Copy a finished training run's weights into weights/ as float16, with where they came from.

    python ship_weights.py --run output/baseline_aug --name unet_aug

A float32 scratch U-Net is 31 MB, too large to ship comfortably; float16 halves it. Before
writing anything, both copies segment the 20 DRIVE test images and their pooled AUCs against
1st_manual are compared: the float16 copy is refused if they differ by 0.0005 or more. This is
a check of storage precision, not a choice of model, so it reads the test split.

Writes, beside each other in weights/:
    <name>.weights.h5    the model's weights in float16 (loads into the float32 U-Net by name)
    <name>.json          provenance: source run, epochs, training time and hardware, both AUCs
    <name>.config.json, <name>.history.csv, <name>.train.log   copied from the run folder
"""

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path

import quiet_startup  # noqa: F401  (before TensorFlow loads: drops its start-up noise)

import keras
import numpy as np

import report
from cli import HelpFormatter, summary
import segment
from drive_data import find_drive_dir, load_split
from metrics import pooled_roc_auc
from normalisation import model_normalisation
from run_folder import FINAL_WEIGHTS, project_relative, read_checkpoint, read_run_config
from unet import build_unet

PROJECT_DIR = Path(__file__).resolve().parent
WEIGHTS_DIR = PROJECT_DIR / "weights"
# Largest pooled AUC change that float16 storage may cause (issue: "less than 0.0005").
MAX_AUC_CHANGE = 0.0005
# Largest file we ship; GitHub and the GPU machine's transfers both stay comfortable below it.
MAX_FILE_BYTES = 16_000_000
# Files of the run folder copied beside the shipped weights, as <name>.<file>.
RUN_FILES = ("config.json", "history.csv", "train.log")


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--run", required=True, help="a finished training run folder (output/<run-name>)")
    parser.add_argument("--name", required=True, help="file name stem in weights/, e.g. unet_aug")
    parser.add_argument("--weights-dir", default=str(WEIGHTS_DIR), help="where the shipped files go")
    parser.add_argument("--data-dir", help="DRIVE folder for the AUC check (default: $DRIVE_DIR, input/DRIVE or input/)")
    parser.add_argument("--overwrite", action="store_true", help="replace files already shipped under this name")
    return parser.parse_args(argv)


def finished_run(run_dir):
    """The config of a run that completed all its epochs; ValueError otherwise."""
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    checkpoint = read_checkpoint(run_dir)
    epochs_done = checkpoint["epoch"] if checkpoint else 0
    if epochs_done < config["epochs"] or not (run_dir / FINAL_WEIGHTS).is_file():
        raise ValueError(f"{run_dir} has finished {epochs_done} of its {config['epochs']} epochs; "
                         "only finished runs are shipped. Rerun its training command to resume it.")
    return config


def float16_model(model, config):
    """A copy of `model` whose variables are float16, built under a float16 dtype policy."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float16")
    try:
        half = build_unet(config["encoder"], dropout=config["dropout"], vgg_weights=None)
    finally:
        keras.config.set_dtype_policy(previous)
    half.set_weights([np.asarray(weights).astype(half_weights.dtype)
                      for weights, half_weights in zip(model.get_weights(), half.weights)])
    return half


def pooled_auc(model, test, config):
    probabilities = segment.segment_images(model, test.images, fovs=test.masks, normalisation=model_normalisation(config))
    return pooled_roc_auc(probabilities, test.manual1, test.masks)


def ship(args):
    run_dir = Path(args.run)
    config = finished_run(run_dir)
    out_dir = Path(args.weights_dir)
    target = out_dir / f"{args.name}.weights.h5"
    if target.exists() and not args.overwrite:
        raise FileExistsError(f"{target} already exists; pass --overwrite to replace it.")
    test = load_split(find_drive_dir(args.data_dir), "test")

    full = segment.load_model(run_dir / FINAL_WEIGHTS, config["encoder"], config["dropout"])
    out_dir.mkdir(parents=True, exist_ok=True)
    temporary = out_dir / f".tmp-{args.name}.weights.h5"
    float16_model(full, config).save_weights(temporary)
    half = segment.load_model(temporary, config["encoder"], config["dropout"])
    print("Scoring the float32 and the float16 weights on the DRIVE test images (AUC vs 1st_manual)")
    auc_float32, auc_float16 = pooled_auc(full, test, config), pooled_auc(half, test, config)
    change = abs(auc_float32 - auc_float16)
    size = temporary.stat().st_size
    if change >= MAX_AUC_CHANGE or size > MAX_FILE_BYTES:
        temporary.unlink()
        raise ValueError(f"float16 copy refused: AUC {auc_float32:.5f} -> {auc_float16:.5f} "
                         f"(change {change:.5f}, limit {MAX_AUC_CHANGE}), {size:,} bytes (limit {MAX_FILE_BYTES:,}).")
    temporary.replace(target)
    for name in RUN_FILES:
        shutil.copyfile(run_dir / name, out_dir / f"{args.name}.{name}")
    provenance = {
        **report.training_facts(run_dir / "config.json", run_dir / "train.log"),
        "source_run": project_relative(run_dir),
        "stored_as": "float16",
        "bytes": size,
        "auc_vs_1st_manual_float32": round(auc_float32, 6),
        "auc_vs_1st_manual_float16": round(auc_float16, 6),
        "command": shlex.join(["python", Path(sys.argv[0]).name, *sys.argv[1:]]),
    }
    (out_dir / f"{args.name}.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"Wrote {target} ({size / 1e6:.1f} MB): AUC vs 1st_manual {auc_float32:.5f} (float32), "
          f"{auc_float16:.5f} (float16)")


if __name__ == "__main__":
    try:
        ship(get_args())
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        sys.exit(f"error: {error}")
