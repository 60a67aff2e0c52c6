"""The run folder of a training run: its settings, log, checkpoints and final weights.

Every file is written atomically (a temporary file, then a rename), so a kill at any moment
leaves either the old file or the new one, never half of one. checkpoint.json is the commit
point of a checkpoint: until it names the new weights file, the previous one stands.
"""

import csv
import json
import os
import shutil
import time
from pathlib import Path

import keras
import numpy as np

from vesselseg.paths import project_path, project_relative  # noqa: F401  (re-exported for the run's paths)
from vesselseg.training.settings import RECIPE_KEYS, read_run_config, recipe_value  # noqa: F401  (re-exported)

CHECKPOINT_FILE = "checkpoint.json"
FINAL_WEIGHTS = "model.weights.h5"
INTERRUPTED_WEIGHTS = "interrupted.weights.h5"


def shipped_config_path(weights):
    """The config.json that describes a weights file: the one beside it (a shipped model's folder,
    weights/<name>/, or a run folder), else <stem>.config.json beside it; None when neither exists."""
    weights = Path(weights)
    stem = weights.name.removesuffix(".weights.h5").removesuffix(".h5")
    for candidate in (weights.parent / "config.json", weights.with_name(f"{stem}.config.json")):
        if candidate.is_file():
            return candidate
    return None


def read_checkpoint(run_dir):
    """The run's last committed checkpoint, {"epoch": N, "weights": file name}, or None before
    the first epoch has finished."""
    path = Path(run_dir) / CHECKPOINT_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def write_atomically(path, write):
    """Call write(temporary_path), then rename over `path`, so a kill never leaves half a file."""
    path = Path(path)
    # Keras insists on the .weights.h5 ending, so the temporary name keeps the suffixes.
    temporary = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    write(temporary)
    os.replace(temporary, path)


def write_json(path, data):
    write_atomically(path, lambda temporary: Path(temporary).write_text(json.dumps(data, indent=2) + "\n"))


