"""Binary morphology on bool masks: SciPy's results, by shifted whole-array operations.

    from vesselseg.data.morphology import dilate, erode, fill_holes
    inner = erode(fov, iterations=2)             # scipy.ndimage.binary_erosion(fov, iterations=2)
    near = dilate(branch_pixels, square=True)    # binary_dilation(..., structure=np.ones((3, 3)))
    filled = fill_holes(region)                  # scipy.ndimage.binary_fill_holes(region)

Each function returns the same bool array as the SciPy call in its docstring (tests compare them).
SciPy's binary erosion and dilation visit every pixel's neighbourhood in turn; five or nine
shifted copies combined by NumPy do the same work in whole-array operations, about ten times
faster on a photograph, where the FOV estimate, the quality checks and the measurements each
erode or dilate once or more.
"""

import numpy as np
from scipy import ndimage

# Neighbour offsets (row, column) of the 3x3 cross, SciPy's default structuring element, and of
# the 3x3 square.
CROSS = ((-1, 0), (1, 0), (0, -1), (0, 1))
SQUARE = CROSS + ((-1, -1), (-1, 1), (1, -1), (1, 1))


def shifted(padded, row, column):
    """The view of a mask padded by one pixel that shows each pixel's neighbour at (row, column)."""
    height, width = padded.shape[0] - 2, padded.shape[1] - 2
    return padded[1 + row : 1 + row + height, 1 + column : 1 + column + width]


def combine_neighbours(mask, iterations, square, operation):
    """`mask` (H, W) combined `iterations` times with its neighbours by the bool ufunc `operation`
    (np.logical_and erodes, np.logical_or dilates), everything beyond the edge False."""
    result = np.asarray(mask, dtype=bool)
    for _ in range(iterations):
        padded = np.pad(result, 1, constant_values=False)
        result = result.copy()
        for row, column in SQUARE if square else CROSS:
            operation(result, shifted(padded, row, column), out=result)
    return result


def erode(mask, iterations=1, square=False):
    """`mask` (H, W) eroded `iterations` times by the 3x3 cross (`square`: the 3x3 square), bool,
    with everything beyond the image's edge counted as outside: scipy.ndimage.binary_erosion
    with its default border."""
    return combine_neighbours(mask, iterations, square, np.logical_and)


def dilate(mask, iterations=1, square=False):
    """`mask` (H, W) dilated `iterations` times by the 3x3 cross (`square`: the 3x3 square), bool:
    scipy.ndimage.binary_dilation."""
    return combine_neighbours(mask, iterations, square, np.logical_or)


def fill_holes(region):
    """The bool `region` (H, W) with its holes filled: the same as scipy's binary_fill_holes, whose
    default 4-connected background is labelled here once rather than grown from the border until
    it stops: the same mask in under half the time on a photograph."""
    background, _ = ndimage.label(~region)
    edges = np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]])
    # Background that reaches the image's edge stays background; every other part is a hole.
    outside = np.zeros(background.max() + 1, dtype=bool)
    outside[edges] = True
    outside[0] = False
    return region | ~outside[background]
