"""Paired augmentation and random crops for training, in vectorised NumPy.

Geometric transforms (flips, rotation, shear, translation, zoom) move an image and its
annotation together; photometric ones (brightness, contrast, saturation) change the image
only. The faithful defaults below are the blog's final aug_utils: each transform is an
independent draw with its own probability.

Every geometric transform is a 3x3 matrix that maps *output* pixel coordinates (row, column)
to *source* coordinates, so a chain of them is one matrix product and a warp only has to
sample the output pixels that are kept. `sample_batch` uses this to warp just the 64x64
crops that training needs instead of whole 584x565 images:

    batch_images, batch_masks = sample_batch(images, masks, np.random.default_rng(0))
    image, mask = augment(image, mask, rng)   # the same transforms on one whole image
"""

import numpy as np

# Faithful defaults: (largest change, probability of applying it).
BRIGHTNESS = (0.1, 0.05)  # multiply by 1 +- 0.1
CONTRAST = (0.1, 0.05)  # scale the distance to the mean by 1 +- 0.1
SATURATION = (0.1, 0.05)  # scale the distance to grey by 1 +- 0.1
ROTATION_DEGREES = (10.0, 0.05)
SHEAR_DEGREES = (5.0, 0.05)
TRANSLATION_FRACTION = (0.1, 0.05)  # of each axis
ZOOM_RANGE = ((0.9, 1.1), 0.05)
FLIP_PROBABILITY = 0.5  # horizontal and vertical drawn independently, so sometimes both

# The blog's batch: 4 images, 4 random 64x64 crops from each.
IMAGES_PER_BATCH = 4
CROPS_PER_IMAGE = 4
CROP_SIZE = 64

# ITU-R BT.601 luma weights, used for the grey image that saturation blends towards.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def about_center(linear, shape):
    """Lift a 2x2 matrix acting around the image centre to a 3x3 pixel-coordinate matrix."""
    center = (np.array(shape[:2], dtype=np.float64) - 1.0) / 2.0
    matrix = np.eye(3)
    matrix[:2, :2] = linear
    matrix[:2, 2] = center - linear @ center
    return matrix


def random_flips(rng, shape, p=FLIP_PROBABILITY):
    """Horizontal and vertical flips, each with probability p."""
    signs = np.where(rng.random(2) < p, -1.0, 1.0)
    return about_center(np.diag(signs), shape)


def random_rotation(rng, shape, max_degrees=ROTATION_DEGREES[0], p=ROTATION_DEGREES[1]):
    """Rotation by up to +-max_degrees, with probability p."""
    angle = np.deg2rad(rng.uniform(-max_degrees, max_degrees)) if rng.random() < p else 0.0
    cos, sin = np.cos(angle), np.sin(angle)
    return about_center(np.array([[cos, -sin], [sin, cos]]), shape)


def random_shear(rng, shape, max_degrees=SHEAR_DEGREES[0], p=SHEAR_DEGREES[1]):
    """Horizontal shear by up to +-max_degrees, with probability p."""
    angle = np.deg2rad(rng.uniform(-max_degrees, max_degrees)) if rng.random() < p else 0.0
    return about_center(np.array([[1.0, 0.0], [np.tan(angle), 1.0]]), shape)


def random_zoom(rng, shape, zoom_range=ZOOM_RANGE[0], p=ZOOM_RANGE[1]):
    """Zoom by a factor in zoom_range (above 1 shows more of the image), with probability p."""
    factor = rng.uniform(*zoom_range) if rng.random() < p else 1.0
    return about_center(np.eye(2) * factor, shape)


def random_translation(rng, shape, max_fraction=TRANSLATION_FRACTION[0], p=TRANSLATION_FRACTION[1]):
    """Shift by up to +-max_fraction of each axis, with probability p."""
    matrix = np.eye(3)
    if rng.random() < p:
        matrix[:2, 2] = rng.uniform(-max_fraction, max_fraction, size=2) * np.array(shape[:2])
    return matrix


