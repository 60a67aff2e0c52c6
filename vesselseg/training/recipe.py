"""The one training loop behind baseline_aug.py, baseline_no_aug.py and baseline_pretrained.py.

Each script only chooses the encoder and whether to augment; everything else (the blog's
recipe, the run folder, checkpoints and resuming) lives here. A run writes output/<run-name>/:

    config.json         the resolved settings, checked again when the run is resumed
    train.log           a plain-text log: settings, hardware, one line per epoch, wall time
    history.csv         loss per epoch
    checkpoint.json     the last completed epoch and the file that holds its state
    checkpoint-NNNN.weights.h5   model and optimizer state after epoch NNNN
    model.weights.h5    the final weights (model only), written when training completes
    interrupted.weights.h5       the weights at the moment of a Ctrl-C or SIGTERM
"""

import argparse
import dataclasses
import json
import math
import os
import platform
import shlex
import signal
import sys
import time
from pathlib import Path

import keras
import numpy as np

import aug_utils
from vesselseg import __version__, artery_vein, paths
from vesselseg.cli import HelpFormatter, add_version_flag
from vesselseg.data.drive_data import find_drive_dir, find_rite_dir, load_rite_labels, load_split
from vesselseg.data.training_sets import check_set_names, load_training_sets
from vesselseg.inference.normalisation import (
    DEFAULT_NORMALISATION,
    NORMALISATIONS,
    fold_standardisation,
    fov_statistics,
    model_normalisation,
)
from vesselseg.tasks import TASK_HEADS
from vesselseg.training.batches import CropBatches, fit_epochs
from vesselseg.training.devices import (
    accelerator_present,
    distribution_scope,
    hardware_description,
    native_bfloat16,
    replica_count,
)
from vesselseg.training.run_folder import (
    FINAL_WEIGHTS,
    INTERRUPTED_WEIGHTS,
    Checkpoint,
    HistoryCSV,
    TextLog,
    make_logger,
    prepare_run_dir,
    project_path,
    project_relative,
    read_checkpoint,
    recipe_value,
    restore_random_states,
    shipped_config_path,
    start_from,
    write_atomically,
)
from vesselseg.training.settings import (
    BATCH_SIZE,
    CROP_SIZE,
    DROPOUT,
    EPOCHS,
    LEARNING_RATE,
    LR_DROP_FACTOR,
    SEED,
    STEPS_PER_EPOCH,
)
from vesselseg.training.validation import ValidationArteryVein, ValidationAUC, ValidationSets, hold_out
from vesselseg.unet import SIZE_MULTIPLE, build_unet

OUTPUT_DIR = paths.OUTPUT_DIR


