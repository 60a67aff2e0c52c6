import numpy as np
import pytest

import aug_utils


def test_identity_warp_returns_the_pixels_exactly():
    image = np.random.default_rng(0).random((20, 30, 3)).astype(np.float32)
    rows, columns = np.mgrid[0:20, 0:30]
    np.testing.assert_allclose(aug_utils.warp(image, np.eye(3), rows, columns), image, atol=1e-6)


def test_flips_mirror_the_image():
    image = np.arange(12, dtype=np.float32).reshape(3, 4, 1)
    rows, columns = np.mgrid[0:3, 0:4]
    rng = np.random.default_rng(0)
    both = aug_utils.random_flips(rng, image.shape, p=1.0)
    np.testing.assert_allclose(aug_utils.warp(image, both, rows, columns), image[::-1, ::-1], atol=1e-5)


def test_crops_equal_the_same_crop_of_the_whole_warped_image():
    rng = np.random.default_rng(3)
    image = rng.random((40, 50, 3)).astype(np.float32)
    matrix = aug_utils.random_rotation(rng, image.shape, p=1.0) @ aug_utils.random_zoom(rng, image.shape, p=1.0)
    rows, columns = np.mgrid[0:40, 0:50]
    whole = aug_utils.warp(image, matrix, rows, columns)
    crop_rows, crop_columns = aug_utils.crop_grid(rng, image.shape, 16, 3)
    crops = aug_utils.warp(image, matrix, crop_rows, crop_columns)
    for index in range(3):
        top, left = crop_rows[index, 0, 0], crop_columns[index, 0, 0]
        np.testing.assert_allclose(crops[index], whole[top : top + 16, left : left + 16], atol=1e-6)


def test_augmentation_keeps_image_and_annotation_aligned():
    # The annotation is made from the image itself, so after any geometric transform the
    # thresholded augmented image must still agree with the augmented annotation.
    rng = np.random.default_rng(4)
    rows, columns = np.mgrid[0:120, 0:100]
    blobs = ((np.sin(rows / 7.0) * np.cos(columns / 5.0)) > 0.3).astype(np.float32)
    image = np.repeat(blobs[..., None], 3, axis=-1) * 0.8 + 0.1
    for _ in range(20):
        matrix = aug_utils.random_affine(rng, image.shape)
        # Force a strong transform too, not only the rare faithful draws.
        matrix = (
            matrix
            @ aug_utils.random_rotation(rng, image.shape, p=1.0)
            @ aug_utils.random_shear(rng, image.shape, p=1.0)
        )
        warped_image, warped_mask = aug_utils.warp_pair(image, blobs, matrix, rows, columns)
        agreement = ((warped_image[..., 0] >= 0.5) == (warped_mask >= 0.5)).mean()
        assert agreement > 0.995
        assert set(np.unique(warped_mask)) <= {0.0, 1.0}


def test_photometric_changes_the_image_only_and_stays_in_range():
    rng = np.random.default_rng(5)
    image = rng.random((8, 8, 3)).astype(np.float32)
    brighter = aug_utils.random_brightness(image, rng, max_delta=0.5, p=1.0)
    assert not np.allclose(brighter, image)
    assert aug_utils.random_brightness(image, rng, p=0.0) is image
    out = aug_utils.photometric(image * 3, rng)
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_whole_image_augment_shapes_and_values():
    rng = np.random.default_rng(6)
    image = rng.random((64, 48, 3)).astype(np.float32)
    mask = (rng.random((64, 48)) < 0.2).astype(np.uint8)
    out_image, out_mask = aug_utils.augment(image, mask, rng)
    assert out_image.shape == image.shape and out_mask.shape == mask.shape
    assert set(np.unique(out_mask)) <= {0.0, 1.0}
    assert 0.0 <= out_image.min() and out_image.max() <= 1.0


@pytest.mark.parametrize("augmentation", [True, False])
def test_sample_batch_shapes_and_seed(augmentation):
    rng = np.random.default_rng(7)
    images = rng.random((5, 100, 90, 3)).astype(np.float32)
    masks = (rng.random((5, 100, 90)) < 0.1).astype(np.uint8)
    first = aug_utils.sample_batch(images, masks, np.random.default_rng(11), augmentation=augmentation)
    again = aug_utils.sample_batch(images, masks, np.random.default_rng(11), augmentation=augmentation)
    other = aug_utils.sample_batch(images, masks, np.random.default_rng(12), augmentation=augmentation)
    assert first[0].shape == (16, 64, 64, 3) and first[1].shape == (16, 64, 64, 1)
    assert first[0].dtype == np.float32 and first[1].dtype == np.float32
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


def test_no_augmentation_gives_plain_crops_of_the_data():
    rng = np.random.default_rng(8)
    images = rng.random((1, 70, 80, 3)).astype(np.float32)
    masks = (rng.random((1, 70, 80)) < 0.5).astype(np.uint8)
    batch_images, batch_masks = aug_utils.sample_batch(
        images, masks, rng, augmentation=False, images_per_batch=1, crop=16
    )
    for crop_image, crop_mask in zip(batch_images, batch_masks):
        # Find where the crop came from by its top-left pixel and check the whole window.
        top, left = np.argwhere(np.isclose(images[0, :, :, 0], crop_image[0, 0, 0], atol=1e-7))[0]
        np.testing.assert_allclose(crop_image, images[0, top : top + 16, left : left + 16], atol=1e-6)
        np.testing.assert_array_equal(crop_mask[..., 0], masks[0, top : top + 16, left : left + 16])


def test_crop_larger_than_the_image_is_refused():
    images = np.zeros((1, 32, 32, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="larger than the images"):
        aug_utils.sample_batch(images, np.zeros((1, 32, 32)), np.random.default_rng(0), crop=64)


def test_lesions_leave_the_vessels_and_their_neighbours_untouched():
    from scipy import ndimage

    from vesselseg.training.lesions import paint_lesions

    rng = np.random.default_rng(3)
    crops = np.full((4, 96, 96, 3), 0.5, dtype=np.float32)
    vessels = np.zeros((4, 96, 96), dtype=bool)
    vessels[:, 40:44, :] = True
    painted = paint_lesions(crops, vessels, rng)
    clear = ndimage.binary_dilation(vessels, structure=np.ones((1, 3, 3), dtype=bool))
    np.testing.assert_array_equal(painted[clear], crops[clear])
    changed = np.any(painted != crops, axis=-1)
    assert changed[~clear].mean() > 0.01
    # Bright lesions raise every channel, dark ones lower them: never both in one pixel.
    assert 0.0 <= painted.min() and painted.max() <= 1.0
    assert (painted[changed] > 0.5).any() and (painted[changed] < 0.5).any()


def test_lesions_change_the_images_and_not_the_annotations():
    rng = np.random.default_rng(9)
    images = rng.random((3, 100, 90, 3)).astype(np.float32)
    masks = (rng.random((3, 100, 90)) < 0.1).astype(np.uint8)
    plain = aug_utils.sample_batch(images, masks, np.random.default_rng(5), images_per_batch=1)
    painted = aug_utils.sample_batch(images, masks, np.random.default_rng(5), images_per_batch=1, lesions=1.0)
    # One image per batch: its warp and crops are drawn before the lesions, so they are the same.
    np.testing.assert_array_equal(plain[1], painted[1])
    assert not np.array_equal(plain[0], painted[0])
