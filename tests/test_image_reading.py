import io

import numpy as np
import pytest
from PIL import Image

from conftest import write_dicom
from vesselseg.data import image_files, image_reading


def test_exif_orientation_is_applied_to_photographs_masks_and_labels(tmp_path):
    """A file that says it was taken turned (EXIF orientation 6, as phones write them) is read
    upright, as viewers show it; photograph, mask and labels alike, so they still line up."""
    from vesselseg.artery_vein import read_av_labels

    photograph = np.zeros((20, 30, 3), dtype=np.uint8)
    photograph[:5, :8] = 200  # a mark in the top-left corner, to see which way it turned
    mask = np.zeros((20, 30), dtype=np.uint8)
    mask[:5, :8] = 255
    labels = np.zeros((20, 30), dtype=np.uint8)
    labels[:5, :8] = 2
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    for name, array in (("photo.png", photograph), ("mask.png", mask), ("labels.png", labels)):
        Image.fromarray(array).save(tmp_path / name, exif=exif)

    upright = np.rot90(photograph, k=-1)
    read = image_reading.read_rgb_image(tmp_path / "photo.png")
    assert read.shape == (30, 20, 3)
    np.testing.assert_array_equal((read * 255).round().astype(np.uint8), upright)
    np.testing.assert_array_equal(image_reading.read_binary_map(tmp_path / "mask.png"), np.rot90(mask, k=-1) > 0)
    np.testing.assert_array_equal(read_av_labels(tmp_path / "labels.png"), np.rot90(labels, k=-1))


def test_photographs_of_every_common_pixel_format_read_as_the_same_rgb(tmp_path):
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    grey = rgb[..., 1]
    expected_rgb, expected_grey = rgb / 255.0, np.repeat(grey[..., None] / 255.0, 3, axis=-1)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(np.dstack([rgb, np.full(grey.shape, 255, np.uint8)])).save(tmp_path / "rgba.tif")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "grey16.png")
    Image.fromarray(grey.astype(np.float32) / 255).save(tmp_path / "unit.tif")
    Image.fromarray(grey.astype(np.float32)).save(tmp_path / "eight_bit_scale.tif")
    for name, expected in [
        ("rgb.png", expected_rgb),
        ("rgba.tif", expected_rgb),
        ("grey16.png", expected_grey),
        ("unit.tif", expected_grey),
        ("eight_bit_scale.tif", expected_grey),
    ]:
        image = image_reading.read_rgb_image(tmp_path / name)
        assert image.dtype == np.float32 and image.shape == (20, 24, 3), name
        np.testing.assert_allclose(image, expected, atol=1e-6, err_msg=name)


def test_a_transparent_surround_reads_black_whatever_colour_it_hides(tmp_path):
    rows, columns = np.mgrid[0:120, 0:140]
    disc = (rows - 60) ** 2 + (columns - 70) ** 2 < 50**2
    retina = np.array([200, 90, 40], dtype=np.uint8)
    rgb = np.where(disc[..., None], retina, np.uint8(255))
    alpha = np.where(disc, 255, 0).astype(np.uint8)
    Image.fromarray(np.dstack([rgb, alpha])).save(tmp_path / "rgba.png")
    Image.fromarray(np.dstack([rgb[..., 0], alpha])).save(tmp_path / "grey_alpha.png")
    image = image_reading.read_rgb_image(tmp_path / "rgba.png")
    np.testing.assert_allclose(image[disc], np.broadcast_to(retina / 255.0, image[disc].shape), atol=1e-6)
    assert not image[~disc].any()
    grey = image_reading.read_rgb_image(tmp_path / "grey_alpha.png")
    assert not grey[~disc].any() and np.allclose(grey[disc], 200 / 255.0)


