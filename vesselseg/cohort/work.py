"""The work on one photograph, before and after the network: what a local run and a cluster's
workers both do.

    photograph = prepare(path, options, networks, companions)   # read, FOV, quality, network inputs
    ... the network's maps of photograph.requests, from pipeline.py's batches ...
    record = finish(photograph, maps, options, out_dir, networks)  # maps back, files, measures, record

prepare() reads the photograph, its FOV mask (or estimates the FOV) and its annotation, checks its
quality, and makes one network input per model and FOV width: normalised as the model was trained
and rescaled so that the FOV has that width. finish() brings each map back to the photograph's
size, averages the widths, writes the files atomically, measures the vessels (and, with the
artery/vein model, CRAE, CRVE and AVR, after a second pass of that model at the disc's scale
where the disc is large), scores it against its annotation and returns its manifest record. A
photograph that cannot be done raises ValueError, which becomes a "failed" record.
"""

import dataclasses
import math
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from metrics import evaluate
from vesselseg import __version__, artery_vein
from vesselseg.cohort import quality
from vesselseg.cohort.forward import pad_to_bucket
from vesselseg.cohort.manifest import atomic_path
from vesselseg.data.image_files import Companions, TreeCompanions, image_stem, output_stem, photograph_name
from vesselseg.data.image_reading import (
    check_same_size,
    dicom_field_degrees,
    dicom_pixel_size_um,
    read_binary_map,
    read_rgb_image,
    read_vessel_annotation,
)
from vesselseg.figures import OVERLAY_COLOUR, PNG_COMPRESS_LEVEL, enlarged_for_figure, save_clinical_figure
from vesselseg.inference import segment
from vesselseg.measurement import vessel_measures
from vesselseg.measurement.clinical import measure_photograph, pixel_size_arguments
from vesselseg.measurement.maps import empty_row, measurement_row
from vesselseg.measurement.optic_disc import given_disc, locate_disc

# The overlay's key: a strip under the photograph, this many pixels high.
KEY_HEIGHT = 28
# The network inputs of one photograph with TTA: its four flips (views).
TTA_VIEWS = 4


@dataclasses.dataclass(frozen=True)
class Options:
    """What predict.py --images' flags ask of each photograph (all of it goes into settings.json)."""

    threshold: float = 0.5
    tta: bool = True
    rim_fill: float = segment.RIM_FILL_PX
    fov_diameters: tuple = segment.PHOTOGRAPH_FOV_DIAMETERS
    figures: bool = True
    masks: str = None
    labels: str = None
    disc_centre: tuple = None
    disc_diameter: float = None
    pixel_size_um: float = None
    field_degrees: float = None
    zone_b_scale: str = None
    min_quality: float = 0.0
    probability_arrays: bool = True
    # With --recursive, the folder that photographs' names are relative to (photograph_name), and
    # --masks and --labels hold the same subfolders; None: a photograph's name is its file name.
    images_root: str = None


@dataclasses.dataclass
class Request:
    """One network input of a photograph: model `key` ("vessels" or "artery_vein") at `scale`, cut
    at `corner` (row, column) of the whole rescaled photograph (segment.network_input)."""

    key: str
    scale: float
    network_input: np.ndarray
    corner: tuple = (0, 0)


@dataclasses.dataclass
class Photograph:
    """A photograph read and ready for the network, or (with `skip`) judged unusable before it."""

    path: Path
    image: np.ndarray
    fov: np.ndarray
    fov_source: str
    label: np.ndarray
    checks: dict
    requests: list
    skip: str = None
    seconds: float = 0.0
    # Micrometres per pixel that the file itself states (a calibrated DICOM photograph), or None.
    pixel_size_um: float = None
    # The camera's field of view in degrees that the file itself states (DICOM), or None.
    field_degrees: float = None


def companions_for(folder, options):
    """The Companions of the masks or annotations `folder` (None for none) for `options`' photographs:
    TreeCompanions with --recursive, else Companions."""
    return TreeCompanions(folder, options.images_root) if options.images_root else Companions(folder)


def read_companion(path, image_path, shape, reader=read_binary_map):
    """The FOV mask or annotation at `path` read by `reader`; ValueError where its size is not
    the photograph's."""
    annotation = reader(path)
    check_same_size(image_path, shape, path, annotation)
    return annotation


def photograph_fov(path, image, masks):
    """(FOV (H, W) bool, "mask" or "estimated") of the photograph `image` read from `path`: its
    mask in `masks` (a Companions) when there is one, else estimated from the photograph.
    ValueError for a mask of another size."""
    mask_path = masks.find(path)
    if mask_path:
        return read_companion(mask_path, path, image.shape) > 0, "mask"
    return segment.estimate_fov(image), "estimated"


