"""Which model to run: a training run folder, shipped weights, or several weights as an ensemble.

    choices = resolve_models(run=None, weights=["weights/unet_camera_scratch/model.weights.h5"])
    model = load_models(choices, precision="float32")

A shipped model's folder (weights/<name>/) and a run folder hold the weights' config.json and
train.log beside them; from these come the architecture, the input normalisation and the facts
that the results table prints.
"""

import dataclasses
from pathlib import Path

from vesselseg.inference import segment
from vesselseg.inference.normalisation import model_normalisation
from vesselseg.paths import PROJECT_DIR, shipped_weights
from vesselseg.results_table import training_facts
from vesselseg.tasks import TASK_HEADS, VESSEL_HEADS
from vesselseg.training.run_folder import shipped_config_path
from vesselseg.training.settings import recipe_value
from vesselseg.unet import without_dead_bottom

# The default model for DRIVE and for photographs: trained with standardised input and the
# augmentation for other cameras, it scored higher than the blog's recipe on held-out DRIVE
# training images and than unet_camera on CHASE_DB1 (docs/results/other_cameras.md).
DEFAULT_MODEL = "unet_camera_scratch"
DEFAULT_WEIGHTS = shipped_weights(DEFAULT_MODEL)
# The default for a folder of photographs (predict.py --images): the average of the weights of
# unet_camera_scratch (0.4) and of a soup (0.6), equal thirds of unet_multi_set, which was
# fine-tuned from it on three sets, and two more runs fine-tuned from that. By the rules in
# docs/results/any_camera.md it scored a higher AUC and F1 than unet_camera_scratch on DRIVE's
# held-out photographs and than unet_averaged60, the default before it, on those of CHASE_DB1
# and DR HAGIS; the margins are within noise.
IMAGES_DEFAULT_MODEL = "unet_soup60"
IMAGES_DEFAULT_WEIGHTS = shipped_weights(IMAGES_DEFAULT_MODEL)
# The artery/vein model that predict.py --images runs beside the vessel model.
ARTERY_VEIN_MODEL = "unet_artery_vein"
ARTERY_VEIN_WEIGHTS = shipped_weights(ARTERY_VEIN_MODEL)
# Shipped models whose deepest decoder block gives 0 at every pixel of every development
# photograph, by a margin of 70 and more before its ReLU: they run without their deepest level and
# bottom (unet.without_dead_bottom), with the same maps in about two thirds of the time
# (docs/performance.md, the dead bottom).
DEAD_BOTTOM = (IMAGES_DEFAULT_MODEL, "unet_averaged60", ARTERY_VEIN_MODEL)


@dataclasses.dataclass
class ModelChoice:
    """The model predict.py runs, as --run / --weights / the defaults resolve it."""

    weights: Path
    encoder: str
    dropout: float
    name: str
    training: dict  # facts for the results table; None for bare weights
    normalisation: str  # the input normalisation it was trained with (normalisation.py)
    heads: tuple = VESSEL_HEADS  # its outputs (unet.build_unet's heads)


def resolve_models(run=None, weights=None, encoder=None, default=None):
    """The ModelChoice of --run, or of each --weights file (several make an ensemble), or of the
    `default` weights (DRIVE's default model when None), as a list.

    Training facts (for the results table) come from a run folder's config.json and train.log,
    or from the config.json and train.log that tools/ship_weights.py puts beside shipped
    weights; weights without either have none, and --encoder says their architecture.
    """
    if run:
        run_weights, run_encoder, dropout = segment.run_settings(run)
        run_dir = Path(run)
        training = training_facts(run_dir / "config.json", run_dir / "train.log")
        choices = [
            ModelChoice(
                run_weights,
                run_encoder,
                dropout,
                run_dir.resolve().name,
                training,
                model_normalisation(training),
                heads_of(training),
            )
        ]
    else:
        choices = []
        for path in map(Path, weights or [default or DEFAULT_WEIGHTS]):
            if not path.is_file():
                hint = (
                    "Train them with `python baseline_aug.py`, then run `python predict.py --run output/baseline_aug`."
                    if not weights
                    else "Check the path."
                )
                raise FileNotFoundError(f"Weights file {path} does not exist. {hint}")
            choices.append(weights_choice(path, encoder))
    for choice in choices:
        if encoder and encoder != choice.encoder:
            raise ValueError(
                f"--encoder {encoder} contradicts {choice.name}'s config, which says "
                f"{choice.encoder}; drop --encoder, which is only for weights without a config."
            )
    normalisations = {choice.normalisation for choice in choices}
    if len(normalisations) > 1:
        raise ValueError(
            "The models of an ensemble must share an input normalisation, since each map is made "
            "from the same input; these were trained with "
            + ", ".join(f"{choice.name}: {choice.normalisation}" for choice in choices)
            + "."
        )
    return choices