def test_a_photograph_in_one_channel_reads_as_grey_and_colour_stays_colour(tmp_path):
    rows, columns = np.mgrid[0:64, 0:80]
    # Smooth, as a photograph is, so that JPEG's colour fringes stay as faint as a photograph's.
    green = (130 + 80 * np.sin(rows / 7) * np.cos(columns / 9)).astype(np.uint8)
    only_green = np.dstack([np.zeros_like(green), green, np.zeros_like(green)])
    Image.fromarray(only_green).save(tmp_path / "red_free.png")
    Image.fromarray(only_green).save(tmp_path / "red_free.jpg", quality=30)
    np.testing.assert_allclose(
        image_reading.read_rgb_image(tmp_path / "red_free.png"),
        np.repeat(green[..., None] / 255.0, 3, axis=-1),
        atol=1e-6,
    )
    compressed = image_reading.read_rgb_image(tmp_path / "red_free.jpg")
    assert np.array_equal(compressed[..., 0], compressed[..., 1]) and np.array_equal(
        compressed[..., 1], compressed[..., 2]
    )
    # A red photograph whose blue is black is still colour.
    colour = np.dstack([green, green // 3, np.zeros_like(green)])
    Image.fromarray(colour).save(tmp_path / "colour.png")
    np.testing.assert_allclose(image_reading.read_rgb_image(tmp_path / "colour.png"), colour / 255.0, atol=1e-6)


def test_dicom_photographs_read_as_their_pixels(tmp_path):
    """DICOM files as archives export them: RGB, JPEG-compressed YCbCr, 12-bit grey, MONOCHROME1,
    and without a suffix; a file of several frames, or of a compression that cannot be decoded here,
    is refused with one line."""
    import pydicom

    rows, columns = np.mgrid[0:48, 0:64]
    rgb = np.dstack([150 + rows, 60 + columns, np.full_like(rows, 30)]).astype(np.uint8)
    grey12 = (rows * 64 + columns).astype(np.uint16)  # at most 3,071 of 4,095
    write_dicom(tmp_path / "rgb.dcm", rgb)
    write_dicom(tmp_path / "jpeg.dcm", rgb, jpeg=True)
    write_dicom(tmp_path / "grey12.dcm", grey12, photometric="MONOCHROME2", bits_stored=12)
    write_dicom(tmp_path / "inverted.dcm", grey12, photometric="MONOCHROME1", bits_stored=12)
    write_dicom(tmp_path / "IM000001", rgb)
    write_dicom(tmp_path / "stereo.dcm", rgb, frames=2)

    np.testing.assert_allclose(image_reading.read_rgb_image(tmp_path / "rgb.dcm"), rgb / 255.0, atol=1e-6)
    np.testing.assert_allclose(image_reading.read_rgb_image(tmp_path / "IM000001"), rgb / 255.0, atol=1e-6)
    # JPEG's loss, and its YCbCr read back as RGB rather than as three grey channels.
    assert np.abs(image_reading.read_rgb_image(tmp_path / "jpeg.dcm") - rgb / 255.0).max() < 0.05
    expected_grey = np.repeat(grey12[..., None] / 4095.0, 3, axis=-1)
    np.testing.assert_allclose(image_reading.read_rgb_image(tmp_path / "grey12.dcm"), expected_grey, atol=1e-4)
    np.testing.assert_allclose(image_reading.read_rgb_image(tmp_path / "inverted.dcm"), 1 - expected_grey, atol=1e-4)
    with pytest.raises(ValueError, match="stereo.dcm: it holds 2 frames"):
        image_reading.read_rgb_image(tmp_path / "stereo.dcm")
    # RLE and JPEG 2000, lossless both, give the pixels back exactly.
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEG2000Lossless, RLELossless

    compressed = pydicom.dcmread(tmp_path / "rgb.dcm")
    compressed.compress(RLELossless)
    compressed.save_as(tmp_path / "rle.dcm")
    codestream = io.BytesIO()
    Image.fromarray(rgb).save(codestream, format="JPEG2000", irreversible=False, no_jp2=True)
    compressed.file_meta.TransferSyntaxUID = JPEG2000Lossless
    compressed.PixelData, compressed.PhotometricInterpretation = encapsulate([codestream.getvalue()]), "YBR_RCT"
    compressed.save_as(tmp_path / "j2k.dcm")
    for name in ("rle.dcm", "j2k.dcm"):
        np.testing.assert_allclose(image_reading.read_rgb_image(tmp_path / name), rgb / 255.0, atol=1e-6, err_msg=name)
    # A compression that pydicom cannot decode here (JPEG lossless) is one line that says so.
    lossless = pydicom.dcmread(tmp_path / "jpeg.dcm")
    lossless.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.70"
    lossless.save_as(tmp_path / "lossless.dcm")
    with pytest.raises(ValueError, match="lossless.dcm: its pixel data cannot be decoded") as refused:
        image_reading.read_rgb_image(tmp_path / "lossless.dcm")
    assert "\n" not in str(refused.value)

    # A folder lists the suffixless DICOM file and leaves out DICOMDIR and other files.
    (tmp_path / "DICOMDIR").write_bytes((tmp_path / "IM000001").read_bytes())
    (tmp_path / "notes").write_text("not a photograph")
    names = [path.name for path in image_files.list_images(tmp_path)]
    assert names == [
        "IM000001",
        "grey12.dcm",
        "inverted.dcm",
        "j2k.dcm",
        "jpeg.dcm",
        "lossless.dcm",
        "rgb.dcm",
        "rle.dcm",
        "stereo.dcm",
    ]


def test_webp_jpeg_2000_and_floating_point_rgb_tiff_are_read(tmp_path):
    """Formats that Pillow reads once they are listed, and a TIFF that only tifffile reads."""
    import tifffile

    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "photo.webp", lossless=True)
    Image.fromarray(rgb).save(tmp_path / "photo.jp2", irreversible=False)
    tifffile.imwrite(tmp_path / "float.tif", rgb.astype(np.float32) / 255, photometric="rgb")
    tifffile.imwrite(
        tmp_path / "planar.tif", np.moveaxis(rgb, -1, 0).astype(np.float32), photometric="rgb", planarconfig="separate"
    )
    for name in ("photo.webp", "photo.jp2", "float.tif", "planar.tif"):
        np.testing.assert_allclose(image_reading.read_rgb_image(tmp_path / name), rgb / 255.0, atol=1e-6, err_msg=name)
    assert {path.name for path in image_files.list_images(tmp_path)} == {
        "photo.webp",
        "photo.jp2",
        "float.tif",
        "planar.tif",
    }
    (tmp_path / "broken.tif").write_bytes(b"II*\x00 not a tiff")
    with pytest.raises(ValueError, match="Cannot read .*broken.tif"):
        image_reading.read_rgb_image(tmp_path / "broken.tif")


def test_heic_heif_and_avif_photographs_are_read_upright(tmp_path):
    """Phones save HEIC; both it and AVIF are lossy, so a smooth picture reads back close."""
    rows, columns = np.mgrid[0:48, 0:64]
    rgb = np.stack([columns * 4, rows * 5, (rows + columns) * 2], axis=-1).astype(np.uint8)
    for name in ("photo.heic", "photo.heif", "photo.avif"):
        Image.fromarray(rgb).save(tmp_path / name, quality=90)
        read = image_reading.read_rgb_image(tmp_path / name)
        assert read.shape == rgb.shape and np.abs(read - rgb / 255.0).mean() < 0.02, name
    assert {path.name for path in image_files.list_images(tmp_path)} == {"photo.heic", "photo.heif", "photo.avif"}
    # A phone's photograph taken turned is turned upright, as a JPEG is.
    turned = Image.fromarray(rgb)
    exif = turned.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    turned.save(tmp_path / "turned.heic", exif=exif.tobytes(), quality=90)
    assert image_reading.read_rgb_image(tmp_path / "turned.heic").shape == (64, 48, 3)


def test_files_that_are_not_read_are_named(tmp_path):
    """A folder's other files are named for predict.py's note; hidden files and DICOMDIR are not."""
    Image.new("RGB", (8, 8)).save(tmp_path / "eye.png")
    for name in ("eye.cr2", "notes.txt", ".DS_Store", "DICOMDIR"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "nested").mkdir()
    assert image_files.unread_files(tmp_path) == ["eye.cr2", "notes.txt"]


def test_a_file_that_is_not_a_photograph_is_refused_by_name(tmp_path):
    """--images photos.zip says to unpack it, rather than failing on it as a photograph."""
    (tmp_path / "photos.zip").write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match="photos.zip is neither a folder nor a file ending in .*Unpack an archive"):
        image_files.list_images(tmp_path / "photos.zip")
    write_dicom(tmp_path / "IM000001", np.zeros((8, 8), np.uint8), photometric="MONOCHROME2")
    assert image_files.list_images(tmp_path / "IM000001") == [tmp_path / "IM000001"]


