"""Whole-image segmentation with a trained U-Net, and field-of-view (FOV) estimation.

predict.py and the benchmarks call these; they hold no file handling of their own.

    model = load_model(weights="output/baseline_aug/model.weights.h5", encoder="scratch")
    model = load_model(weights, precision="bfloat16")      # faster where bfloat16 is native
    model = average_models([load_model(a, name="member1"), load_model(b, name="member2")])  # an ensemble
    probabilities = segment_images(model, images)          # (N, H, W) for (N, H, W, 3)
    fov = estimate_fov(image)                              # bool (H, W)
"""

import contextlib
import warnings
from pathlib import Path

import h5py
import keras
import numpy as np
from scipy import ndimage
from skimage import filters

from vesselseg.data.morphology import erode, fill_holes
from vesselseg.data.resampling import resize_linear
from vesselseg.data.training_sets import (  # noqa: F401  (DRIVE_FOV_DIAMETER re-exported)
    DRIVE_FOV_DIAMETER,
    fov_diameter,
    network_scale,
    rescale_image,
    rescaled_shape,
)
from vesselseg.inference.normalisation import normalise_image, normalise_images
from vesselseg.tasks import VESSEL_HEADS
from vesselseg.training.run_folder import FINAL_WEIGHTS, read_run_config
from vesselseg.unet import SIZE_MULTIPLE, build_unet

# With --images and --rim-fill N, a standardised photograph's outermost N pixels of the FOV (counted
# at the scale the network sees) and everything outside it are filled from the nearest pixel
# further in: other datasets' masks include the dark edge of the disc, which unet_camera took for a
# vessel, and 6 pixels suit it. The default model does better without the fill, on CHASE_DB1 and on
# held-out DRIVE images alike, since the fill draws vessels that reach the rim out into radial
# streaks; so it is off by default (docs/results/other_cameras.md, the mask's dark rim).
RIM_FILL_PX = 0
# With --images, each photograph is segmented with its FOV rescaled to each of these diameters and
# the maps are averaged: by default once, at DRIVE's width, which is right for cameras with DRIVE's
# 45-degree field (on held-out DRIVE images, averaging more widths lowered the AUC). A narrower
# field shows the vessels wider: on CHASE_DB1's 30-degree photographs one width split wide
# vessels along their bright central reflex, and NARROW_FIELD_FOV_DIAMETERS, chosen there, raised
# the AUC (docs/results/other_cameras.md, scale).
PHOTOGRAPH_FOV_DIAMETERS = (DRIVE_FOV_DIAMETER,)
NARROW_FIELD_FOV_DIAMETERS = (540, 450, 380)
# The network is given only the FOV's bounding box at its scale, widened by this many pixels on
# each side: the black surround beyond it, 0 after the standardisation, costs as much arithmetic
# as the fundus, and on photographs wider than their FOV it is a quarter of the input or more. The
# margin keeps the U-Net's zero padding, which then replaces the surround's features, away from
# the FOV (docs/performance.md, the FOV's box).
FOV_BOX_MARGIN = 32
# Photographs smaller than this cannot hold a usable field of view.
MIN_IMAGE_SIZE = 64
PREDICT_BATCH_SIZE = 4
# FOV threshold at most this fraction of the photograph's bright (99th percentile) red level.
FOV_THRESHOLD_FRACTION = 0.2
# Keras dtype policies of predict.py's --precision. "mixed_bfloat16" keeps the weights in float32
# and computes in bfloat16; the U-Net's last layer computes in float32 either way, so the
# probabilities keep float32 resolution and the AUC has no extra ties.
PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


