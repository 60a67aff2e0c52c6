"""Segment and measure photographs from Python: what predict.py --images does to each photograph,
returned as arrays and dicts instead of written to files.

    from vesselseg.segmenter import Segmenter

    segmenter = Segmenter()                    # predict.py --images' models and defaults (TTA)
    result = segmenter.segment("eye.jpg")      # or an (H, W, 3) array: uint8, or float in [0, 1]
    result.probabilities    # (H, W) float32 vessel probability, 0 outside the FOV
    result.vessels          # (H, W) bool: probability at least the threshold (0.5)
    result.classes          # (H, W) uint8 in RITE's coding: 0 background, 1 artery, 2 vein
    result.clinical         # clinical.csv's row: disc, CRAE, CRVE, AVR in px and µm, flags
    result.warnings         # the lines predict.py --images would print about it

The models are loaded once, so a notebook segments photograph after photograph at the network's
speed. Segmenter(weights=..., av_weights=..., precision="bfloat16", clinical=False) and any field
of cohort.work.Options (tta=False, threshold=0.4, fov_diameters=(540, 450, 380), disc_centre=(x,
y), disc_diameter=..., pixel_size_um=..., field_degrees=45, ...) choose as predict.py's flags of
the same names do. The maps, measurements and clinical row are those that predict.py --images
writes for the same photograph and settings on the same machine (tests/test_segmenter.py).
"""

import dataclasses
from pathlib import Path

import numpy as np

from vesselseg import quiet_startup  # noqa: F401  (before TensorFlow loads, as the scripts do)
from vesselseg.cohort import quality
from vesselseg.cohort.pipeline import one_blas_thread
from vesselseg.cohort.run import ModelSpec, load_networks, warnings_of
from vesselseg.cohort.work import (
    Options,
    Photograph,
    add_network_inputs,
    clinical_measures,
    measure_map,
    photograph_maps,
    undo_views,
    views,
)
from vesselseg.data.image_reading import (
    dicom_field_degrees,
    dicom_pixel_size_um,
    one_channel_as_grey,
    read_binary_map,
    read_rgb_image,
)
from vesselseg.inference import segment
from vesselseg.inference.models import IMAGES_DEFAULT_WEIGHTS, resolve_models

# The name that a photograph given as an array takes in its measurements, unless one is given.
ARRAY_NAME = "photograph"


@dataclasses.dataclass
class Result:
    """One photograph segmented and measured (Segmenter.segment)."""

    name: str
    image: np.ndarray  # (H, W, 3) float32 RGB in [0, 1], as read
    fov: np.ndarray  # (H, W) bool
    fov_source: str  # "mask" (given) or "estimated"
    probabilities: np.ndarray  # (H, W) float32
    vessels: np.ndarray  # (H, W) bool
    quality: float  # 0 to 1 (cohort.quality.grade_quality)
    quality_grade: str  # "good", "usable" or "poor"
    quality_checks: dict
    measurements: dict  # measurements.csv's row: vessel fraction, widths, tortuosity, fractal dimension
    classes: np.ndarray = None  # (H, W) uint8 in RITE's coding; None without the clinical measures
    clinical: dict = None  # clinical.csv's row; None without the clinical measures
    warnings: list = dataclasses.field(default_factory=list)


