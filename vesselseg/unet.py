"""One U-Net builder for both encoders of the blog: from scratch, or a VGG16 encoder.

    from vesselseg.unet import build_unet
    model = build_unet("scratch")                       # the blog's U-Net, 7,760,097 parameters
    model = build_unet("vgg16", vgg_weights="imagenet")  # VGG16 encoder with ImageNet weights

Both take RGB images in [0, 1] of any height and width divisible by 16 and return a
per-pixel vessel probability of the same height and width. Only Keras 3 layers are used,
so the model runs under the TensorFlow and the JAX backends alike.
"""

from pathlib import Path

import keras
from keras import layers, ops

from vesselseg.tasks import VESSEL_HEADS

# The encoder is downsampled four times, so sizes must be multiples of 2**4.
SIZE_MULTIPLE = 16
ENCODERS = ("scratch", "vgg16")

# Filters of the blog's scratch U-Net, top level first; the bottom level has 512.
SCRATCH_FILTERS = (32, 64, 128, 256)
SCRATCH_BOTTOM_FILTERS = 512

# VGG16 layers whose outputs feed the decoder, top level first, and the bottom.
VGG16_SKIPS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3")
VGG16_BOTTOM = "block5_conv3"
VGG16_DECODER_FILTERS = (32, 64, 128, 256)

# The file that keras.applications.VGG16(include_top=False, weights="imagenet") downloads.
VGG16_NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG16_CACHE_PATH = Path.home() / ".keras" / "models" / VGG16_NOTOP_FILE


def check_input_size(height, width):
    """Raise ValueError unless both sizes are positive multiples of 16."""
    for name, size in (("height", height), ("width", width)):
        if size is not None and (size <= 0 or size % SIZE_MULTIPLE):
            raise ValueError(
                f"U-Net input {name} must be a positive multiple of {SIZE_MULTIPLE} "
                f"(it is pooled 4 times), got {size}. Pad or crop the image first."
            )


class SizeCheck(layers.Layer):
    """Passes images through unchanged, refusing sizes the U-Net cannot pool 4 times.

    Without it, a 60x64 image fails deep inside the decoder with a shape error that names
    no size. The check runs whenever the size is known while the model is traced: always
    under JAX, and on the first call under TensorFlow (later TensorFlow traces may relax the
    sizes to None; segment.py pads every image, so it never relies on this check).
    """

    def call(self, images):
        # Unknown sizes come as None under TensorFlow and as symbolic objects under JAX.
        height, width = (size if isinstance(size, int) else None for size in images.shape[1:3])
        check_input_size(height, width)
        return images

    def compute_output_shape(self, input_shape):
        return input_shape


def conv_block(x, filters, dropout, name):
    """Two 3x3 convolutions, each followed by ReLU and dropout, as in the blog."""
    for index in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv{index}")(x)
        x = layers.Dropout(dropout, name=f"{name}_dropout{index}")(x)
    return x


def decoder_block(x, skip, filters, dropout, name):
    """Upsample 2x with a transposed convolution, concatenate the skip, then a conv_block."""
    x = layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=f"{name}_upsample")(x)
    x = layers.Concatenate(name=f"{name}_concat")([x, skip])
    return conv_block(x, filters, dropout, name)


