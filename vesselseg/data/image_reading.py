"""Read image files into NumPy arrays, whatever format a camera or an archive wrote them in.

    from vesselseg.data.image_reading import read_binary_map, read_rgb_image
    image = read_rgb_image("photo.jpg")    # float32 RGB in [0, 1], (H, W, 3); also .dcm, .webp, .jp2
    mask = read_binary_map("mask.gif")     # uint8 {0, 1}, (H, W)

Pillow reads the common formats, AVIF included; pillow-heif the HEIC and HEIF files that phones
save, smartphone fundus adapters' among them; tifffile the TIFFs that Pillow cannot (floating-point
RGB); pydicom DICOM files, as hospitals' archives export ophthalmic photographs, with or without the
.dcm suffix. Every failure is a ValueError that names the file.
"""

from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image, ImageOps

from vesselseg.data.image_files import is_dicom

# Pillow opens HEIC and HEIF files once pillow-heif has registered its decoder with it.
pillow_heif.register_heif_opener()

# A channel whose mean is under this share of the brightest channel's is dark: in a fundus
# photograph green is at least a quarter of red, so only a one-channel picture has two such
# channels, JPEG's colour fringes in them included.
DARK_CHANNEL_SHARE = 0.05
TIFF_SUFFIXES = (".tif", ".tiff")
# A DICOM Pixel Spacing whose row and column spacings differ by more than this share is not used:
# widths across vessels of every direction need square pixels.
SQUARE_PIXEL_TOLERANCE = 0.01
# The codes of an artery/vein label in RITE's coding: background, artery, vein, uncertain.
RITE_CODES = (0, 1, 2, 3)


def read_pixels(path, keep_palette):
    """Read an image file into a NumPy array, naming the file when it cannot be decoded.

    With keep_palette, palette images keep their indices (2nd_manual stores 0/1 as indices);
    otherwise they become RGB. Grey, 16-bit and floating-point images stay as they are; other
    modes become RGB, their transparent pixels black: a photograph saved with a transparent
    surround hides any colour there, often white, which would be taken for retina.
    A file whose EXIF orientation says it was taken turned (as phones write them) is turned
    upright, as image viewers show it, so that the maps lie over the photograph the user sees.
    """
    if is_dicom(path):
        return read_dicom_pixels(path)
    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened)
            kept = ("L", "1", "RGB", "I;16", "I", "F") + (("P",) if keep_palette else ())
            if image.mode not in kept:
                if image.has_transparency_data:
                    black = Image.new("RGBA", image.size, (0, 0, 0, 255))
                    image = Image.alpha_composite(black, image.convert("RGBA"))
                image = image.convert("RGB")
            return np.asarray(image)
    except (OSError, SyntaxError, ValueError) as error:
        if Path(path).suffix.lower() in TIFF_SUFFIXES:
            return read_tiff_pixels(path, error)
        raise ValueError(f"Cannot read {path}: {error}") from error


def read_tiff_pixels(path, pillow_error):
    """The first page of a TIFF that Pillow cannot decode (floating-point RGB, as image-processing
    programs write), as grey (H, W) or colour (H, W, 3) in its stored type; its alpha dropped."""
    import tifffile

    try:
        pixels = tifffile.imread(path, key=0)
    except Exception as error:  # tifffile raises many types; any of them means the file is unreadable.
        raise ValueError(f"Cannot read {path}: {pillow_error}; tifffile: {error}") from error
    if pixels.ndim == 3 and pixels.shape[0] in (3, 4) and pixels.shape[-1] not in (3, 4):
        pixels = np.moveaxis(pixels, 0, -1)  # stored plane by plane
    if pixels.ndim == 3 and pixels.shape[-1] in (3, 4):
        return pixels[..., :3]
    if pixels.ndim == 3 and pixels.shape[-1] == 2:
        return pixels[..., 0]  # grey and alpha
    if pixels.ndim != 2:
        raise ValueError(f"Cannot read {path}: a TIFF page of shape {pixels.shape} is not a photograph.")
    return pixels