def get_parser(description, run_name):
    """The flags every training script shares, with the blog's recipe as defaults."""
    parser = argparse.ArgumentParser(description=description, formatter_class=HelpFormatter)
    add_version_flag(parser)
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="number of epochs")
    parser.add_argument("--steps-per-epoch", type=int, default=STEPS_PER_EPOCH, help="batches per epoch")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=BATCH_SIZE,
        help=f"crops per batch; a multiple of {aug_utils.CROPS_PER_IMAGE} (crops per image)",
    )
    parser.add_argument("--crop", type=int, default=CROP_SIZE, help="crop height and width, a multiple of 16")
    parser.add_argument("--lr", type=float, default=LEARNING_RATE, help="Adam learning rate")
    parser.add_argument(
        "--lr-drop-epochs",
        type=int,
        nargs="+",
        default=[],
        metavar="EPOCH",
        help=f"multiply the learning rate by {LR_DROP_FACTOR} after each of these epochs "
        "(not the blog's recipe, which keeps it constant)",
    )
    parser.add_argument(
        "--start-from",
        metavar="RUN_DIR",
        help="begin a new run from the last checkpoint of another run folder that followed the same "
        "recipe until then, e.g. to add learning-rate drops and epochs after a finished run",
    )
    parser.add_argument(
        "--init-weights",
        metavar="FILE",
        help="start from these weights of the same architecture instead of random ones (fine-tuning, "
        "e.g. weights/unet_aug_lr_drop/model.weights.h5 with another normalisation)",
    )
    parser.add_argument(
        "--reinitialise",
        nargs="+",
        default=[],
        metavar="LAYER",
        help="with --init-weights: draw these layers afresh by their initialisers after loading, e.g. "
        "decoder4_upsample decoder4_conv1 decoder4_conv2, a block whose ReLUs died in training "
        "(docs/results/artery_vein.md)",
    )
    parser.add_argument(
        "--validation-images",
        type=int,
        default=0,
        metavar="N",
        help="hold out the last N training images and log their AUC after every epoch, to choose "
        "settings without the test images (0: train on all, as the blog does)",
    )
    parser.add_argument(
        "--normalisation",
        choices=NORMALISATIONS,
        default=DEFAULT_NORMALISATION,
        help="network input: the blog's RGB/255, or each channel standardised over the photograph's "
        "FOV (normalisation.py), which predict.py then applies too",
    )
    parser.add_argument(
        "--photometric",
        choices=("blog", "strong"),
        default="blog",
        help="photometric augmentation: the blog's mild brightness, contrast and saturation, or those "
        "plus per-channel gain and gamma, blur, noise and JPEG (camera_aug.py)",
    )
    parser.add_argument(
        "--zoom-range",
        type=float,
        nargs=2,
        default=list(aug_utils.ZOOM_RANGE[0]),
        metavar=("LOW", "HIGH"),
        help="zoom factors of the zoom augmentation (above 1 shows more of the image)",
    )
    parser.add_argument(
        "--zoom-probability", type=float, default=aug_utils.ZOOM_RANGE[1], help="probability of a zoom draw per image"
    )
    parser.add_argument(
        "--lesions",
        type=float,
        default=0.0,
        metavar="P",
        help="share of the photographs drawn for a batch whose crops get synthetic bright and dark lesions, "
        "kept off the vessels (training/lesions.py); 0: none",
    )
    parser.add_argument("--dropout", type=float, default=DROPOUT, help="dropout rate after every convolution")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the weights, crops and augmentation")
    parser.add_argument(
        "--training-sets",
        nargs="+",
        default=["drive"],
        metavar="SET",
        help="vessel datasets to train on, each photograph rescaled as predict.py --images rescales it and "
        "a fixed part of each held out (vesselseg/data/training_sets.py): drive, chasedb1, drhagis; "
        "a set named twice is drawn from twice as often",
    )
    parser.add_argument("--data-dir", default=None, help="DRIVE folder (default: $DRIVE_DIR, input/DRIVE or input/)")
    parser.add_argument("--output-dir", default=None, help=f"run folder (default: output/{run_name})")
    parser.add_argument("--overwrite", action="store_true", help="start over in a run folder that holds another run")
    parser.add_argument(
        "--jit",
        choices=("auto", "on", "off"),
        default="auto",
        help="XLA compilation; auto turns it on with an accelerator (and for --data-parallel under "
        "JAX, which needs it), because on the development CPU it made a training step slower "
        "(docs/performance.md, bench/bench_train.py)",
    )
    parser.add_argument("--no-jit", dest="jit", action="store_const", const="off", help="the same as --jit off")
    parser.add_argument(
        "--data-parallel",
        action="store_true",
        help="replicate the model on every visible device and split each batch between them",
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "float32", "mixed", "bfloat16"),
        default="auto",
        help="auto: mixed float16 on a GPU, float32 on the CPU (the blog's recipe, even where "
        "bfloat16 is native: a bfloat16-trained model is another model, docs/performance.md); "
        "bfloat16 computes in bfloat16 with float32 weights, for CPUs with native bfloat16 "
        "(avx512_bf16 or amx_bf16)",
    )
    parser.add_argument(
        "--steps-per-execution",
        type=int,
        default=1,
        help="batches per compiled call; more hides Python overhead on a GPU",
    )
    return parser


def normalise_vgg_weights(choice):
    """ "imagenet", an absolute file path, or None for --vgg-weights none."""
    if choice is None or choice.lower() == "none":
        return None
    return choice if choice == "imagenet" else str(Path(choice).expanduser().resolve())