def random_affine(rng, shape, zoom=ZOOM_RANGE):
    """One draw of every geometric transform, chained into a single 3x3 matrix.

    zoom is (range, probability); the default is the blog's, wider ranges imitate cameras whose
    vessels are wider or narrower in pixels than DRIVE's.
    """
    matrix = np.eye(3)
    for transform in (random_flips, random_rotation, random_shear):
        matrix = matrix @ transform(rng, shape)
    matrix = matrix @ random_zoom(rng, shape, zoom_range=zoom[0], p=zoom[1])
    return matrix @ random_translation(rng, shape)


def random_brightness(image, rng, max_delta=BRIGHTNESS[0], p=BRIGHTNESS[1]):
    """Multiply by 1 +- max_delta, with probability p."""
    if rng.random() >= p:
        return image
    return image * rng.uniform(1 - max_delta, 1 + max_delta)


def random_contrast(image, rng, max_delta=CONTRAST[0], p=CONTRAST[1], mean=None):
    """Scale each channel's distance to its mean by 1 +- max_delta, with probability p.

    `mean` is the whole image's channel mean, so that crops change as the image would.
    """
    if rng.random() >= p:
        return image
    if mean is None:
        mean = image.reshape(-1, image.shape[-1]).mean(axis=0)
    return (image - mean) * rng.uniform(1 - max_delta, 1 + max_delta) + mean


def random_saturation(image, rng, max_delta=SATURATION[0], p=SATURATION[1]):
    """Scale each pixel's distance to its grey level by 1 +- max_delta, with probability p."""
    if rng.random() >= p:
        return image
    grey = (image @ LUMA_WEIGHTS)[..., None]
    return (image - grey) * rng.uniform(1 - max_delta, 1 + max_delta) + grey


def photometric(image, rng, mean=None):
    """Brightness, contrast and saturation draws, then clip back to [0, 1]."""
    image = random_brightness(image, rng)
    image = random_contrast(image, rng, mean=mean)
    image = random_saturation(image, rng)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def reflect_index(index, size):
    """Mirror integer indices into [0, size) without repeating the edge pixel."""
    if size == 1:
        return np.zeros_like(index)
    period = 2 * (size - 1)
    index = np.abs(index) % period
    return np.where(index >= size, period - index, index)


def warp(image, matrix, rows, columns):
    """Sample `image` (H, W, C) bilinearly at output coordinates mapped through `matrix`.

    rows and columns are arrays of output pixel coordinates of any (equal) shape; the result
    has that shape plus the channel axis. Outside the image, the image is mirrored.
    """
    source_rows = matrix[0, 0] * rows + matrix[0, 1] * columns + matrix[0, 2]
    source_columns = matrix[1, 0] * rows + matrix[1, 1] * columns + matrix[1, 2]
    row0, column0 = np.floor(source_rows), np.floor(source_columns)
    row_weight = (source_rows - row0)[..., None].astype(np.float32)
    column_weight = (source_columns - column0)[..., None].astype(np.float32)
    height, width = image.shape[:2]
    r0, r1 = reflect_index(row0.astype(np.int64), height), reflect_index(row0.astype(np.int64) + 1, height)
    c0, c1 = reflect_index(column0.astype(np.int64), width), reflect_index(column0.astype(np.int64) + 1, width)
    top = image[r0, c0] * (1 - column_weight) + image[r0, c1] * column_weight
    bottom = image[r1, c0] * (1 - column_weight) + image[r1, c1] * column_weight
    return top * (1 - row_weight) + bottom * row_weight


def warp_pair(image, mask, matrix, rows, columns):
    """Warp an image and its binary annotation with the same matrix; the mask stays binary.

    mask is (H, W), or (H, W, C) for several binary targets (the artery/vein model's), each
    warped and thresholded alike; the warped mask keeps its channel axis only when it had one."""
    warped_image = warp(image, matrix, rows, columns)
    channels = mask if mask.ndim == 3 else mask[..., None]
    warped_mask = warp(channels.astype(np.float32), matrix, rows, columns)
    warped_mask = warped_mask if mask.ndim == 3 else warped_mask[..., 0]
    return warped_image.astype(np.float32), (warped_mask >= 0.5).astype(np.float32)


