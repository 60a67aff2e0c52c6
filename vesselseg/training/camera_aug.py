"""Training for other cameras: stronger photometric augmentation and the input normalisation.

The blog's photometric augmentation changes brightness, contrast and saturation by up to 10%,
each 5% of the time: DRIVE-trained models then learn DRIVE's colours. --photometric strong
imitates other cameras instead: a per-channel gain and gamma (colour casts and tone curves), a
Gaussian blur (softer optics), sensor noise and JPEG compression, each drawn independently.

The normalisation (normalisation.py) is applied to the crops last, with the statistics that the
*augmented* photograph would have: every pixel-wise transform is also applied to a fixed sample
of the photograph's FOV pixels, and the sample's mean and standard deviation standardise the
crops. So the network sees what normalise_image would give it for such a photograph at inference.

    camera = CameraAugmentation(images, fovs, normalisation="fov_standardise", strong=True)
    aug_utils.sample_batch(images, masks, rng, camera=camera)
"""

import io

import numpy as np
from PIL import Image
from scipy import ndimage

import aug_utils
from vesselseg.inference.normalisation import check_normalisation, fov_statistics, standardise

# Each transform: its range and the probability of applying it.
CHANNEL_GAIN = ((0.7, 1.3), 0.5)  # each channel multiplied independently
GAMMA = ((0.6, 1.6), 0.5)  # each channel raised to its own power, drawn log-uniformly
BLUR_SIGMA = ((0.3, 1.5), 0.25)  # pixels, at DRIVE's scale
NOISE_SIGMA = ((0.0, 0.03), 0.25)  # of the full range
JPEG_QUALITY = ((20, 90), 0.25)
# FOV pixels per photograph whose statistics stand for the augmented photograph's.
STATISTICS_SAMPLE = 20_000


def random_channel_gain(rng, gain_range=CHANNEL_GAIN[0], p=CHANNEL_GAIN[1]):
    """Per-channel factors, shape (3,), or ones."""
    return rng.uniform(*gain_range, size=3) if rng.random() < p else np.ones(3)


def random_gamma(rng, gamma_range=GAMMA[0], p=GAMMA[1]):
    """Per-channel exponents, shape (3,), log-uniform in gamma_range, or ones."""
    low, high = np.log(gamma_range)
    return np.exp(rng.uniform(low, high, size=3)) if rng.random() < p else np.ones(3)


def tone(pixels, gain, gamma):
    """Gain, then gamma, per channel, clipped to [0, 1]: the pixel-wise colour transform."""
    return np.clip(pixels * gain, 0.0, 1.0) ** gamma


def jpeg(crops, quality):
    """Compress and decompress each crop (N, h, w, 3) in [0, 1] as a JPEG of `quality`."""
    decoded = []
    for crop in crops:
        buffer = io.BytesIO()
        Image.fromarray(np.round(crop * 255).astype(np.uint8)).save(buffer, format="JPEG", quality=int(quality))
        decoded.append(np.asarray(Image.open(buffer), dtype=np.float32) / 255.0)
    return np.stack(decoded)


def strong_photometric(crops, sample, rng):
    """Apply one draw of the strong transforms to crops (N, h, w, 3) and to the FOV pixel sample
    (S, 3) alike, as far as they are pixel-wise; returns both, float32 in [0, 1].

    Blur and JPEG act on the crops only: they barely move a photograph's channel statistics.
    """
    gain, gamma = random_channel_gain(rng), random_gamma(rng)
    crops, sample = tone(crops, gain, gamma), tone(sample, gain, gamma)
    if rng.random() < BLUR_SIGMA[1]:
        sigma = rng.uniform(*BLUR_SIGMA[0])
        crops = ndimage.gaussian_filter(crops, sigma=(0, sigma, sigma, 0), mode="reflect")
    if rng.random() < JPEG_QUALITY[1]:
        crops = jpeg(crops, rng.integers(JPEG_QUALITY[0][0], JPEG_QUALITY[0][1] + 1))
    if rng.random() < NOISE_SIGMA[1]:
        sigma = rng.uniform(*NOISE_SIGMA[0])
        crops = crops + rng.normal(0.0, sigma, size=crops.shape)
        sample = sample + rng.normal(0.0, sigma, size=sample.shape)
    return np.clip(crops, 0.0, 1.0).astype(np.float32), np.clip(sample, 0.0, 1.0).astype(np.float32)


class CameraAugmentation:
    """The per-photograph state that strong photometric augmentation and the normalisation need:
    each training image's FOV, its FOV statistics and a fixed sample of its FOV pixels."""

    def __init__(self, images, fovs, normalisation="rgb255", strong=False, seed=0):
        check_normalisation(normalisation)
        self.fovs = np.asarray(fovs, dtype=bool)
        self.normalisation, self.strong = normalisation, strong
        self.statistics = [fov_statistics(image, fov) for image, fov in zip(images, self.fovs)]
        rng = np.random.default_rng(seed)
        self.samples = []
        for image, fov in zip(images, self.fovs):
            pixels = image[fov] if fov.any() else image.reshape(-1, 3)
            self.samples.append(
                pixels[rng.choice(len(pixels), size=min(STATISTICS_SAMPLE, len(pixels)), replace=False)]
            )

    def apply(self, index, crops, matrix, rows, columns, rng):
        """The crops of image `index` (already warped by `matrix` at rows, columns) after the
        strong photometric draw, if any, and the normalisation."""
        mean, std = self.statistics[index]
        if self.strong:
            crops, sample = strong_photometric(crops, self.samples[index], rng)
            mean, std = sample.mean(axis=0), sample.std(axis=0)
        if self.normalisation == "rgb255":
            return crops
        fov = aug_utils.warp(self.fovs[index][..., None].astype(np.float32), matrix, rows, columns)[..., 0] >= 0.5
        return standardise(crops, mean, std, outside=~fov)
