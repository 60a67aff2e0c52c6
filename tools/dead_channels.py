"""Count the channels of a U-Net's convolutions that never fire on a folder of photographs.

    python tools/dead_channels.py weights/unet_soup60/model.weights.h5 \
        --images ../shared/DRIVE/training/images --masks ../shared/DRIVE/training/mask
    python tools/dead_channels.py output/artery_vein_revived/model.weights.h5 \
        --images ../shared/DRIVE/training/images --masks ../shared/DRIVE/training/mask --first 37

Each photograph is given to the model as predict.py --images gives it (normalised as the model was
trained, its FOV rescaled to 540 px and cut to the FOV's box), once. For each 3x3 convolution of
the U-Net, each followed by a ReLU, the table gives how many of its channels were above 0 at some
pixel of some photograph, and the largest value it gave. A block whose channels all stay at 0
passes nothing on, and the part of the network behind it is as good as absent
(docs/results/artery_vein.md, the U-Net's deepest decoder revived). Prints the table; writes
nothing.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vesselseg import quiet_startup  # noqa: E402,F401  (before TensorFlow loads: drops its start-up noise)
from vesselseg.cli import HelpFormatter, summary  # noqa: E402
from vesselseg.cohort.work import Options, prepare, views  # noqa: E402
from vesselseg.data.image_files import Companions, leading_number, list_images  # noqa: E402
from vesselseg.inference.models import load_models, weights_choice  # noqa: E402


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__), formatter_class=HelpFormatter)
    parser.add_argument(
        "weights", help="a U-Net's weights, shipped or of a run folder (the vessel or artery/vein model)"
    )
    parser.add_argument("--images", required=True, help="a folder of photographs")
    parser.add_argument("--masks", help="folder of FOV masks, matched by file stem (default: estimated)")
    parser.add_argument(
        "--first",
        type=int,
        default=None,
        help="only the photographs whose names begin with this number or a higher one",
    )
    return parser.parse_args(argv)


def convolution_outputs(model):
    """A Keras model that returns the activations (after the ReLU) of each 3x3 convolution of the
    U-Net `model`, and those layers' names."""
    import keras

    layers = [layer for layer in model.layers if layer.name.endswith(("_conv1", "_conv2"))]
    return keras.Model(model.inputs[0], [layer.output for layer in layers]), [layer.name for layer in layers]


def network_inputs(images, masks, normalisation, first=None):
    """Each photograph of the folder `images` as predict.py --images gives it to the network: its
    one request of work.prepare, padded to its size bucket (work.views)."""
    options = Options(tta=False, figures=False, masks=masks)
    mask_files, no_labels = Companions(masks), Companions(None)
    for path in list_images(images):
        if first is not None and (leading_number(path.stem) or -1) < first:
            continue
        photograph = prepare(path, options, {"vessels": normalisation}, mask_files, no_labels)
        yield path, np.stack(views(photograph.requests[0].network_input, tta=False))


def main(args):
    choice = weights_choice(args.weights)
    probe, names = convolution_outputs(load_models([choice], "float32", whole=True))
    live = {name: None for name in names}
    largest = dict.fromkeys(names, 0.0)
    count = 0
    for path, batch in network_inputs(args.images, args.masks, choice.normalisation, args.first):
        for name, activation in zip(names, probe(batch)):
            activation = np.asarray(activation)[0]
            fired = (activation > 0).any(axis=(0, 1))
            live[name] = fired if live[name] is None else live[name] | fired
            largest[name] = max(largest[name], float(activation.max()))
        count += 1
        print(f"[{count}] {path.name}", flush=True)
    if not count:
        raise FileNotFoundError(f"no photographs to read in {args.images}")
    print(f"\n{args.weights}, {count} photographs: channels above 0 somewhere, and the largest value\n")
    print("| layer | live channels | largest |")
    print("| --- | --- | --- |")
    for name in names:
        print(f"| {name} | {int(live[name].sum())} of {live[name].size} | {largest[name]:.3g} |")


if __name__ == "__main__":
    try:
        main(get_args())
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}")
