"""What a predict.py --images folder's outputs depend on: the settings.json that every run of the
folder is compared with (manifest.OutputFolder), so that a folder begun with other weights,
flags or classes is refused rather than finished with a mixture.

    settings = folder_settings(args, files, choices, spec, images_root)
"""

import hashlib
from pathlib import Path

from vesselseg import __version__, artery_vein
from vesselseg.measurement import calibre, optic_disc

# --fov-diameters auto: the widths are chosen from the folder's optic discs (field_width.py).
AUTO = "auto"


def folder_settings(args, files, choices, spec, images_root):
    """settings.json of an --images run: predict.py's parsed `args`, the photographs `files`, the
    vessel models `choices`, the run.ModelSpec `spec`, and the folder that --recursive names
    photographs relative to (None without it)."""
    images = Path(args.images).resolve() if args.images else files[0].resolve()
    return {
        # Recorded, not compared: a folder resumes after an upgrade (manifest.OutputFolder notes it).
        "version": __version__,
        "images": str(images if images.is_dir() else images.parent),
        "masks": str(Path(args.masks).resolve()) if args.masks else None,
        "labels": str(Path(args.labels).resolve()) if args.labels else None,
        "weights": [file_identity(choice.weights) for choice in choices],
        "av_weights": file_identity(spec.av_weights) if spec.av_weights else None,
        "precision": args.precision,
        "tta": args.tta,
        "threshold": args.threshold,
        "rim_fill": args.rim_fill,
        "fov_diameters": args.fov_diameters if args.fov_diameters == AUTO else list(args.fov_diameters),
        "figures": args.figures,
        "clinical": spec.clinical,
        "artery_vein_classes": artery_vein_settings() if spec.clinical else None,
        "disc_centre_method": optic_disc.CENTRE_METHOD if spec.clinical else None,
        "disc_centre": args.disc_centre,
        "disc_diameter": args.disc_diameter,
        "pixel_size_um": args.pixel_size_um,
        "field_degrees": args.field_degrees,
        "zone_b_scale": args.zone_b_scale,
        "min_quality": args.min_quality,
        # None, not True, for the arrays written, so that folders begun before the flag resume.
        "probability_arrays": False if args.probability_arrays is False else None,
        "recursive": True if images_root else None,
    }


def file_identity(path):
    """{path, bytes, sha256} of a weights file, so that settings.json notices a retrained model."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return {"path": str(Path(path).resolve()), "bytes": Path(path).stat().st_size, "sha256": digest.hexdigest()}


def artery_vein_settings():
    """How the artery/vein map's classes are made (artery_vein.py)."""
    return {
        "by_segment": artery_vein.BY_SEGMENT,
        "artery_share": artery_vein.ARTERY_SHARE,
        "bifurcation_weight": artery_vein.BIFURCATION_WEIGHT,
        "at_disc_scale": artery_vein.AT_DISC_SCALE,
        "vessels": artery_vein.AV_VESSELS,
        # Since 1.7.1 several FOV widths combine as artery_vein.combine_scales does.
        "vessel_output_from_first_width": True,
        # Since 1.12.0 a model's zone B widths are read from its vessel probability.
        "widths": calibre.WIDTH_SOURCE,
        "half_peak_factor": calibre.HALF_PEAK_FACTOR,
        # Since 1.13.0 the classes of a photograph larger than the network's scale are drawn at it.
        "classes_fov_diameter": artery_vein.CLASSES_FOV_DIAMETER,
    }