def prepare_run_dir(run_dir, config, overwrite):
    """Create the run folder, or check that it holds this very run. Returns the last finished
    epoch (0 for a new run)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    # A run killed while saving leaves its temporary file (write_atomically) behind; none of them
    # is ever the committed state, and a checkpoint's is the size of the model and optimizer.
    for temporary in run_dir.glob(".tmp-*"):
        temporary.unlink()
    config_path = run_dir / "config.json"
    if config_path.exists() and not overwrite:
        saved = json.loads(config_path.read_text())
        differences = {
            key: (recipe_value(saved, key), config[key])
            for key in RECIPE_KEYS
            if recipe_value(saved, key) != config[key]
        }
        if differences:
            listed = ", ".join(f"{key}: {old!r} -> {new!r}" for key, (old, new) in differences.items())
            raise ValueError(
                f"{run_dir} holds a run with other settings ({listed}). Choose another --output-dir, "
                "or pass --overwrite to start over there."
            )
        checkpoint = read_checkpoint(run_dir)
        return checkpoint["epoch"] if checkpoint else 0
    for stale in [run_dir / CHECKPOINT_FILE, run_dir / "history.csv", run_dir / FINAL_WEIGHTS]:
        stale.unlink(missing_ok=True)
    for stale in run_dir.glob("checkpoint-*.weights.h5"):
        stale.unlink()
    write_json(config_path, config)
    return 0


def start_from(parent_dir, run_dir, config):
    """Begin the new run in run_dir from the last checkpoint of the run in parent_dir, when both
    runs follow the same recipe up to that checkpoint: only the number of epochs and learning-rate
    drops after it may differ. The parent's log and history are copied, so that run_dir tells the
    whole story and its training time counts every epoch. Returns the epoch it starts after."""
    parent_dir = Path(parent_dir)
    parent = read_run_config(parent_dir)
    checkpoint = read_checkpoint(parent_dir)
    if checkpoint is None:
        raise FileNotFoundError(f"{parent_dir} has no checkpoint to start from.")
    epoch = checkpoint["epoch"]
    differences = [
        key
        for key in RECIPE_KEYS
        if key not in ("epochs", "lr_drop_epochs") and recipe_value(parent, key) != config[key]
    ]
    drops_before = [[drop for drop in recipe_value(run, "lr_drop_epochs") if drop < epoch] for run in (parent, config)]
    if differences or drops_before[0] != drops_before[1]:
        raise ValueError(
            f"{parent_dir} followed another recipe ({', '.join(differences) or 'lr_drop_epochs'} differ), "
            "so this run cannot start from its checkpoint."
        )
    if epoch > config["epochs"]:
        raise ValueError(f"{parent_dir} is {epoch} epochs in, more than the {config['epochs']} of --epochs.")
    shutil.copyfile(parent_dir / checkpoint["weights"], run_dir / checkpoint["weights"])
    for name in ("history.csv", "train.log"):
        if (parent_dir / name).is_file():
            shutil.copyfile(parent_dir / name, run_dir / name)
    write_json(run_dir / CHECKPOINT_FILE, checkpoint)
    return epoch


def seed_generators(model):
    """{layer name: keras.random.SeedGenerator} of every layer that draws random numbers (dropout)."""
    return {layer.name: layer.seed_generator for layer in model.layers if hasattr(layer, "seed_generator")}


def random_states(model):
    """The state of each layer's random number generator, as JSON-ready lists. save_weights does
    not store them, and without them a resumed run would draw other dropout masks."""
    return {
        name: keras.ops.convert_to_numpy(generator.state).tolist() for name, generator in seed_generators(model).items()
    }


def restore_random_states(model, states):
    """Put back the generator states that random_states saved (nothing for older checkpoints)."""
    for name, generator in seed_generators(model).items():
        if name in states:
            generator.state.assign(np.array(states[name], dtype=generator.state.dtype))


class Checkpoint(keras.callbacks.Callback):
    """Saves model, optimizer and random-generator state after every epoch, atomically, keeping
    only the last, so that a run killed anywhere resumes exactly as if it had never stopped."""

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = run_dir

    def on_epoch_end(self, epoch, logs=None):
        name = f"checkpoint-{epoch + 1:04d}.weights.h5"
        write_atomically(self.run_dir / name, self.model.save_weights)
        # checkpoint.json is the commit point: until it is replaced, the previous state stands.
        write_json(
            self.run_dir / CHECKPOINT_FILE,
            {"epoch": epoch + 1, "weights": name, "random_states": random_states(self.model)},
        )
        for old in self.run_dir.glob("checkpoint-*.weights.h5"):
            if old.name != name:
                old.unlink()


class TextLog(keras.callbacks.Callback):
    """One line per epoch in train.log, with the loss and the seconds it took. The line goes to
    the file only: on the terminal, Keras' progress bar already shows the loss."""

    def __init__(self, log):
        super().__init__()
        self.log = log

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.started
        values = " ".join(f"{key}={value:.5f}" for key, value in (logs or {}).items())
        self.log(f"epoch {epoch + 1}/{self.params['epochs']} {values} seconds={seconds:.1f}", echo=False)


class HistoryCSV(keras.callbacks.Callback):
    """history.csv: one row per epoch with the epoch (from 0) and each value Keras logs, such as
    loss and, with a validation split, val_auc. Unlike keras.callbacks.CSVLogger it adds no
    val_loss column of NA when there is no validation loss."""

    def __init__(self, path, append=False):
        super().__init__()
        self.path, self.append = Path(path), append

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        keys = sorted(logs)
        start = not (self.append and self.path.is_file())
        with open(self.path, "w" if start else "a", newline="") as file:
            writer = csv.writer(file)
            if start:
                writer.writerow(["epoch", *keys])
            writer.writerow([epoch, *(logs[key] for key in keys)])
        self.append = True


def make_logger(path):
    """Return log(message, echo=True), which appends a time-stamped line to `path` (and prints it)."""

    def log(message, echo=True):
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}"
        if echo:
            print(line, flush=True)
        with open(path, "a") as file:
            file.write(line + "\n")

    return log