def resolve_config(args, encoder, augmentation, run_name, task="vessels"):
    """Validate the flags and return the run's settings as a JSON-ready dict."""
    if args.epochs < 1 or args.steps_per_epoch < 1 or args.steps_per_execution < 1:
        raise ValueError("--epochs, --steps-per-epoch and --steps-per-execution must be at least 1.")
    if args.batch_size < 1 or args.batch_size % aug_utils.CROPS_PER_IMAGE:
        raise ValueError(
            f"--batch-size must be a positive multiple of {aug_utils.CROPS_PER_IMAGE}, got {args.batch_size}."
        )
    if args.crop <= 0 or args.crop % SIZE_MULTIPLE:
        raise ValueError(f"--crop must be a positive multiple of {SIZE_MULTIPLE} (e.g. 48 or 64), got {args.crop}.")
    if args.init_weights and not Path(args.init_weights).is_file():
        raise FileNotFoundError(f"--init-weights {args.init_weights} does not exist.")
    if args.reinitialise and not args.init_weights:
        raise ValueError("--reinitialise redraws layers of --init-weights; give --init-weights too.")
    check_set_names(args.training_sets)
    if args.training_sets != ["drive"] and (task != "vessels" or args.validation_images):
        raise ValueError(
            "--training-sets beyond drive trains vessels only, and holds out its own fixed parts "
            "(training_sets.HELD_OUT), so --validation-images must stay 0."
        )
    if not math.isfinite(args.lr) or args.lr <= 0:
        raise ValueError(f"--lr must be a positive number, got {args.lr}.")
    if any(not 1 <= drop < args.epochs for drop in args.lr_drop_epochs):
        raise ValueError(f"--lr-drop-epochs must lie between 1 and --epochs - 1, got {args.lr_drop_epochs}.")
    if not 0 < args.zoom_range[0] <= args.zoom_range[1]:
        raise ValueError(f"--zoom-range must be two positive factors, the smaller first, got {args.zoom_range}.")
    if not 0 <= args.zoom_probability <= 1:
        raise ValueError(f"--zoom-probability must lie between 0 and 1, got {args.zoom_probability}.")
    if not 0 <= args.lesions <= 1:
        raise ValueError(f"--lesions must lie between 0 and 1, got {args.lesions}.")
    if not augmentation and (
        args.lesions
        or args.photometric != "blog"
        or args.zoom_probability != aug_utils.ZOOM_RANGE[1]
        or tuple(args.zoom_range) != aug_utils.ZOOM_RANGE[0]
    ):
        raise ValueError(
            "--photometric, --zoom-range, --zoom-probability and --lesions change the augmentation, "
            "which this script does not use."
        )
    accelerator = accelerator_present()
    precision = args.precision
    if precision == "bfloat16" and not native_bfloat16():
        raise ValueError(
            "--precision bfloat16 needs native bfloat16 (a GPU, or a CPU with avx512_bf16 or amx_bf16); "
            "emulated, it was slower than float32 (docs/performance.md)."
        )
    if precision == "auto":
        precision = "mixed" if accelerator else "float32"
    replicas = replica_count(args.data_parallel)
    if args.batch_size % replicas:
        raise ValueError(
            f"--batch-size {args.batch_size} must divide evenly over the {replicas} devices of --data-parallel."
        )
    # Under JAX, a data-parallel step without XLA waited forever on its all-reduce (2 CPU devices).
    jax_collectives = replicas > 1 and keras.backend.backend() == "jax"
    if jax_collectives and args.jit == "off":
        raise ValueError("--data-parallel under the JAX backend needs XLA compilation; drop --no-jit / --jit off.")
    return {
        "run_name": run_name,
        "encoder": encoder,
        "augmentation": augmentation,
        "epochs": args.epochs,
        "steps_per_epoch": args.steps_per_epoch,
        "batch_size": args.batch_size,
        "crop": args.crop,
        "learning_rate": args.lr,
        "lr_drop_epochs": sorted(set(args.lr_drop_epochs)),
        "validation_images": args.validation_images,
        "init_weights": project_relative(args.init_weights) if args.init_weights else None,
        "reinitialise": list(args.reinitialise),
        "dropout": args.dropout,
        "normalisation": args.normalisation,
        "photometric": args.photometric,
        "zoom_range": list(args.zoom_range),
        "zoom_probability": args.zoom_probability,
        "lesions": args.lesions,
        "seed": args.seed,
        "vgg_weights": normalise_vgg_weights(getattr(args, "vgg_weights", None)) if encoder == "vgg16" else None,
        "jit": args.jit == "on" or (args.jit == "auto" and (accelerator or jax_collectives)),
        "data_parallel_replicas": replicas,
        "precision": precision,
        "steps_per_execution": args.steps_per_execution,
        "data_dir": project_relative(find_drive_dir(args.data_dir)),
        "task": task,
        "training_sets": list(args.training_sets),
        **({"rite_dir": project_relative(find_rite_dir(args.rite_dir))} if task == "artery_vein" else {}),
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "version": __version__,
        "accelerator": accelerator,
        "hardware": hardware_description(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
    }


def learning_rate_at(epoch, config):
    """The learning rate of epoch `epoch` (counted from 0), after the drops that precede it."""
    drops = sum(epoch >= drop for drop in config["lr_drop_epochs"])
    return config["learning_rate"] * LR_DROP_FACTOR**drops


class NonFiniteLoss(ValueError):
    """The loss became NaN or infinite: the weights are lost, and training cannot go on."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises NonFiniteLoss at the first batch whose loss is not finite, so that a diverged run
    stops with one line and saves no final weights, instead of training on to NaN weights."""

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLoss(
                f"the loss became {float(loss)} in epoch {self.epoch + 1}, batch {batch + 1}: training diverged. "
                "Try a lower --lr; the last checkpoint, if any, is kept."
            )


class LearningRateDrops(keras.callbacks.Callback):
    """Sets each epoch's learning rate. Unlike keras.callbacks.LearningRateScheduler it adds no
    column to history.csv, so a run started from another one keeps a single table."""

    def __init__(self, config, log):
        super().__init__()
        self.config, self.log = config, log

    def on_epoch_begin(self, epoch, logs=None):
        rate = learning_rate_at(epoch, self.config)
        if not np.isclose(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)), rate):
            self.model.optimizer.learning_rate = rate
            self.log(f"Learning rate {rate:g} from epoch {epoch + 1}.")