def load_models(choices, precision, whole=False):
    """One Keras model for the chosen weights: the U-Net itself, or for several the ensemble that
    averages their probabilities (segment.average_models). A model of DEAD_BOTTOM runs without its
    dead levels unless `whole` (the network as trained, for references and for looking inside)."""
    names = [None] if len(choices) == 1 else [f"member{index}" for index in range(1, len(choices) + 1)]
    models = []
    for choice, name in zip(choices, names):
        model = segment.load_model(choice.weights, choice.encoder, choice.dropout, precision, name, heads=choice.heads)
        models.append(without_dead_bottom(model) if has_dead_bottom(choice.weights) and not whole else model)
    return segment.average_models(models)


def has_dead_bottom(weights):
    """Whether `weights` is the file of a shipped model named in DEAD_BOTTOM."""
    return Path(weights).resolve() in {shipped_weights(name).resolve() for name in DEAD_BOTTOM}


def weights_choice(weights, encoder=None):
    """The ModelChoice of a weights file, from the config.json and train.log beside it (a shipped
    model's folder or a run folder), or <stem>.config.json and <stem>.train.log; without a config,
    `encoder` (default scratch) and the blog's dropout. A shipped model is named after its folder."""
    weights = Path(weights)
    config_path = shipped_config_path(weights)
    stem = weights.name.removesuffix(".weights.h5").removesuffix(".h5")
    shipped = config_path is not None and config_path.name == "config.json"
    name = weights.parent.name if shipped and stem == "model" else stem
    log_path = config_path.with_name("train.log" if shipped else f"{stem}.train.log") if config_path else None
    training = training_facts(config_path, log_path) if config_path else None
    architecture, dropout = (training["encoder"], training["dropout"]) if training else (encoder or "scratch", 0.1)
    return ModelChoice(
        weights, architecture, dropout, name, training, model_normalisation(training), heads_of(training)
    )


def heads_of(training):
    """The outputs of a model trained so (a config dict, or None for the blog's one output)."""
    return TASK_HEADS[recipe_value(training or {}, "task")]


def relative_name(path):
    """A weights path as the help texts show it, relative to the project."""
    return Path(path).relative_to(PROJECT_DIR)


def load_artery_vein_model(weights=None, precision="float32"):
    """(model, input normalisation) of the artery/vein model: `weights`, or the shipped model. None,
    with a note, when the shipped model is absent; errors for a named file that is missing or holds
    another kind of model."""
    import sys

    if weights is None and not ARTERY_VEIN_WEIGHTS.is_file():
        print(
            f"note: no artery/vein model at {ARTERY_VEIN_WEIGHTS}; the clinical measures are left out.", file=sys.stderr
        )
        return None
    path = Path(weights) if weights else ARTERY_VEIN_WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(f"--av-weights {path} does not exist.")
    choice = weights_choice(path)
    if choice.heads != TASK_HEADS["artery_vein"]:
        raise ValueError(f"{path} is not an artery/vein model (its config says outputs {choice.heads}).")
    print(f"Artery/vein model: {path}")
    return load_models([choice], precision), choice.normalisation
