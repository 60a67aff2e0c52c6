"""The fast resampling and FOV statistics beside the forward pass give scikit-image's and NumPy's
figures, the resampling within float32's rounding, so that the speed costs no score."""

import numpy as np
import pytest
from skimage import transform

from vesselseg.data.resampling import rescaled_shape, resize_linear
from vesselseg.inference.normalisation import fov_statistics


@pytest.mark.parametrize("channels", [None, 3])
@pytest.mark.parametrize("shape", [(23, 31), (70, 90), (48, 37)])
@pytest.mark.parametrize("anti_aliasing", [False, True])
def test_resize_linear_matches_scikit_image(channels, shape, anti_aliasing):
    rng = np.random.default_rng(sum(shape))
    size = (45, 52) if channels is None else (45, 52, channels)
    image = rng.random(size).astype(np.float32) * 0.8 + 0.1
    expected = transform.resize(image, shape, order=1, anti_aliasing=anti_aliasing, preserve_range=True)
    resized = resize_linear(image, shape, anti_aliasing=anti_aliasing)
    assert resized.dtype == np.float32
    assert resized.shape == expected.shape
    np.testing.assert_allclose(resized, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (9, 2)])
def test_resize_linear_reflects_kernels_wider_than_the_image(shape):
    # Shrinking a tiny image blurs it with a kernel that reaches past both edges more than once.
    image = np.random.default_rng(5).random((4, 6, 3)).astype(np.float32)
    expected = transform.resize(image, shape + (3,), order=1, anti_aliasing=True, preserve_range=True)
    np.testing.assert_allclose(resize_linear(image, shape, anti_aliasing=True), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("scale", [0.37, 0.59, 1.0, 1.43, 2.1])
def test_rescaled_shape_rounds_as_scikit_image(scale):
    image = np.zeros((61, 47, 3), dtype=np.float32)
    expected = transform.rescale(image, scale, channel_axis=-1, order=1, anti_aliasing=False).shape[:2]
    assert rescaled_shape(image.shape, scale) == expected


def test_fov_statistics_equal_numpy_mean_and_std():
    rng = np.random.default_rng(3)
    image = rng.random((57, 64, 3)).astype(np.float32)
    fov = rng.random((57, 64)) < 0.6
    means, deviations = fov_statistics(image, fov)
    assert means.dtype == deviations.dtype == np.float32
    np.testing.assert_array_equal(means, image[fov].mean(axis=0, dtype=np.float64).astype(np.float32))
    np.testing.assert_array_equal(deviations, image[fov].std(axis=0, dtype=np.float64).astype(np.float32))
    # An empty FOV counts the whole image.
    whole = image.reshape(-1, 3)
    np.testing.assert_array_equal(
        fov_statistics(image, np.zeros_like(fov))[1], whole.std(axis=0, dtype=np.float64).astype(np.float32)
    )


def test_standardise_by_channel_equals_broadcasting():
    from vesselseg.inference.normalisation import MIN_STD, standardise

    rng = np.random.default_rng(7)
    image = rng.random((2, 33, 41, 3)).astype(np.float32)
    mean, std = np.float32([0.4, 0.3, 0.2]), np.float32([0.2, 0.0, 0.05])
    expected = np.subtract(image, mean, dtype=np.float32) / np.maximum(std, MIN_STD)
    np.testing.assert_array_equal(standardise(image, mean, std), expected)
    outside = rng.random(image.shape[:-1]) < 0.3
    np.testing.assert_array_equal(standardise(image, mean, std, outside), np.where(outside[..., None], 0, expected))