def transfer_vessel_weights(model, vessel_model):
    """Copy a vessel U-Net's weights into the artery/vein U-Net: every layer but the last by name,
    and the last layer's one output into the vessel head. The artery and vein heads start at zero,
    a probability of 0.5 everywhere: a copy of the vessel head would start them saturated at 1 on
    wide vessels, where the clipped cross-entropy has no gradient, and identical to each other."""
    for layer in vessel_model.layers[:-1]:
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())
    kernel, bias = vessel_model.layers[-1].get_weights()
    heads = model.layers[-1].get_weights()[0].shape[-1]
    new_kernel = np.zeros((*kernel.shape[:-1], heads), dtype=kernel.dtype)
    new_bias = np.zeros(heads, dtype=bias.dtype)
    new_kernel[..., -1:], new_bias[-1:] = kernel, bias
    model.layers[-1].set_weights([new_kernel, new_bias])


def load_initial_weights(model, config, images, fovs):
    """Load --init-weights. Weights trained on RGB/255 (all that this project shipped before
    normalisation.py) get the training images' average FOV statistics folded into their first
    convolution when the run standardises its input, so that fine-tuning starts from a working model."""
    path = project_path(config["init_weights"])
    source_config = shipped_config_path(path)
    source = json.loads(source_config.read_text()) if source_config else None
    if recipe_value(source or {}, "task") == recipe_value(config, "task"):
        model.load_weights(path)
    else:
        vessel_model = build_unet(config["encoder"], dropout=config["dropout"], vgg_weights=None)
        vessel_model.load_weights(path)
        transfer_vessel_weights(model, vessel_model)
    reinitialise(model, recipe_value(config, "reinitialise"))
    if config["normalisation"] == "rgb255" or model_normalisation(source) == config["normalisation"]:
        return
    statistics = np.array([fov_statistics(image, fov) for image, fov in zip(images, fovs)])  # (N, 2, 3)
    mean, std = statistics.mean(axis=0)
    first = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    first.set_weights(list(fold_standardisation(*first.get_weights(), mean, std)))