def prepare(path, options, normalisations, masks, labels):
    """The Photograph of `path`: read, its FOV and annotation found, its quality checked, and one
    network input per model (`normalisations`, {key: input normalisation}) and FOV width.
    ValueError for a photograph that cannot be segmented, naming why."""
    started = time.perf_counter()
    label_path = labels.find(path)
    if options.labels and label_path is None:
        raise ValueError(f"no annotation for {image_stem(path)} in {options.labels}")
    image = read_rgb_image(path)
    segment.check_image_size(image)
    fov, fov_source = photograph_fov(path, image, masks)
    label = read_companion(label_path, path, image.shape, read_vessel_annotation) if label_path else None
    photograph = Photograph(
        path,
        image,
        fov,
        fov_source,
        label,
        {},
        [],
        pixel_size_um=dicom_pixel_size_um(path),
        field_degrees=dicom_field_degrees(path),
    )
    add_network_inputs(photograph, options, normalisations)
    photograph.seconds = time.perf_counter() - started
    return photograph


def add_network_inputs(photograph, options, normalisations):
    """Check a read `photograph`'s quality into its `checks`, then mark it `skip` below
    --min-quality or give it its `requests`: one network input per model (`normalisations`) and
    FOV width. ValueError for a FOV too narrow to segment."""
    image, fov = photograph.image, photograph.fov
    scales = segment.network_scales(fov, options.fov_diameters)
    photograph.checks = quality.photograph_checks(image, fov)
    score, _, weakest = quality.grade_quality(photograph.checks)
    if score < options.min_quality:
        photograph.skip = quality_reason(score, weakest, options)
    else:
        for key, normalisation in normalisations.items():
            for scale in scales:
                network_image, corner = segment.network_input(image, fov, scale, normalisation, options.rim_fill)
                photograph.requests.append(Request(key, scale, network_image, corner))


def quality_reason(score, weakest, options):
    return f"quality {score:.2f} below --min-quality {options.min_quality:g} (weakest check: {weakest})"


def views(network_image, tta):
    """The network's inputs for one request, padded to its size bucket: the four flips with `tta`
    (segment.flips, as DRIVE mode makes them)."""
    padded = pad_to_bucket(network_image)[None]
    return [view[0] for view, _ in segment.flips(padded, tta)]


def undo_views(outputs, shape, tta):
    """The map (h, w, C) of one request from its views' outputs, averaged as segment_images does."""
    undos = [undo for _, undo in segment.flips(outputs[0][None], tta)]
    total = sum(undo(output[None])[0] for undo, output in zip(undos, outputs))
    return (total / len(outputs))[: shape[0], : shape[1]]


def photograph_maps(photograph, request_maps):
    """{key: probabilities} at the photograph's size, 0 outside the FOV: each model's maps resized
    back and averaged over the FOV widths, (H, W) for one head; the artery/vein model's (H, W, 3)
    combined as artery_vein.combine_scales does, its vessel output the first width's, so that
    --images makes the classes that the agreement command measures."""
    resized = {}
    for request, probabilities in zip(photograph.requests, request_maps):
        back = segment.back_to_photograph(probabilities, photograph.image.shape[:2], request.scale, request.corner)
        resized.setdefault(request.key, []).append(back)
    maps = {}
    for key, key_maps in resized.items():
        if key == "artery_vein":
            total, count = artery_vein.combine_scales(key_maps), 1
        else:
            total, count = sum(key_maps), len(key_maps)
        total = total[..., 0] if total.shape[-1] == 1 else total
        maps[key] = segment.mean_inside_fov(total, count, photograph.fov)
    return maps


def save_png(path, pixels):
    with atomic_path(path) as temporary:
        Image.fromarray(pixels).save(temporary, compress_level=PNG_COMPRESS_LEVEL)


def save_overlay(path, image, vessels, threshold):
    """The photograph with its detected vessels painted green (enlarged to FIGURE_MIN_WIDTH where
    it is narrower), and a key strip under it; PIL, so that it costs milliseconds, not
    matplotlib's half second."""
    overlay = image.copy()
    overlay[vessels] = 0.4 * overlay[vessels] + 0.6 * np.asarray(OVERLAY_COLOUR, dtype=np.float32)
    pixels, _ = enlarged_for_figure(np.round(np.clip(overlay, 0, 1) * 255).astype(np.uint8))
    canvas = Image.new("RGB", (pixels.shape[1], pixels.shape[0] + KEY_HEIGHT), "white")
    canvas.paste(Image.fromarray(pixels), (0, 0))
    draw = ImageDraw.Draw(canvas)
    top = pixels.shape[0] + 6
    colour = tuple(round(channel * 255) for channel in OVERLAY_COLOUR)
    draw.rectangle((8, top, 24, top + 14), fill=colour, outline="black")
    draw.text((32, top + 1), f"detected vessel (probability at least {threshold:g})", fill="black")
    with atomic_path(path) as temporary:
        canvas.save(temporary, compress_level=PNG_COMPRESS_LEVEL)