def read_dicom_pixels(path):
    """A DICOM file's image as grey (H, W) or RGB (H, W, 3): uint8, or uint16 at full scale where
    fewer bits are stored (12 of 16 read as 16). YCbCr becomes RGB, MONOCHROME1 (white as zero) is
    inverted, and a palette is applied. A file of several frames, of no image or of signed pixels
    (a stereo pair, a report, a CT slice) is refused with a ValueError, since it is not one
    photograph."""
    import pydicom
    from pydicom import pixels as dicom_pixels

    try:
        dataset = pydicom.dcmread(path)
    except Exception as error:  # pydicom's InvalidDicomError and the OSErrors of a bad file alike.
        raise ValueError(f"Cannot read {path}: not a readable DICOM file ({error}).") from error
    if "PixelData" not in dataset:
        raise ValueError(f"Cannot read {path}: a DICOM file without an image (a DICOMDIR or a report).")
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise ValueError(f"Cannot read {path}: it holds {frames} frames; one photograph per file is read.")
    if dataset.get("PixelRepresentation", 0) == 1:
        raise ValueError(f"Cannot read {path}: signed pixels are not a photograph's.")
    try:
        pixels = dataset.pixel_array
    except Exception as error:  # a missing decoder (JPEG lossless, JPEG-LS) or damaged pixel data.
        # pydicom lists the missing decoders on several lines; the manifest and stderr take one.
        reason = " ".join(str(error).split())
        raise ValueError(f"Cannot read {path}: its pixel data cannot be decoded ({reason}).") from error
    interpretation = dataset.get("PhotometricInterpretation", "")
    bits = int(dataset.get("BitsStored", pixels.itemsize * 8))
    if interpretation == "PALETTE COLOR":
        return dicom_pixels.apply_color_lut(pixels, dataset)
    if interpretation == "MONOCHROME1":
        pixels = (2**bits - 1) - pixels
    if pixels.dtype != np.uint8 and bits < 16:
        pixels = (pixels.astype(np.float64) * (65535 / (2**bits - 1))).round().astype(np.uint16)
    return pixels


def dicom_tag(path, keyword):
    """The value of the header tag `keyword` (pydicom's keyword, "PixelSpacing") of a DICOM file;
    None for any other file, an unreadable header or an absent tag."""
    if not is_dicom(path):
        return None
    import pydicom

    try:
        return pydicom.dcmread(path, stop_before_pixels=True, specific_tags=[keyword]).get(keyword)
    except Exception:  # pydicom's InvalidDicomError and the OSErrors of a bad file alike.
        return None


def dicom_pixel_size_um(path):
    """The micrometres per pixel at the retina that a DICOM file states in Pixel Spacing (0028,0030),
    which the ophthalmic photography standard requires of a calibrated photograph; None for any
    other file, or where the tag is absent, not positive or of pixels not square."""
    try:
        rows, columns = (float(value) for value in dicom_tag(path, "PixelSpacing"))
    except (TypeError, ValueError):  # no tag, or a malformed one: the photograph has no stated scale.
        return None
    if not (rows > 0 and columns > 0) or abs(rows - columns) > SQUARE_PIXEL_TOLERANCE * max(rows, columns):
        return None
    return 1000.0 * (rows + columns) / 2


def dicom_field_degrees(path):
    """The camera's field of view in degrees that a DICOM file states in Horizontal Field of View
    (0022,000C), as ophthalmic photographs may; None for any other file, or where the tag is
    absent, empty or not positive."""
    try:
        degrees = float(dicom_tag(path, "HorizontalFieldOfView"))
    except (TypeError, ValueError):  # no tag, an empty one (None) or a malformed one: no stated field.
        return None
    return degrees if degrees > 0 else None


