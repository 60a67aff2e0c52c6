"""Input normalisation of the U-Net: one function for training and for inference.

The blog divides RGB by 255 ("rgb255"), and every faithful model expects exactly that. A network
trained so learns DRIVE's colours: on photographs from other cameras its maps grow weak or empty.
"fov_standardise" shifts and scales each colour channel of each photograph to mean 0 and
standard deviation 1 over the pixels of its field of view (FOV), so that a camera's brightness,
white balance and contrast stop mattering. Outside the FOV the image becomes 0, so the black
surround and its camera-specific noise carry no information either.

    from vesselseg.inference.normalisation import normalise_image
    network_input = normalise_image(image, fov, "fov_standardise")   # (H, W, 3) float32

The normalisation a model was trained with is recorded as "normalisation" in its config.json
(and in a shipped model's weights/<name>/config.json); configs without it mean "rgb255".
"""

import numpy as np
from scipy import ndimage

from vesselseg.data.morphology import erode

NORMALISATIONS = ("rgb255", "fov_standardise")
# What a model whose config predates the setting was trained with.
DEFAULT_NORMALISATION = "rgb255"
# Floor of a channel's standard deviation, so that a flat channel (a grey or empty photograph)
# gives zeros instead of a division by zero.
MIN_STD = 1e-3


def check_normalisation(method):
    """Raise ValueError unless `method` is one of NORMALISATIONS."""
    if method not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {NORMALISATIONS}, not {method!r}.")


def model_normalisation(config):
    """The normalisation of a run's or shipped model's config (a dict, or None when unknown)."""
    method = (config or {}).get("normalisation") or DEFAULT_NORMALISATION
    check_normalisation(method)
    return method


def fov_statistics(image, fov):
    """Per-channel mean and standard deviation (each shape (3,), float32) of the FOV pixels of
    `image` (H, W, 3) in [0, 1]; an empty FOV counts the whole image."""
    inside = fov if fov is not None and fov.any() else np.ones(image.shape[:2], dtype=bool)
    means, deviations = [], []
    # Channel by channel, in float64, with the deviations' squares summed by a dot product: the
    # same two-pass figures as NumPy's mean and std over all channels at once, several times faster.
    for channel in range(image.shape[-1]):
        values = image[..., channel][inside].astype(np.float64)
        mean = values.mean()
        values -= mean
        means.append(mean)
        deviations.append(np.sqrt(np.dot(values, values) / values.size))
    return np.array(means, dtype=np.float32), np.array(deviations, dtype=np.float32)


def standardise(image, mean, std, outside=None):
    """(image - mean) / std per channel (the last axis), float32; std is floored at MIN_STD. Where
    the bool mask `outside` (the image's shape less its channel axis) is True, 0."""
    standardised = np.empty(image.shape, dtype=np.float32)
    deviations = np.maximum(std, MIN_STD)
    # Channel by channel: NumPy broadcasting three means over (H, W, 3) loops over three elements
    # at a time, about four times slower, with the same float32 results.
    for channel in range(image.shape[-1]):
        plane = standardised[..., channel]
        np.subtract(image[..., channel], mean[channel], out=plane, dtype=np.float32)
        plane /= deviations[channel]
        if outside is not None:
            np.copyto(plane, 0.0, where=outside)
    return standardised


def normalise_image(image, fov, method, rim_fill=0):
    """The network input for one photograph (H, W, 3) in [0, 1] with its FOV (H, W) bool or None.

    "rgb255" returns the image unchanged (it is already RGB/255); "fov_standardise" returns each
    channel standardised over the FOV, and 0 outside it. With `rim_fill` pixels (fov_standardise
    only, as predict.py --images uses it), the statistics come from the FOV less its outer
    `rim_fill` pixels, and that rim and the outside take the value of the nearest pixel further
    in, so that a mask's dark edge leaves no edge in the input. Returns float32 (H, W, 3).
    """
    check_normalisation(method)
    image = np.asarray(image, dtype=np.float32)
    if method == "rgb255":
        return image
    if fov is not None and round(rim_fill) >= 1:
        inside = erode(fov, iterations=int(round(rim_fill)))
        if inside.any():
            return fill_outside(standardise(image, *fov_statistics(image, inside)), inside)
    return standardise(image, *fov_statistics(image, fov), outside=None if fov is None else ~fov)


def fill_outside(image, inside):
    """`image` (H, W, C) with every pixel outside the bool mask `inside` (H, W) replaced by the
    value of the nearest pixel inside it, so that no edge is left where `inside` ends."""
    if inside.all() or not inside.any():
        return image
    rows, columns = ndimage.distance_transform_edt(~inside, return_distances=False, return_indices=True)
    return image[rows, columns]


def normalise_images(images, fovs, method):
    """normalise_image over a stack (N, H, W, 3), with fovs (N, H, W) or None."""
    if method == "rgb255":
        return np.asarray(images, dtype=np.float32)
    return np.stack(
        [
            normalise_image(image, None if fovs is None else fov, method)
            for image, fov in zip(images, fovs if fovs is not None else [None] * len(images))
        ]
    )


def fold_standardisation(kernel, bias, mean, std):
    """Kernel and bias of a first convolution that gives, on standardised input z, what (kernel,
    bias) gave on z * std + mean: the RGB/255 image of a photograph with those statistics.

    kernel (kh, kw, 3, filters), bias (filters,), mean and std (3,). A model trained on RGB/255 so
    converted starts its training on standardised input where it left off, instead of from the
    chance-level loss of inputs it never saw. Only the zero padding at the image border differs.
    """
    kernel = np.asarray(kernel, dtype=np.float32)
    folded_kernel = kernel * np.asarray(std, dtype=np.float32)[None, None, :, None]
    folded_bias = np.asarray(bias, dtype=np.float32) + np.einsum(
        "hwcf,c->f", kernel, np.asarray(mean, dtype=np.float32)
    )
    return folded_kernel, folded_bias
