"""Average two vessel models' weights, parameter by parameter, into a new model; nothing is trained.

    python tools/average_weights.py --weights weights/unet_camera_scratch/model.weights.h5 \
        weights/unet_multi_set/model.weights.h5 --share 0.5 --output-dir output/averaged_050
    python predict.py --images DIR --weights output/averaged_050/model.weights.h5

The result is (1 - share) x the first model + share x the second. It makes sense only for models
fine-tuned one from the other (unet_multi_set began as unet_camera_scratch): such models lie in one
basin of the loss, and their average keeps much of what each does well at the cost of one forward
pass (Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022). The U-Net has no batch
normalisation, whose running statistics would need recomputing after an average.

Writes the output folder as a finished run that predict.py --weights and tools/ship_weights.py
read: model.weights.h5 (float32), config.json (the second model's, naming both sources and the
share) and train.log (the command and the sources). It refuses models of different architectures,
input normalisations or outputs, and an output folder that already holds weights.
"""

import argparse
import json
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from vesselseg import quiet_startup  # noqa: E402,F401  (before TensorFlow loads: drops its start-up noise)
from vesselseg.cli import HelpFormatter, summary  # noqa: E402
from vesselseg.inference import segment  # noqa: E402
from vesselseg.inference.models import weights_choice  # noqa: E402
from vesselseg.paths import project_relative  # noqa: E402
from vesselseg.training.run_folder import FINAL_WEIGHTS, shipped_config_path  # noqa: E402

# What two models must share for their weights to be averaged.
MATCHING = ("encoder", "dropout", "normalisation", "heads")


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument("--weights", nargs=2, required=True, metavar=("FIRST", "SECOND"), help="the two weights files")
    parser.add_argument("--share", type=float, required=True, help="the second model's share, between 0 and 1")
    parser.add_argument("--output-dir", required=True, help="the new model's folder")
    args = parser.parse_args(argv)
    if not 0 < args.share < 1:
        parser.error(f"--share must lie strictly between 0 and 1, not {args.share}")
    return args


def average(first, second, share):
    """The list of arrays (1 - share) * first + share * second, computed in float64 and returned in
    first's dtypes; ValueError when the two lists do not match array for array."""
    if len(first) != len(second) or any(a.shape != b.shape for a, b in zip(first, second)):
        raise ValueError("the two models' weights differ in number or shape")
    return [
        ((1 - share) * np.asarray(a, np.float64) + share * np.asarray(b, np.float64)).astype(np.asarray(a).dtype)
        for a, b in zip(first, second)
    ]


def main(args):
    choices = [weights_choice(path) for path in args.weights]
    for field in MATCHING:
        values = [getattr(choice, field) for choice in choices]
        if values[0] != values[1]:
            raise ValueError(f"the two models differ in {field}: {values[0]} against {values[1]}")
    out_dir = Path(args.output_dir)
    if (out_dir / FINAL_WEIGHTS).exists():
        raise FileExistsError(f"{out_dir / FINAL_WEIGHTS} already exists; choose another --output-dir.")
    models = [
        segment.load_model(choice.weights, choice.encoder, choice.dropout, heads=choice.heads) for choice in choices
    ]
    models[0].set_weights(average(models[0].get_weights(), models[1].get_weights(), args.share))

    out_dir.mkdir(parents=True, exist_ok=True)
    config = json.loads(shipped_config_path(args.weights[1]).read_text())
    sources = [
        {"weights": project_relative(Path(path)), "share": share}
        for path, share in zip(args.weights, (1 - args.share, args.share))
    ]
    config.update(run_name=out_dir.resolve().name, averaged_from=sources)
    command = shlex.join(["python", "tools/average_weights.py", *sys.argv[1:]])
    models[0].save_weights(out_dir / FINAL_WEIGHTS)
    (out_dir / "config.json").write_text(json.dumps(config, indent=4) + "\n")
    log_lines = [f"Command: {command}", "Weights averaged, not trained:"]
    log_lines += [f"  {source['share']:.4g} x {source['weights']}" for source in sources]
    (out_dir / "train.log").write_text("\n".join(log_lines) + "\n")
    print(f"Wrote {out_dir / FINAL_WEIGHTS}: " + " + ".join(line.strip() for line in log_lines[2:]))


if __name__ == "__main__":
    try:
        main(get_args())
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        sys.exit(f"error: {error}")