def test_dicom_files_named_by_their_uid_are_read_and_kept_apart(tmp_path):
    """A storage server names each file by its SOP Instance UID, without a suffix: two photographs
    of one study differ in the UID's last part, which is not a suffix to drop. Another file with a
    numeric ending is left out and named."""
    first, second = "1.2.826.0.1.3680043.9.7", "1.2.826.0.1.3680043.9.8"
    for value, name in ((0, first), (255, second)):
        write_dicom(tmp_path / name, np.full((8, 8), value, np.uint8), photometric="MONOCHROME2")
    (tmp_path / "notes.2023").write_text("not a photograph")
    files = image_files.list_images(tmp_path)
    assert [path.name for path in files] == [first, second]
    assert image_files.unread_files(tmp_path) == ["notes.2023"]
    assert image_reading.read_rgb_image(tmp_path / second).min() == 1.0
    assert [image_files.image_stem(path) for path in files] == [first, second]
    assert image_files.image_stem("eye.JPG") == "eye" and image_files.output_stem("P1/eye.JPG") == "P1/eye"
    assert image_files.output_stem(f"P1/{first}") == f"P1/{first}"
    image_files.check_distinct_stems(files)
    masks = tmp_path / "masks"
    masks.mkdir()
    Image.new("L", (8, 8)).save(masks / f"{first}_mask.png")
    assert image_files.match_companion(masks, first) == masks / f"{first}_mask.png"
    assert image_files.match_companion(masks, second) is None