def scratch_encoder(inputs, dropout):
    """The blog's encoder: returns (skips top level first, bottom)."""
    skips, x = [], inputs
    for level, filters in enumerate(SCRATCH_FILTERS, start=1):
        x = conv_block(x, filters, dropout, name=f"encoder{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"encoder{level}_pool")(x)
    bottom = conv_block(x, SCRATCH_BOTTOM_FILTERS, dropout, name="bottom")
    return skips, bottom


def resolve_vgg_weights(vgg_weights):
    """Turn the user's choice into what keras.applications.VGG16 accepts.

    "imagenet" uses the Keras cache (~/.keras/models) and downloads when it can; a path loads
    that file; None means random weights, for tests and for deliberate ablations.
    """
    if vgg_weights is None or str(vgg_weights).lower() == "none":
        return None
    if vgg_weights == "imagenet":
        return "imagenet"
    path = Path(vgg_weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"VGG16 weights file {path} does not exist. Provide the ImageNet notop weights "
            f"({VGG16_NOTOP_FILE}) there, or use --vgg-weights imagenet to download them."
        )
    return str(path)


def vgg16_encoder(inputs, vgg_weights):
    """VGG16 convolutional blocks 1-5: returns (skips top level first, bottom)."""
    weights = resolve_vgg_weights(vgg_weights)
    try:
        vgg = keras.applications.VGG16(include_top=False, weights=weights, input_tensor=inputs)
    except Exception as error:  # The download raises a variety of network errors.
        if weights != "imagenet":
            raise
        raise FileNotFoundError(
            f"Could not load the ImageNet VGG16 weights ({error}). Without network access, "
            f"download {VGG16_NOTOP_FILE} on another machine and either put it at "
            f"{VGG16_CACHE_PATH} or pass --vgg-weights /path/to/{VGG16_NOTOP_FILE}."
        ) from error
    skips = [vgg.get_layer(name).output for name in VGG16_SKIPS]
    return skips, vgg.get_layer(VGG16_BOTTOM).output


def output_layer_name(heads):
    """The name of the last layer: "vessel_probability" for the blog's one output, else the heads'."""
    return f"{'_'.join(heads)}_probability"


def build_unet(
    encoder="scratch", dropout=0.1, vgg_weights="imagenet", input_shape=(None, None, 3), name=None, heads=VESSEL_HEADS
):
    """Build the U-Net with the chosen encoder ("scratch" or "vgg16").

    vgg_weights: "imagenet", a path to a notop weights file, or None (random), for vgg16 only.
    input_shape: (height, width, 3); None sizes accept any multiple of 16 at run time.
    name: the model's name (default unet_<encoder>); the members of an ensemble need their own.
    heads: the names of the sigmoid outputs, one channel each: the blog's ("vessel",), or
        artery_vein.AV_HEADS for the artery/vein model.
    """
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {ENCODERS}, not {encoder!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    check_input_size(input_shape[0], input_shape[1])

    inputs = keras.Input(shape=input_shape, name="image")
    checked = SizeCheck(name="size_check")(inputs)
    if encoder == "scratch":
        skips, x = scratch_encoder(checked, dropout)
        decoder_filters = SCRATCH_FILTERS
    else:
        skips, x = vgg16_encoder(checked, vgg_weights)
        decoder_filters = VGG16_DECODER_FILTERS

    # The decoder climbs from the deepest skip to the top one.
    for level in range(len(skips), 0, -1):
        x = decoder_block(x, skips[level - 1], decoder_filters[level - 1], dropout, name=f"decoder{level}")
    # float32 output keeps the loss numerically stable under mixed precision.
    outputs = layers.Conv2D(len(heads), 1, activation="sigmoid", dtype="float32", name=output_layer_name(heads))(x)
    return keras.Model(inputs, outputs, name=name or f"unet_{encoder}")


def without_dead_bottom(model):
    """The scratch U-Net `model` without its deepest level and bottom, for a model whose deepest
    decoder block gives 0 everywhere: decoder{L-1}'s upsampling then passes on nothing but its
    bias, which this model puts in its place. It shares `model`'s layers and weights, and gives
    its output to the bit wherever that block is dead (docs/performance.md, the dead bottom), in
    about two thirds of the time."""
    get = model.get_layer
    live_levels = len(SCRATCH_FILTERS) - 1
    inputs = keras.Input(shape=(None, None, 3), name="image")
    x = get("size_check")(inputs)
    skips = []
    for level in range(1, live_levels + 1):
        for index in (1, 2):
            x = get(f"encoder{level}_dropout{index}")(get(f"encoder{level}_conv{index}")(x))
        skips.append(x)
        x = get(f"encoder{level}_pool")(x)
    bias = ops.convert_to_numpy(get(f"decoder{live_levels}_upsample").bias)
    x = layers.Lambda(lambda skip: ops.zeros_like(skip[..., :1]) + ops.cast(bias, skip.dtype), name="dead_bottom")(
        skips[-1]
    )
    for level in range(live_levels, 0, -1):
        if level < live_levels:
            x = get(f"decoder{level}_upsample")(x)
        x = get(f"decoder{level}_concat")([x, skips[level - 1]])
        for index in (1, 2):
            x = get(f"decoder{level}_dropout{index}")(get(f"decoder{level}_conv{index}")(x))
    return keras.Model(inputs, model.layers[-1](x), name=model.name)
