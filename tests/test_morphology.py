"""Binary morphology: the same masks as SciPy's, on random masks and on shapes with edges."""

import numpy as np
from scipy import ndimage

from vesselseg.data.morphology import dilate, erode, fill_holes


def random_masks():
    rng = np.random.default_rng(2)
    masks = [rng.random((70, 90)) < density for density in (0.2, 0.5, 0.9)]
    # A disc that touches the image's edges, as a FOV can, and a mask that is all True.
    rows, columns = np.ogrid[:60, :60]
    masks.append((rows - 30) ** 2 + (columns - 35) ** 2 < 31**2)
    masks.append(np.ones((20, 30), dtype=bool))
    return masks


def test_erosion_and_dilation_agree_with_scipy():
    square = np.ones((3, 3), dtype=bool)
    for mask in random_masks():
        for iterations in (1, 2, 8):
            np.testing.assert_array_equal(erode(mask, iterations), ndimage.binary_erosion(mask, iterations=iterations))
            np.testing.assert_array_equal(
                dilate(mask, iterations), ndimage.binary_dilation(mask, iterations=iterations)
            )
        np.testing.assert_array_equal(erode(mask, square=True), ndimage.binary_erosion(mask, structure=square))
        np.testing.assert_array_equal(dilate(mask, square=True), ndimage.binary_dilation(mask, structure=square))


def test_fill_holes_agrees_with_scipy():
    rng = np.random.default_rng(1)
    for density in (0.3, 0.5, 0.7):
        region = ndimage.binary_opening(rng.random((90, 120)) < density)
        np.testing.assert_array_equal(fill_holes(region), ndimage.binary_fill_holes(region))
    ring = np.zeros((40, 40), dtype=bool)
    ring[5:35, 5:35], ring[10:30, 10:30] = True, False
    assert fill_holes(ring)[20, 20] and np.array_equal(fill_holes(ring), ndimage.binary_fill_holes(ring))