def check_layer_names(model, names):
    """ValueError naming the first of `names` that is not a layer of `model` with a kernel to redraw."""
    layers = {layer.name: layer for layer in model.layers}
    for name in names:
        if name not in layers:
            raise ValueError(f"--reinitialise: the model has no layer {name!r}.")
        if not hasattr(layers[name], "kernel"):
            raise ValueError(f"--reinitialise: {name!r} has no kernel to redraw; name a convolution.")


def reinitialise(model, names):
    """Draw the kernels and biases of the layers `names` of `model` afresh by their initialisers."""
    check_layer_names(model, names)
    for name in names:
        layer = model.get_layer(name)
        layer.kernel.assign(layer.kernel_initializer(layer.kernel.shape, dtype=layer.kernel.dtype))
        if layer.bias is not None:
            layer.bias.assign(layer.bias_initializer(layer.bias.shape, dtype=layer.bias.dtype))


def build_model(config):
    """The U-Net of a run's config, without optimizer."""
    return build_unet(
        config["encoder"],
        dropout=config["dropout"],
        vgg_weights=config.get("vgg_weights"),
        heads=TASK_HEADS[recipe_value(config, "task")],
    )


# Keras dtype policies of --precision; the U-Net's last layer computes in float32 under each.
PRECISION_POLICIES = {"float32": "float32", "mixed": "mixed_float16", "bfloat16": "mixed_bfloat16"}


def set_precision(config):
    """The Keras dtype policy of the run's --precision: "mixed" is mixed float16, for GPUs."""
    keras.mixed_precision.set_global_policy(PRECISION_POLICIES[config["precision"]])


def compile_model(model, config):
    """Adam and binary cross-entropy, as in the blog (for arteries and veins, artery_vein.av_loss),
    with the run's XLA and steps-per-call settings."""
    loss = artery_vein.av_loss if recipe_value(config, "task") == "artery_vein" else "binary_crossentropy"
    model.compile(
        optimizer=keras.optimizers.Adam(config["learning_rate"]),
        loss=loss,
        jit_compile=config["jit"],
        steps_per_execution=config["steps_per_execution"],
    )


def save_model_weights(model, config, path):
    """Write the model's weights without the optimizer state, atomically."""
    bare = build_unet(
        config["encoder"], dropout=config["dropout"], vgg_weights=None, heads=TASK_HEADS[recipe_value(config, "task")]
    )
    bare.set_weights(model.get_weights())
    write_atomically(path, bare.save_weights)


def raise_keyboard_interrupt(signal_number, frame):
    raise KeyboardInterrupt(f"signal {signal_number}")


def load_training_data(config):
    """(images, targets, FOVs, validation split or None) of the run's task: DRIVE's annotations,
    or the artery/vein targets of RITE's labels (artery_vein.av_targets), with the last
    `validation_images` held out; or, for several training sets, their photographs at the
    network's scale and their held-out parts (training_sets.py)."""
    if recipe_value(config, "training_sets") != ["drive"]:
        sets = load_training_sets(config["training_sets"], project_path(config["data_dir"]))
        return sets.images, sets.targets, sets.fovs, sets.held_out
    split = load_split(project_path(config["data_dir"]), "training")
    if recipe_value(config, "task") == "vessels":
        return hold_out(split, config["validation_images"])
    labels = load_rite_labels(project_path(config["rite_dir"]), "training", split.ids, split.images.shape[1:])
    targets = np.stack([artery_vein.av_targets(label) for label in labels])
    images, targets, fovs, validation = hold_out(
        dataclasses.replace(split, manual1=targets), config["validation_images"]
    )
    if validation:
        validation["av_labels"] = labels[-config["validation_images"] :]
    return images, targets, fovs, validation


