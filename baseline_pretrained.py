"""Train the U-Net with a VGG16 encoder initialised from ImageNet, with data augmentation.

    python baseline_pretrained.py                              # downloads the ImageNet weights
    python baseline_pretrained.py --vgg-weights ~/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5
    python baseline_pretrained.py --vgg-weights none --epochs 1 --steps-per-epoch 2 --output-dir /tmp/o3

The encoder sees images in [0, 1] without VGG's caffe preprocessing, as in the blog.
`--vgg-weights none` starts from random weights on purpose; the log and config say so.
Writes output/baseline_pretrained/ (see training.py). Rerun the same command to resume.
"""

from vesselseg import quiet_startup  # noqa: F401  (before TensorFlow loads: drops its start-up noise)
from vesselseg.training import recipe
from vesselseg.unet import VGG16_NOTOP_FILE

# What distinguishes this script from its two siblings.
ENCODER = "vgg16"
AUGMENTATION = True
RUN_NAME = "baseline_pretrained"


def add_vgg_weights_flag(parser):
    parser.add_argument(
        "--vgg-weights",
        default="imagenet",
        help=f"'imagenet' (Keras cache or download), a local {VGG16_NOTOP_FILE}, or 'none' for random weights",
    )


if __name__ == "__main__":
    recipe.main(__doc__.splitlines()[0], ENCODER, AUGMENTATION, RUN_NAME, extra_arguments=add_vgg_weights_flag)