def test_a_dicom_photograph_states_its_pixel_size_only_where_calibrated(tmp_path):
    """Pixel Spacing in mm becomes micrometres per pixel; absent, or of pixels not square, none."""
    pixels = np.zeros((8, 8), np.uint8)
    cases = {"square.dcm": (0.0125, 0.0125), "oblong.dcm": (0.01, 0.02), "plain.dcm": None}
    for name, spacing in cases.items():
        write_dicom(tmp_path / name, pixels, photometric="MONOCHROME2", spacing=spacing)
    Image.fromarray(pixels).save(tmp_path / "photo.png")
    assert image_reading.dicom_pixel_size_um(tmp_path / "square.dcm") == pytest.approx(12.5)
    for name in ("oblong.dcm", "plain.dcm", "photo.png"):
        assert image_reading.dicom_pixel_size_um(tmp_path / name) is None, name


def test_a_dicom_photograph_states_its_cameras_field(tmp_path):
    """Horizontal Field of View in degrees; absent, empty (the standard lets a camera leave it so)
    or not positive, none."""
    import pydicom

    pixels = np.zeros((8, 8), np.uint8)
    for name, field in {"field.dcm": 45.0, "zero.dcm": 0.0, "empty.dcm": 45.0, "plain.dcm": None}.items():
        write_dicom(tmp_path / name, pixels, photometric="MONOCHROME2", field=field)
    emptied = pydicom.dcmread(tmp_path / "empty.dcm")
    emptied.HorizontalFieldOfView = None
    emptied.save_as(tmp_path / "empty.dcm")
    Image.fromarray(pixels).save(tmp_path / "photo.png")
    assert image_reading.dicom_field_degrees(tmp_path / "field.dcm") == pytest.approx(45.0)
    for name in ("zero.dcm", "empty.dcm", "plain.dcm", "photo.png"):
        assert image_reading.dicom_field_degrees(tmp_path / name) is None, name