def train(args, encoder, augmentation, run_name, task="vessels"):
    """Train one of the blog's models (or the artery/vein model) as the flags say; returns the run folder."""
    keras.utils.set_random_seed(args.seed)
    config = resolve_config(args, encoder, augmentation, run_name, task)
    set_precision(config)
    # Load the data first, so that a bad --validation-images leaves no run folder behind.
    training_images, training_masks, training_fovs, validation = load_training_data(config)
    if config["crop"] > min(training_images.shape[1:3]):
        raise ValueError(
            f"--crop {config['crop']} is larger than the training images "
            f"({training_images.shape[2]}x{training_images.shape[1]})."
        )
    with distribution_scope(args.data_parallel):
        # Build before touching the run folder, so that missing VGG16 weights leave nothing behind.
        model = build_model(config)
        check_layer_names(model, recipe_value(config, "reinitialise"))
        run_dir = Path(args.output_dir) if args.output_dir else OUTPUT_DIR / run_name
        first_epoch = prepare_run_dir(run_dir, config, args.overwrite)
        branched = bool(args.start_from) and not first_epoch
        if branched:
            first_epoch = start_from(args.start_from, run_dir, config)
        log = make_logger(run_dir / "train.log")
        shown = project_relative(run_dir)
        if first_epoch >= config["epochs"] and (run_dir / FINAL_WEIGHTS).exists():
            log(f"{shown} is already complete ({first_epoch} epochs); nothing to do.")
            return run_dir
        if encoder == "vgg16" and config["vgg_weights"] is None:
            log("NOTE: the VGG16 encoder starts from random weights (--vgg-weights none), not ImageNet.")
        compile_model(model, config)
        if config["init_weights"] and not first_epoch:
            load_initial_weights(model, config, training_images, training_fovs)
        if first_epoch:
            # Build the optimizer's slots first so that its saved state has somewhere to go.
            model.optimizer.build(model.trainable_variables)
            checkpoint = read_checkpoint(run_dir)
            model.load_weights(run_dir / checkpoint["weights"])
            restore_random_states(model, checkpoint.get("random_states", {}))
        if branched:
            log(f"Starting {shown} from {args.start_from} after epoch {first_epoch}: {json.dumps(config)}")
        elif first_epoch:
            log(f"Resuming {shown} after epoch {first_epoch}.")
        else:
            log(f"Starting {shown}: {json.dumps(config)}")
        log(f"Command: python {shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])}", echo=False)
        if config["init_weights"] and not first_epoch:
            redrawn = recipe_value(config, "reinitialise")
            log(
                f"Initial weights from {config['init_weights']}"
                + (f", {', '.join(redrawn)} redrawn." if redrawn else ".")
            )
        if config["data_parallel_replicas"] > 1:
            log(f"Data-parallel over {config['data_parallel_replicas']} devices.")

    batches = CropBatches(training_images, training_masks, config, first_epoch=first_epoch, fovs=training_fovs)
    if recipe_value(config, "training_sets") != ["drive"]:
        validation_callback = ValidationSets
    else:
        validation_callback = ValidationArteryVein if task == "artery_vein" else ValidationAUC
    callbacks = [
        StopOnNonFiniteLoss(),
        LearningRateDrops(config, log),
        *([validation_callback(validation, config["normalisation"])] if validation else []),
        Checkpoint(run_dir),
        TextLog(log),
        HistoryCSV(run_dir / "history.csv", append=first_epoch > 0),
    ]
    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    started = time.perf_counter()
    try:
        fit_epochs(model, batches, first_epoch, config["epochs"], callbacks)
    except KeyboardInterrupt:
        save_model_weights(model, config, run_dir / INTERRUPTED_WEIGHTS)
        log(f"Interrupted; weights saved to {shown}/{INTERRUPTED_WEIGHTS}. Run the same command to resume.")
        sys.exit(130)
    except NonFiniteLoss as error:
        log(f"Stopped: {error}")
        raise
    save_model_weights(model, config, run_dir / FINAL_WEIGHTS)
    log(
        f"Done: {config['epochs'] - first_epoch} epochs in {time.perf_counter() - started:.0f} s; "
        f"weights in {shown}/{FINAL_WEIGHTS}"
    )
    return run_dir


def main(description, encoder, augmentation, run_name, extra_arguments=None, task="vessels"):
    """Parse the flags and train; user errors exit with their message, not a traceback."""
    parser = get_parser(description, run_name)
    if extra_arguments:
        extra_arguments(parser)
    args = parser.parse_args()
    try:
        train(args, encoder, augmentation, run_name, task)
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