def save_maps(out_dir, photograph, probabilities, vessels, options):
    """<stem>_prob.npy (unless options.probability_arrays is False), _prob.png, _vessels.png,
    _fov.png and, with figures, _overlay.png."""
    stem = output_stem(photograph_name(photograph.path, options.images_root))
    if options.probability_arrays:
        with atomic_path(out_dir / f"{stem}_prob.npy") as temporary:
            np.save(temporary, probabilities)
    save_png(out_dir / f"{stem}_prob.png", np.round(probabilities * 255).astype(np.uint8))
    save_png(out_dir / f"{stem}_vessels.png", vessels.astype(np.uint8) * 255)
    save_png(out_dir / f"{stem}_fov.png", photograph.fov.astype(np.uint8) * 255)
    if options.figures:
        save_overlay(out_dir / f"{stem}_overlay.png", photograph.image, vessels, options.threshold)


def segment_again(photograph, key, width, networks, options):
    """The map (H, W, C) of model `key` for `photograph` with its FOV `width` pixels across, at
    the photograph's size: one pass outside the stream's batches, for the artery/vein model at
    the disc's scale. `networks`: {key: (CompiledForward, normalisation)}."""
    forward, normalisation = networks[key]
    scale = segment.network_scales(photograph.fov, (width,))[0]
    network_image, corner = segment.network_input(
        photograph.image, photograph.fov, scale, normalisation, options.rim_fill
    )
    outputs = forward(np.stack(views(network_image, options.tta)))
    probabilities = undo_views(list(outputs), network_image.shape, options.tta)
    resized = segment.back_to_photograph(probabilities, photograph.image.shape[:2], scale, corner)
    return segment.mean_inside_fov(resized, 1, photograph.fov)


def artery_vein_classes(photograph, probabilities, options, networks, vessel_probabilities):
    """(RITE-coded classes (H, W) uint8, the disc, the vessel probability under the classes as a
    calibre.VesselProbability) of a photograph's artery/vein probabilities.

    The disc is the user's where --disc-centre and --disc-diameter give it, else located on the
    map's vessel output. When it is much larger than DRIVE's, as a 30-degree camera shows it,
    the artery and vein outputs are taken again at the width that brings it to DRIVE's size
    (artery_vein.at_disc_scale; the vessel output stays the first pass's), run by `networks`
    (segment_again). The classes are drawn on the vessel model's binary map, its
    `vessel_probabilities` (H, W) at --threshold, where artery_vein.vessels_under_classes takes
    it, and then follow artery_vein.default_classes, drawn at the network's scale where the
    photograph is larger (artery_vein.classes_at_network_scale)."""
    estimate = None
    if options.disc_centre is None or options.disc_diameter is None:
        estimate = locate_disc(photograph.image, photograph.fov, probabilities[..., 2] >= artery_vein.VESSEL_THRESHOLD)
    disc = given_disc(options.disc_centre, options.disc_diameter, estimate)
    first_width = options.fov_diameters[0]
    if artery_vein.AT_DISC_SCALE:
        probabilities, _ = artery_vein.at_disc_scale(
            probabilities,
            disc,
            photograph.fov,
            first_width,
            lambda width: segment_again(photograph, "artery_vein", width, networks, options),
        )
    # Photograph pixels per network pixel at the first width, which drew the vessels.
    scale = 1 / segment.network_scales(photograph.fov, (first_width,))[0]
    probabilities, under, _ = artery_vein.vessels_under_classes(
        probabilities, disc, photograph.fov, first_width, scale, lambda: vessel_probabilities, options.threshold
    )
    return artery_vein.classes_at_network_scale(probabilities, photograph.fov), disc, under


def clinical_row(out_dir, photograph, probabilities, options, networks, vessel_probabilities):
    """<stem>_av.png (artery red, vein blue), with figures <stem>_clinical.png, and the
    clinical.csv row of one photograph (clinical_measures)."""
    classes, row = clinical_measures(photograph, probabilities, options, networks, vessel_probabilities)
    name = photograph_name(photograph.path, options.images_root)
    save_png(out_dir / f"{output_stem(name)}_av.png", artery_vein.av_colour_map(classes))
    if options.figures:
        with atomic_path(out_dir / f"{output_stem(name)}_clinical.png") as temporary:
            save_clinical_figure(temporary, photograph.image, classes, row)
    return row