class Segmenter:
    """predict.py --images for one photograph at a time, in memory. `weights`: a vessel model's
    weights file, or a list of them for an ensemble (default: --images' default model);
    `av_weights`: the artery/vein model's (default: the shipped one); `clinical`: False for the
    vessels alone; `options`: fields of cohort.work.Options."""

    def __init__(self, weights=None, av_weights=None, precision="float32", clinical=True, **options):
        unknown = sorted(set(options) - {field.name for field in dataclasses.fields(Options)})
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)}; the fields of cohort.work.Options are known.")
        if "fov_diameters" in options:
            widths = options["fov_diameters"]
            if isinstance(widths, str) or not all(isinstance(width, (int, float)) for width in widths):
                raise ValueError(f"fov_diameters is a list of FOV widths in pixels, such as [540]; got {widths!r}.")
            options["fov_diameters"] = tuple(widths)
        if options.get("disc_centre") is not None:
            options["disc_centre"] = tuple(options["disc_centre"])
        self.options = Options(figures=False, **options)
        weights = [weights] if isinstance(weights, (str, Path)) else weights
        choices = resolve_models(weights=weights, default=IMAGES_DEFAULT_WEIGHTS)
        self.networks = load_networks(
            ModelSpec(tuple(choices), str(av_weights) if av_weights else None, precision, clinical)
        )
        self.normalisations = {key: normalisation for key, (_, normalisation) in self.networks.items()}

    def segment(self, photograph, fov=None, name=None):
        """The Result of `photograph`: a file's path, or an (H, W, 3) or (H, W) array (uint8, uint16,
        or float in [0, 1]). `fov`: its FOV mask, an (H, W) array or a file's path (default:
        estimated); `name`: what its measurements are named (default: the file's name, or
        "photograph"). ValueError for a photograph that cannot be segmented, naming why."""
        # One BLAS thread, as the stream runs this work, so that the figures are the same to the bit.
        with one_blas_thread():
            return self.segment_prepared(self.prepared(photograph, fov, name))

    def segment_prepared(self, prepared):
        """segment()'s Result of a Photograph read and ready for the network."""
        if prepared.skip:
            raise ValueError(f"{prepared.path.name}: {prepared.skip}")
        request_maps = []
        for request in prepared.requests:
            forward = self.networks[request.key][0]
            outputs = forward(np.stack(views(request.network_input, self.options.tta)))
            request_maps.append(undo_views(list(outputs), request.network_input.shape, self.options.tta))
        maps = photograph_maps(prepared, request_maps)
        probabilities = maps["vessels"]
        vessels = probabilities >= self.options.threshold
        checks = {**prepared.checks, **quality.map_checks(vessels, prepared.fov)}
        score, grade, weakest = quality.grade_quality(checks)
        result = Result(
            name=prepared.path.name,
            image=prepared.image,
            fov=prepared.fov,
            fov_source=prepared.fov_source,
            probabilities=probabilities,
            vessels=vessels,
            quality=score,
            quality_grade=grade,
            quality_checks=checks,
            measurements=measure_map(prepared.path.name, vessels, prepared.fov),
        )
        if "artery_vein" in maps:
            result.classes, row = clinical_measures(
                prepared, maps["artery_vein"], self.options, self.networks, probabilities
            )
            result.clinical = row
        record = {
            "image": result.name,
            "status": "done",
            "quality": score,
            "quality_grade": grade,
            "quality_weakest": weakest,
            "vessel_fraction": float(vessels[prepared.fov].mean()) if prepared.fov.any() else 0.0,
            "clinical": result.clinical,
        }
        result.warnings = warnings_of(record)
        return result

    def prepared(self, photograph, fov, name):
        """The cohort.work.Photograph of segment()'s arguments, ready for the network: read as
        work.prepare reads a file, its FOV given or estimated."""
        pixel_size_um = field_degrees = None
        if isinstance(photograph, (str, Path)):
            path = Path(photograph)
            if not path.is_file():
                raise FileNotFoundError(f"no photograph at {path}.")
            image = read_rgb_image(path)
            pixel_size_um, field_degrees = dicom_pixel_size_um(path), dicom_field_degrees(path)
            name = name or path.name
        else:
            image = as_rgb(np.asarray(photograph))
        segment.check_image_size(image)
        if fov is None:
            mask, source = segment.estimate_fov(image), "estimated"
        else:
            mask, source = (read_binary_map(fov) if isinstance(fov, (str, Path)) else np.asarray(fov)) > 0, "mask"
            if mask.shape != image.shape[:2]:
                raise ValueError(f"the FOV mask is {mask.shape}, the photograph {image.shape[:2]}; they must match.")
        prepared = Photograph(
            Path(name or ARRAY_NAME),
            image,
            mask,
            source,
            None,
            {},
            [],
            pixel_size_um=pixel_size_um,
            field_degrees=field_degrees,
        )
        add_network_inputs(prepared, self.options, self.normalisations)
        return prepared


def as_rgb(pixels):
    """An image array as float32 RGB (H, W, 3) in [0, 1], as read_rgb_image reads a file: uint8
    over 255, uint16 over 65535, floats as they are; a grey image, or one whose light lies in one
    channel (one_channel_as_grey), in all three channels. An alpha channel is dropped."""
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    if pixels.ndim != 3 or pixels.shape[-1] not in (3, 4):
        raise ValueError(f"a photograph is (H, W, 3) or (H, W); got an array of shape {pixels.shape}.")
    pixels = pixels[..., :3]
    if pixels.dtype == np.uint8:
        image = pixels.astype(np.float32) / 255.0
    elif pixels.dtype == np.uint16:
        image = pixels.astype(np.float32) / 65535.0
    elif pixels.dtype.kind == "f":
        if np.nanmax(pixels) > 1.0:
            raise ValueError("a floating-point photograph holds values in [0, 1]; divide it by its full scale first.")
        image = np.nan_to_num(pixels.astype(np.float32)).clip(0.0, 1.0)
    else:
        raise ValueError(f"a photograph's pixels are uint8, uint16 or float; got {pixels.dtype}.")
    return one_channel_as_grey(image)
