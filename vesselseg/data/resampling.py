"""Linear resampling of images and probability maps, as scikit-image's `resize` does it.

    from vesselseg.data.resampling import resize_linear
    smaller = resize_linear(image, (height, width), anti_aliasing=True)   # float32

The result equals `skimage.transform.resize(image, shape, order=1, anti_aliasing=...,
preserve_range=True)` within float32's rounding: the same Gaussian prefilter, the same linear
weights at the same pixel centres, the same mirrored edges, the same clipping to the input's
range. What differs is how it is computed. Along each axis, the prefilter and the interpolation
together are one linear map, each output pixel a weighted sum of a few input pixels, so each
axis is one sparse matrix and an image is resampled by two sparse products, all its channels at
once. SciPy's `gaussian_filter` and `zoom`, which scikit-image calls, filter every input pixel
before interpolating and took about four times as long; since they round the filtered image to
float32 on the way, the two ways differ by up to a unit in float32's last place.
"""

import functools

import numpy as np
from scipy import sparse

# The Gaussian prefilter's kernel reaches this many standard deviations each way (SciPy's default).
GAUSSIAN_TRUNCATE = 4.0
# The axis matrices kept for reuse: a cohort's photographs come in a few sizes, and each size
# needs one matrix per axis for the network's input and one for the map's way back.
CACHED_OPERATORS = 32


def mirrored(indices, size):
    """`indices` (int array) outside 0..size-1 reflected back inside about the edge pixels' centres,
    as often as needed (d c b | a b c d | c b a): scikit-image's "reflect" edges, SciPy's "mirror"."""
    if size == 1:
        return np.zeros_like(indices)
    period = 2 * (size - 1)
    indices = np.abs(indices) % period
    return np.where(indices >= size, period - indices, indices)


def gaussian_weights(sigma):
    """(offsets, weights) of a Gaussian kernel of standard deviation `sigma` pixels, as SciPy's
    gaussian_filter makes it: GAUSSIAN_TRUNCATE deviations each way, weights summing to 1."""
    radius = int(GAUSSIAN_TRUNCATE * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 / sigma**2 * offsets**2)
    return offsets, weights / weights.sum()


@functools.lru_cache(maxsize=CACHED_OPERATORS)
def axis_operator(size_in, size_out, sigma):
    """The sparse (size_out, size_in) float32 matrix that resamples one axis of `size_in` pixels
    to `size_out`: a Gaussian blur of `sigma` pixels (none at 0), then linear interpolation at the
    output pixels' centres, both with mirrored edges."""
    position = (np.arange(size_out) + 0.5) * (size_in / size_out) - 0.5
    below = np.floor(position)
    fraction = position - below
    below = below.astype(np.int64)
    rows = np.repeat(np.arange(size_out), 2)
    columns = mirrored(np.stack([below, below + 1], axis=1).ravel(), size_in)
    values = np.stack([1.0 - fraction, fraction], axis=1).ravel()
    operator = sparse.csr_matrix((values, (rows, columns)), shape=(size_out, size_in))
    if sigma > 0:
        offsets, weights = gaussian_weights(sigma)
        blur_rows = np.repeat(np.arange(size_in), offsets.size)
        blur_columns = mirrored((np.arange(size_in)[:, None] + offsets[None]).ravel(), size_in)
        blur = sparse.csr_matrix((np.tile(weights, size_in), (blur_rows, blur_columns)), shape=(size_in, size_in))
        operator = operator @ blur
    return operator.astype(np.float32).tocsr()


def resize_linear(image, shape, anti_aliasing):
    """`image` (H, W) or (H, W, C) resized to `shape` (rows, columns), float32, by linear
    interpolation; with `anti_aliasing`, each axis that shrinks by a factor f is first blurred by
    a Gaussian of sigma (f - 1) / 2 pixels, as scikit-image does. Values stay within the input's
    range."""
    image = np.asarray(image, dtype=np.float32)
    planes = image[..., None] if image.ndim == 2 else image
    (rows, columns, channels), (new_rows, new_columns) = planes.shape, tuple(int(size) for size in shape)
    factors = np.divide((rows, columns), (new_rows, new_columns))
    sigmas = np.maximum(0.0, (factors - 1) / 2) if anti_aliasing else (0.0, 0.0)
    down = axis_operator(rows, new_rows, float(sigmas[0]))
    across = axis_operator(columns, new_columns, float(sigmas[1]))
    # Rows first, on the image as (rows, columns x channels); then columns, with them brought first.
    resampled = down @ planes.reshape(rows, columns * channels)
    resampled = resampled.reshape(new_rows, columns, channels).transpose(1, 0, 2).reshape(columns, -1)
    resized = np.ascontiguousarray((across @ resampled).reshape(new_columns, new_rows, channels).transpose(1, 0, 2))
    np.clip(resized, image.min(), image.max(), out=resized)
    return resized[..., 0] if image.ndim == 2 else resized


def rescaled_shape(shape, scale):
    """The (rows, columns) of an image of `shape` rescaled by `scale`, as scikit-image's
    `rescale` rounds them (at least 1 each)."""
    return tuple(int(size) for size in np.maximum(np.round(scale * np.asarray(shape[:2])), 1))