def clinical_measures(photograph, probabilities, options, networks, vessel_probabilities):
    """(RITE-coded classes (H, W) uint8, clinical.csv row) of one photograph from its artery/vein
    probabilities and the vessel model's (artery_vein_classes); the widths are read from the
    vessel probability under the classes."""
    classes, disc, under = artery_vein_classes(photograph, probabilities, options, networks, vessel_probabilities)
    row = measure_photograph(
        photograph_name(photograph.path, options.images_root),
        classes,
        photograph.fov,
        image=photograph.image,
        disc=disc,
        probability=under,
        zone_b_scale=options.zone_b_scale,
        **pixel_size_arguments(
            options.pixel_size_um,
            photograph.pixel_size_um,
            options.field_degrees,
            photograph.fov,
            photograph.field_degrees,
        ),
    )
    return classes, row


def measure_map(name, vessels, fov):
    """The measure.py row of one binary map; a row of its own, with a note, when it holds no vessel."""
    if not vessels[fov].any():
        return empty_row(name)
    return measurement_row(name, vessel_measures.measure(vessels, fov), pixel_size_um=None)


def plain(value):
    """`value` with NumPy numbers as Python numbers and NaN as None, for a JSON line."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def base_record(path, status, reason=None, root=None):
    """The manifest record's first fields; its name is photograph_name(path, root). `version`: the
    project's version that made the record, since a folder resumed after an upgrade holds both."""
    size = path.stat().st_size if path.is_file() else None
    return {
        "image": photograph_name(path, root),
        "path": str(path),
        "bytes": size,
        "status": status,
        "reason": reason,
        "version": __version__,
    }


def failed_record(path, error, seconds=0.0, root=None):
    """The manifest record of a photograph that could not be done (`root` as base_record's)."""
    return {**base_record(path, "failed", str(error), root), "seconds": round(seconds, 3)}


def finish(photograph, request_maps, options, out_dir, networks, scores=None):
    """The manifest record of a segmented photograph, after writing its files; `networks` run the
    artery/vein model's second pass at the disc's scale (artery_vein_classes), and `scores` (a
    StreamingScores) counts its FOV pixels when it has an annotation."""
    started = time.perf_counter()
    image, fov, path = photograph.image, photograph.fov, photograph.path
    record = base_record(path, "done", root=options.images_root)
    (out_dir / output_stem(record["image"])).parent.mkdir(parents=True, exist_ok=True)
    record.update(width=image.shape[1], height=image.shape[0], fov=photograph.fov_source)
    if photograph.skip:
        score, grade, weakest = quality.grade_quality(photograph.checks)
        record.update(status="skipped", reason=photograph.skip, quality=score, quality_grade=grade)
        record.update(quality_weakest=weakest, quality_checks=photograph.checks)
        record["seconds"] = round(photograph.seconds + time.perf_counter() - started, 3)
        return plain(record)
    maps = photograph_maps(photograph, request_maps)
    probabilities = maps["vessels"]
    vessels = probabilities >= options.threshold
    save_maps(out_dir, photograph, probabilities, vessels, options)
    checks = {**photograph.checks, **quality.map_checks(vessels, fov)}
    score, grade, weakest = quality.grade_quality(checks)
    fraction = float(vessels[fov].mean()) if fov.any() else 0.0
    record.update(
        vessel_fraction=round(fraction, 6),
        network_scale=round(photograph.requests[0].scale, 6),
        quality=score,
        quality_grade=grade,
        quality_weakest=weakest,
        quality_checks={name: round(value, 4) for name, value in checks.items()},
        measurements=measure_map(record["image"], vessels, fov),
    )
    if "artery_vein" in maps:
        record["clinical"] = clinical_row(out_dir, photograph, maps["artery_vein"], options, networks, probabilities)
    if score < options.min_quality:
        record.update(status="skipped", reason=quality_reason(score, weakest, options))
    if photograph.label is not None:
        record["scores"] = evaluate(probabilities, photograph.label, fov, options.threshold)["pooled"]
        # Pooled scores count the photographs that the tables hold: those done, not those skipped.
        if scores is not None and record["status"] == "done":
            scores.add(probabilities, photograph.label, fov)
    record["seconds"] = round(photograph.seconds + time.perf_counter() - started, 3)
    return plain(record)