def test_a_recursive_listing_names_photographs_by_their_paths(tmp_path):
    """Subfolders at any depth, hidden ones aside; names relative to the folder; stems that would
    collide only within one subfolder."""
    for name in ("P1/eye.png", "P1/v2/eye.png", "P2.b/IM000001", ".thumbnails/eye.png", "P2.b/notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("IM000001"):
            write_dicom(tmp_path / name, np.zeros((8, 8), np.uint8), photometric="MONOCHROME2")
        elif name.endswith(".png"):
            Image.new("RGB", (8, 8)).save(tmp_path / name)
        else:
            (tmp_path / name).write_text("")
    files = image_files.list_images(tmp_path, recursive=True)
    names = [image_files.photograph_name(path, tmp_path) for path in files]
    assert names == ["P1/eye.png", "P1/v2/eye.png", "P2.b/IM000001"]
    assert [image_files.output_stem(name) for name in names] == ["P1/eye", "P1/v2/eye", "P2.b/IM000001"]
    assert image_files.photograph_name(files[0]) == "eye.png"
    image_files.check_distinct_stems(files, tmp_path)
    with pytest.raises(ValueError, match="share the name 'eye'"):
        image_files.check_distinct_stems(files)
    assert image_files.unread_files(tmp_path, recursive=True) == ["P2.b/notes.txt"]
    # Without recursion, a folder whose photographs all lie in subfolders says so, and how to read them.
    with pytest.raises(FileNotFoundError, match="2 of them hold photographs .*or pass --recursive"):
        image_files.list_images(tmp_path, recursive_flag="--recursive")


def test_artery_vein_labels_read_as_vessel_annotations_and_other_levels_are_refused(tmp_path):
    codes = np.zeros((6, 8), np.uint8)
    codes[1, :] = 1
    codes[3, :] = 2
    codes[5, :3] = 3
    Image.fromarray(codes).save(tmp_path / "coded.png")
    np.testing.assert_array_equal(image_reading.read_vessel_annotation(tmp_path / "coded.png"), codes > 0)

    colours = np.zeros((6, 8, 3), np.uint8)
    colours[1, :, 0] = 255
    colours[3, :, 2] = 255
    colours[5, :3] = 255
    Image.fromarray(colours).save(tmp_path / "colour.png")
    np.testing.assert_array_equal(image_reading.read_vessel_annotation(tmp_path / "colour.png"), codes > 0)

    Image.fromarray(np.repeat(codes[..., None], 3, axis=-1)).save(tmp_path / "coded_rgb.png")
    np.testing.assert_array_equal(image_reading.read_vessel_annotation(tmp_path / "coded_rgb.png"), codes > 0)

    binary = (codes > 0).astype(np.uint8) * 255
    Image.fromarray(binary).save(tmp_path / "binary.png")
    np.testing.assert_array_equal(image_reading.read_vessel_annotation(tmp_path / "binary.png"), codes > 0)

    # A mask is never read as RITE's coding, and a grey annotation beyond its codes is refused.
    with pytest.raises(ValueError, match="coded.png has 4 grey levels"):
        image_reading.read_binary_map(tmp_path / "coded.png")
    grey = codes * 60
    Image.fromarray(grey).save(tmp_path / "grey.png")
    with pytest.raises(ValueError, match="grey.png has 4 grey levels"):
        image_reading.read_vessel_annotation(tmp_path / "grey.png")