def augment(image, mask, rng):
    """Augment one whole image (H, W, 3) in [0, 1] and its annotation (H, W) in {0, 1}."""
    rows, columns = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    warped_image, warped_mask = warp_pair(image, mask, random_affine(rng, image.shape), rows, columns)
    return photometric(warped_image, rng, mean=image.reshape(-1, 3).mean(axis=0)), warped_mask


def crop_grid(rng, shape, crop, count):
    """Output coordinates of `count` random crop x crop windows inside an image of `shape`."""
    tops = rng.integers(0, shape[0] - crop + 1, size=count)
    lefts = rng.integers(0, shape[1] - crop + 1, size=count)
    offsets = np.arange(crop)
    rows = tops[:, None, None] + offsets[None, :, None] + np.zeros((1, 1, crop), dtype=np.int64)
    columns = lefts[:, None, None] + offsets[None, None, :] + np.zeros((1, crop, 1), dtype=np.int64)
    return rows, columns


def sample_batch(
    images,
    masks,
    rng,
    augmentation=True,
    images_per_batch=IMAGES_PER_BATCH,
    crops_per_image=CROPS_PER_IMAGE,
    crop=CROP_SIZE,
    image_means=None,
    zoom=ZOOM_RANGE,
    camera=None,
    lesions=0.0,
):
    """One training batch: `images_per_batch` images drawn with replacement, each augmented
    as a whole (when `augmentation`), and `crops_per_image` random crops cut from each.

    images (N, H, W, 3) float32 and masks (N, H, W) in {0, 1}. Only the cropped pixels are
    warped, which gives the same pixels as augmenting the whole image and then cropping.
    `zoom` is the zoom augmentation's (range, probability). `camera`, when given, is a
    camera_aug.CameraAugmentation: it applies the stronger photometric transforms (when the
    run asks for them) and the input normalisation to each image's crops. With `lesions` above
    0, that share of the images get synthetic lesions on their crops (training/lesions.py).
    Returns images (B, crop, crop, 3) and annotations (B, crop, crop, 1), B = images x crops;
    masks (N, H, W, C) of several targets give annotations (B, crop, crop, C).
    """
    height, width = images.shape[1:3]
    if crop > min(height, width):
        raise ValueError(f"Crop size {crop} is larger than the images ({height}x{width}).")
    if image_means is None:
        image_means = images.reshape(len(images), -1, 3).mean(axis=1)
    batch_images, batch_masks = [], []
    for index in rng.integers(0, len(images), size=images_per_batch):
        matrix = random_affine(rng, images.shape[1:3], zoom=zoom) if augmentation else np.eye(3)
        rows, columns = crop_grid(rng, (height, width), crop, crops_per_image)
        crop_images, crop_masks = warp_pair(images[index], masks[index], matrix, rows, columns)
        # The draw is made only when lesions are asked for, so that runs without them see the
        # batches they always saw.
        if augmentation and lesions and rng.random() < lesions:
            from vesselseg.training.lesions import paint_lesions

            vessels = crop_masks if crop_masks.ndim == 3 else crop_masks.max(axis=-1)
            crop_images = paint_lesions(crop_images, vessels, rng)
        if augmentation:
            crop_images = photometric(crop_images, rng, mean=image_means[index])
        if camera is not None:
            crop_images = camera.apply(index, crop_images, matrix, rows, columns, rng)
        batch_images.append(crop_images)
        batch_masks.append(crop_masks)
    batch_masks = np.concatenate(batch_masks)
    return np.concatenate(batch_images), batch_masks if masks.ndim == 4 else batch_masks[..., None]