def read_rgb_image(path):
    """Read a photograph as float32 RGB in [0, 1], shape (H, W, 3), from 8- or 16-bit files, and
    from floating-point ones (TIFF's mode F), whose full scale is taken as the smallest of 1, 255
    and 65535 that holds their brightest pixel, since such files do not say it. A grey photograph,
    or one whose light lies in one channel (one_channel_as_grey), has that channel in all three."""
    pixels = read_pixels(path, keep_palette=False)
    if pixels.dtype == bool:
        pixels = pixels.astype(np.uint8) * 255
    if pixels.dtype.kind == "f":
        pixels = np.nan_to_num(pixels, nan=0.0, posinf=0.0, neginf=0.0)
        brightest = float(pixels.max()) if pixels.size else 0.0
        full_scale = next((scale for scale in (1.0, 255.0) if brightest <= scale), 65535.0)
    else:
        full_scale = 255.0 if pixels.dtype == np.uint8 else 65535.0
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    return one_channel_as_grey((pixels.astype(np.float32) / full_scale).clip(0.0, 1.0))


def one_channel_as_grey(image):
    """An RGB image (H, W, 3) whose other two channels are dark (each mean under DARK_CHANNEL_SHARE
    of the brightest channel's) as its brightest channel in all three, as a grey photograph is
    read; any other image as it is. A red-free photograph saved in green, as some cameras show it,
    would otherwise have no red to find its FOV by and no grey to be graded as."""
    means = image.reshape(-1, image.shape[-1]).mean(axis=0)
    brightest = int(np.argmax(means))
    if means[brightest] > 0 and np.count_nonzero(means < DARK_CHANNEL_SHARE * means[brightest]) == 2:
        return np.repeat(image[..., brightest : brightest + 1], 3, axis=-1)
    return image


def read_binary_map(path):
    """Read an annotation or FOV mask as uint8 {0, 1}.

    DRIVE mixes encodings: 1st_manual and mask GIFs hold 0/255, 2nd_manual GIFs are palette
    images whose indices are 0/1. Any two-level image maps its higher level to 1.
    """
    return binary_from_pixels(read_pixels(path, keep_palette=True), path)


def read_vessel_annotation(path):
    """Read a vessel annotation as uint8 {0, 1}: a two-level image as read_binary_map reads it,
    or an artery/vein label in RITE's coding (0 background, 1 artery, 2 vein, 3 uncertain), of
    which every labelled class is vessel, so that the artery/vein sets (RITE, LES-AV) score vessel
    maps too. A colour artery/vein map has two levels at its brightest channel and reads as a
    binary map."""
    pixels = read_pixels(path, keep_palette=True)
    if pixels.ndim == 3:
        pixels = pixels.max(axis=-1)
    if len(np.unique(pixels)) > 2 and np.isin(pixels, RITE_CODES).all():
        return (pixels > 0).astype(np.uint8)
    return binary_from_pixels(pixels, path)


def binary_from_pixels(pixels, path):
    """read_binary_map's map of the pixels read from `path`."""
    if pixels.ndim == 3:
        pixels = pixels.max(axis=-1)
    levels = np.unique(pixels)
    if len(levels) > 2:
        raise ValueError(
            f"{path} has {len(levels)} grey levels ({levels[:5].tolist()}...); "
            "a binary annotation or mask with two levels was expected."
        )
    if len(levels) == 1:
        return (pixels > 0).astype(np.uint8)
    return (pixels == levels[-1]).astype(np.uint8)


def check_same_size(reference_path, reference_shape, path, array):
    """Raise ValueError when an annotation does not match its image's size."""
    if array.shape[:2] != reference_shape[:2]:
        raise ValueError(
            f"{path} is {array.shape[1]}x{array.shape[0]} but its image {reference_path} is "
            f"{reference_shape[1]}x{reference_shape[0]}; they must be the same size."
        )