@contextlib.contextmanager
def dtype_policy(precision):
    """Build layers under the Keras dtype policy of `precision`, then restore the previous one."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, not {precision!r}.")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(PRECISIONS[precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def check_weights_file(weights):
    """Raise ValueError unless every array of the HDF5 file `weights` can be read: a truncated or
    damaged download is named as such, not blamed on the architecture."""
    try:
        with h5py.File(weights, "r") as file:
            file.visititems(lambda name, item: item[()] if isinstance(item, h5py.Dataset) else None)
    except (OSError, RuntimeError, KeyError) as error:
        raise ValueError(f"{weights} is unreadable or truncated ({error}); download or copy it again.") from error


def load_model(weights, encoder="scratch", dropout=0.1, precision="float32", name=None, heads=VESSEL_HEADS):
    """Build a U-Net and load `weights` into it, with clear errors for a missing or wrong file.

    precision "bfloat16" computes in bfloat16 with the same float32 weights: faster where the
    hardware has bfloat16 arithmetic, slower than float32 where it is emulated (docs/performance.md).
    name: the model's name, which the members of an ensemble (average_models) need to differ.
    heads: the model's outputs (unet.build_unet's heads).
    """
    weights = Path(weights)
    if not weights.is_file():
        raise FileNotFoundError(f"Weights file {weights} does not exist.")
    check_weights_file(weights)
    with dtype_policy(precision):
        model = build_unet(encoder, dropout=dropout, vgg_weights=None, name=name, heads=heads)
    try:
        # A mismatched file makes Keras warn once per layer before it fails; the error says it all.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.load_weights(weights)
    except Exception as error:  # Keras raises ValueError, KeyError or OSError depending on the mismatch.
        # Keras' message lists every variable's values; its first line names the problem.
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(
            f"{weights} does not hold weights of the {encoder} U-Net ({type(error).__name__}: {first_line}). "
            "Pass the matching --encoder, or use --run with the run folder that produced it."
        ) from error
    return model


def average_models(models):
    """One model whose output is the mean of the probabilities of `models` (an ensemble), so that
    the flips, the FOV widths and the batching run it exactly as they run one U-Net; a single model
    comes back unchanged. The members need distinct names (load_model's `name`)."""
    if len(models) == 1:
        return models[0]
    inputs = keras.Input(shape=(None, None, 3), name="image")
    # Built outside any bfloat16 policy, the mean is taken in float32, as each member's output is.
    outputs = keras.layers.Average(name="mean_probability")([model(inputs) for model in models])
    return keras.Model(inputs, outputs, name="ensemble")


def run_settings(run_dir):
    """The weights file, encoder and dropout of a training run folder."""
    config = read_run_config(run_dir)
    return Path(run_dir) / FINAL_WEIGHTS, config["encoder"], config["dropout"]


def pad_to_multiple(images, multiple=SIZE_MULTIPLE):
    """Reflect-pad (N, H, W, C) images at the bottom and right to multiples of `multiple`."""
    height, width = images.shape[1:3]
    pad_height, pad_width = -height % multiple, -width % multiple
    return np.pad(images, ((0, 0), (0, pad_height), (0, pad_width), (0, 0)), mode="reflect")


# The axes of a batch (N, H, W, C) that test-time augmentation flips: none, left-right, up-down,
# both. Flipping a map along the same axes undoes its view's flip.
FLIP_AXES = ((), (2,), (1,), (1, 2))


def flips(images, tta=True):
    """The views of a batch, as (batch, undo) pairs, undo mapping a view's predictions back: the
    four flips with `tta`, else the batch alone."""
    return [(np.flip(images, axes), lambda p, axes=axes: np.flip(p, axes)) for axes in (FLIP_AXES if tta else ((),))]


def segment_images(
    model, images, batch_size=PREDICT_BATCH_SIZE, tta=False, progress=True, fovs=None, normalisation="rgb255"
):
    """Vessel probabilities (N, H, W) float32 of same-sized images (N, H, W, 3) in [0, 1], or
    (N, H, W, C) for a model of C heads (the artery/vein model).

    Each image is first normalised as the model was trained (normalisation.py), with its FOV
    (N, H, W) when given. Images are reflect-padded to a multiple of 16 and the padding is cut
    off again, so each map is exactly aligned with its image. With `tta`, the four flips are averaged.
    """
    images = normalise_images(images, fovs, normalisation)
    height, width = images.shape[1:3]
    padded = pad_to_multiple(images)
    bar = keras.utils.Progbar(len(images), unit_name="image") if progress else None
    maps = []
    for start in range(0, len(padded), batch_size):
        batch = padded[start : start + batch_size]
        views = flips(batch, tta)
        total = sum(undo(np.asarray(model.predict_on_batch(np.ascontiguousarray(view)))) for view, undo in views)
        probabilities = (total / len(views))[:, :height, :width]
        # The blog's one output gives (N, H, W) maps; several heads keep their channel axis.
        maps.append((probabilities[..., 0] if probabilities.shape[-1] == 1 else probabilities).astype(np.float32))
        if bar is not None:
            bar.add(len(batch))
    return np.concatenate(maps)


def estimate_fov(image):
    """Estimate the bright disc of a fundus photograph (H, W, 3) in [0, 1] as a bool mask.

    The background outside the disc is near black, so Otsu's threshold on the red channel
    (the brightest in fundus images) separates them; the largest component, with its holes
    filled, is the FOV.
    """
    red = ndimage.uniform_filter(image[..., 0], size=5)
    threshold = filters.threshold_otsu(red)
    # Otsu can split dim retina from bright retina instead of retina from the black surround;
    # capping it at a fifth of the bright level keeps dim rims inside. The fraction was chosen
    # on DRIVE's FOV masks (IoU at least 0.98 on all 40).
    foreground = red > min(threshold, FOV_THRESHOLD_FRACTION * np.percentile(red, 99))
    labels, count = ndimage.label(foreground)
    if count == 0:
        return np.zeros(image.shape[:2], dtype=bool)
    largest = 1 + int(np.argmax(np.bincount(labels.ravel(), minlength=count + 1)[1:]))
    fov = fill_holes(labels == largest)
    # DRIVE's masks stop a few pixels inside the visible edge, where the rim is unreliable.
    return erode(fov, iterations=2)


def check_image_size(image):
    """ValueError for an image (H, W, ...) too small to segment: under MIN_IMAGE_SIZE pixels a side."""
    if min(image.shape[:2]) < MIN_IMAGE_SIZE:
        raise ValueError(
            f"image is {image.shape[1]}x{image.shape[0]}; at least {MIN_IMAGE_SIZE} pixels a side are needed"
        )


def segment_photograph(
    model,
    image,
    fov,
    tta=False,
    normalisation="rgb255",
    rim_fill_px=RIM_FILL_PX,
    fov_diameters=PHOTOGRAPH_FOV_DIAMETERS,
):
    """Probabilities for one photograph of any size, normalised as the model was trained and
    rescaled so that its FOV is each of `fov_diameters` pixels wide in turn (by default DRIVE's
    width), the maps then averaged.

    With the "fov_standardise" normalisation and a `rim_fill_px` above 0 (off by default), the
    FOV's outer `rim_fill_px` pixels at the scale the network sees are filled in first
    (normalise_image's rim_fill). Returns a (H, W) map of the photograph's own size, or (H, W, C)
    for a model of C heads; outside the FOV it is 0.
    """
    check_image_size(image)
    # A running sum: a large photograph's full-size maps are not all held at once.
    total = sum(
        segment_at_scale(model, image, fov, scale, tta, normalisation, rim_fill_px)
        for scale in network_scales(fov, fov_diameters)
    )
    return mean_inside_fov(total, len(fov_diameters), fov)


def network_scales(fov, fov_diameters=PHOTOGRAPH_FOV_DIAMETERS):
    """The factors by which segment_photograph rescales a photograph for the network, one per
    FOV width: each brings the FOV's width to that many pixels, whatever the photograph's own
    resolution. ValueError for a FOV narrower than MIN_IMAGE_SIZE."""
    diameter = fov_diameter(fov)
    if diameter < MIN_IMAGE_SIZE:
        raise ValueError(f"no field of view of at least {MIN_IMAGE_SIZE} pixels found (got {diameter}).")
    return [network_scale(fov, target) for target in fov_diameters]


def segment_at_scale(model, image, fov, scale, tta, normalisation, rim_fill_px):
    """segment_photograph's map (H, W) of one photograph rescaled by `scale` for the network."""
    network_image, corner = network_input(image, fov, scale, normalisation, rim_fill_px)
    probabilities = segment_images(model, network_image[None], tta=tta, progress=False)[0]
    return back_to_photograph(probabilities, image.shape[:2], scale, corner)


def network_input(image, fov, scale, normalisation, rim_fill_px):
    """(input, corner): a photograph (H, W, 3) as the network sees it at `scale`, normalised as
    the model was trained (with its rim filled, rim_fill_px counted at the network's scale),
    rescaled, and cut to the FOV's box (fov_box), whose top-left corner (row, column) in the
    whole rescaled photograph comes with it."""
    whole = rescale_image(normalise_image(image, fov, normalisation, rim_fill=rim_fill_px / scale), scale)
    top, left, bottom, right = fov_box(fov, scale, whole.shape[:2])
    return whole[top:bottom, left:right], (top, left)


def fov_box(fov, scale, shape):
    """(top, left, bottom, right): the rows top:bottom and columns left:right of a network input
    of `shape` (rows, columns), the photograph of FOV `fov` (H, W) bool rescaled by `scale`, that
    hold the FOV's bounding box widened by FOV_BOX_MARGIN pixels. The top-left corner lies on
    the U-Net's SIZE_MULTIPLE grid, so that its pooling falls where it would on the whole input.
    The whole input for an empty FOV."""
    if not fov.any():
        return 0, 0, shape[0], shape[1]
    ends = []
    for axis, size in ((1, shape[0]), (0, shape[1])):
        inside = np.flatnonzero(fov.any(axis=axis))
        start = max(0, int(np.floor(inside[0] * scale)) - FOV_BOX_MARGIN)
        stop = min(size, int(np.ceil((inside[-1] + 1) * scale)) + FOV_BOX_MARGIN)
        ends.append((start // SIZE_MULTIPLE * SIZE_MULTIPLE, stop))
    (top, bottom), (left, right) = ends
    return top, left, bottom, right


def back_to_photograph(probabilities, shape, scale, corner=(0, 0)):
    """A map the network made at `scale` of the input cut at `corner` (network_input), put back
    in a zero map of the whole rescaled photograph and resized to the photograph's `shape`
    (anti-aliased when the photograph was enlarged for the network)."""
    whole = np.zeros(rescaled_shape(shape, scale) + probabilities.shape[2:], dtype=np.float32)
    top, left = corner
    whole[top : top + probabilities.shape[0], left : left + probabilities.shape[1]] = probabilities
    return resize_linear(whole, shape, anti_aliasing=scale > 1)


def mean_inside_fov(total, count, fov):
    """The mean of `count` maps from their sum `total` ((H, W), or (H, W, C) for several heads),
    0 outside the FOV, as float32."""
    inside = fov if total.ndim == 2 else fov[..., None]
    return np.where(inside, total / count, 0.0).astype(np.float32)
