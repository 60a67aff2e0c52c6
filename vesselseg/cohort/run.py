"""predict.py --images on a folder of any size: resumable, with a progress bar, here or on a cluster.

    spec = ModelSpec(choices, av_weights, "float32", clinical=True)
    networks = load_networks(spec)                   # loads and compiles the models
    failures = predict_folder(files, folder, options, spec, networks, batch_size=4)

The photographs that the folder's manifest already holds as done or skipped are left alone, the
rest are segmented (pipeline.segment_stream, or cluster.run_on_cluster with `cluster`), each
one's record is appended to the manifest as it ends, and the tables are rebuilt from the manifest.
Returns the number of photographs that failed; their reasons are in the manifest and on stderr.
"""

import collections
import dataclasses
import shutil
import statistics
import sys
from pathlib import Path

from vesselseg.cli import progress_bar
from vesselseg.cohort import tables
from vesselseg.cohort.forward import CompiledForward
from vesselseg.cohort.manifest import PHOTOGRAPH_SUFFIXES, readable_size
from vesselseg.cohort.pipeline import segment_stream
from vesselseg.cohort.scores import StreamingScores
from vesselseg.cohort.work import companions_for
from vesselseg.data.image_files import brief, output_stem, photograph_name
from vesselseg.inference.photographs import vessel_fraction_warning

# The summary at the end names at most this many failed photographs.
SUMMARY_FAILURES = 10
# What the summary keeps of each photograph's last manifest line.
# `flags`: the kinds of the clinical measures' flags (calibre.FLAG_KINDS), a tuple; a record of a
# version before the kinds were kept gives ("flagged",) for any flag.
SummaryLine = collections.namedtuple("SummaryLine", ("status", "reason", "vessel_fraction", "flags"))
# Once this many photographs are done, the run weighs the disk that the rest will need against
# the free space, so that a cohort too large for its disk is told within a minute, not when full.
DISK_CHECK_AFTER = 8


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Which models a run segments with: enough for a cluster's worker to load them itself."""

    choices: tuple
    av_weights: str = None
    precision: str = "float32"
    clinical: bool = True


def load_networks(spec):
    """{"vessels": (CompiledForward, normalisation)} and, with the clinical measures and an
    artery/vein model present, "artery_vein" likewise."""
    from vesselseg.inference.models import load_artery_vein_model, load_models

    networks = {
        "vessels": (CompiledForward(load_models(list(spec.choices), spec.precision)), spec.choices[0].normalisation)
    }
    if spec.clinical:
        av_model = load_artery_vein_model(spec.av_weights, spec.precision)
        if av_model is not None:
            networks["artery_vein"] = (CompiledForward(av_model[0]), av_model[1])
    return networks


def warnings_of(record, quiet=False):
    """The lines a person should see about one photograph's record; with `quiet`, not the notes of
    the clinical measures' flags, which many photographs carry and the summary counts."""
    name = record["image"]
    if record["status"] == "failed":
        return [f"failed: {name}: {record['reason']}"]
    if record["status"] == "skipped":
        return [f"skipped: {name}: {record['reason']}"]
    lines = []
    if record["quality_grade"] == "poor":
        lines.append(
            f"warning: {name}: quality {record['quality']:.2f} (poor; weakest check: {record['quality_weakest']}); "
            "it may not be a usable fundus photograph"
        )
    fraction_warning = vessel_fraction_warning(record["vessel_fraction"])
    if fraction_warning:
        lines.append(f"warning: {name}: {fraction_warning}")
    if record.get("clinical") and record["clinical"].get("flags") and not quiet:
        lines.append(f"note: {name}: {record['clinical']['flags']}")
    return lines


def disk_warning(out_dir, images, remaining, options):
    """A warning when `remaining` photographs, at the mean size of the outputs written for the
    photographs named `images`, would need more than the free space on `out_dir`'s disk, naming
    the flags of `options` (an Options) that would write less; else None."""
    stems = [output_stem(image) for image in images]
    paths = [Path(out_dir) / f"{stem}{suffix}" for stem in stems for suffix in PHOTOGRAPH_SUFFIXES]
    per_photograph = sum(path.stat().st_size for path in paths if path.is_file()) / max(len(stems), 1)
    needed, free = per_photograph * remaining, shutil.disk_usage(out_dir).free
    if needed <= free:
        return None
    lighter = [
        flag
        for flag, used in (("--no-figures", options.figures), ("--no-probability-arrays", options.probability_arrays))
        if used
    ]
    return (
        f"warning: at {readable_size(per_photograph)} a photograph, the {remaining:,} photographs left need about "
        f"{readable_size(needed)}, and the disk of {out_dir} has {readable_size(free)} free"
        + (
            f"; {' and '.join(lighter)} {'write' if len(lighter) > 1 else 'writes'} less (docs/predict.md, Disk)."
            if lighter
            else "."
        )
    )


def missing_masks_warning(todo, options):
    """One line where --masks holds no mask for some of the photographs `todo`, whose FOV is then
    estimated, said before the run so that a folder of masks named another way is not taken for
    used; None where it holds them all, or without --masks. A photograph that several masks could
    belong to is left to fail with its reason."""
    if not options.masks:
        return None
    masks = companions_for(options.masks, options)
    missing = []
    for path in todo:
        try:
            if masks.find(path) is None:
                missing.append(photograph_name(path, options.images_root))
        except ValueError:
            continue
    if not missing:
        return None
    return (
        f"warning: --masks {options.masks} holds no mask for {len(missing):,} of the {len(todo):,} photographs "
        f"to do ({brief(missing)}); their FOV is estimated from the photograph (manifest.jsonl's fov says which)."
    )


def predict_folder(files, folder, options, spec, networks, batch_size, quiet=False, cluster=None):
    """Segment the photographs of `files` that `folder` (an OutputFolder) has not done; returns the
    number that failed. `networks`: load_networks(spec), for a local run; `cluster`: a Dask
    scheduler address or "local:N" to run on a cluster instead."""
    manifest = folder.manifest
    finished = manifest.finished()
    todo = [path for path in files if photograph_name(path, options.images_root) not in finished]
    if len(todo) < len(files):
        print(
            f"{len(files) - len(todo)} of {len(files)} photographs already done in {folder.folder}; "
            f"doing the other {len(todo)}."
        )
    warning = missing_masks_warning(todo, options)
    if warning:
        print(warning, file=sys.stderr)
    scores = StreamingScores(options.threshold) if options.labels else None
    counts, counted = {"done": 0, "skipped": 0, "failed": 0}, []
    bar = progress_bar(len(files), len(files) - len(todo), quiet)

    done_here = []

    def on_record(record):
        manifest.append(record)
        counts[record["status"]] += 1
        if record["status"] == "done" and record.get("scores"):
            counted.append(record["image"])
        for line in warnings_of(record, quiet):
            bar.write(line, file=sys.stderr)
        if record["status"] == "done" and len(done_here) < DISK_CHECK_AFTER:
            done_here.append(record["image"])
            if len(done_here) == DISK_CHECK_AFTER:
                warning = disk_warning(folder.folder, done_here, len(todo) - sum(counts.values()), options)
                if warning:
                    bar.write(warning, file=sys.stderr)
        bar.update()

    if cluster and todo:
        from vesselseg.cohort.cluster import run_on_cluster

        run_on_cluster(cluster, todo, spec, options, folder.folder, batch_size, on_record, scores)
    elif todo:
        segment_stream(todo, networks, options, folder.folder, on_record, batch_size, scores)
    bar.close()
    result = tables.write_tables(folder.folder, manifest, options, scores, folder.settings, counted)
    print_summary(manifest, counts, len(files), folder.folder)
    if result:
        print(tables.pooled_summary(*result, options.threshold))
    return counts["failed"]


def flag_kinds(clinical):
    """The kinds of a clinical.csv row's flags, as a tuple (SummaryLine's flags)."""
    if not clinical.get("flags"):
        return ()
    return tuple(clinical.get("flag_kinds") or ("flagged",))


def print_summary(manifest, counts, total, out_dir):
    """This run's counts, and the folder's: done, skipped, failed, and the median vessel fraction."""
    # Of each photograph's last line, only what the summary prints, as a tuple: a cohort's records
    # are large, and even a small dict for each of a million photographs is not.
    latest = {
        record["image"]: SummaryLine(
            record["status"],
            record.get("reason"),
            record.get("vessel_fraction"),
            flag_kinds(record.get("clinical") or {}),
        )
        for record in manifest.records()
    }
    status = collections.Counter(line.status for line in latest.values())
    done = [line for line in latest.values() if line.status == "done"]
    fractions = [line.vessel_fraction for line in done]
    median = f"; median vessel fraction {statistics.median(fractions):.1%} of the FOV" if fractions else ""
    print(
        f"This run: {counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed. "
        f"{out_dir}: {status['done']} of {total} photographs done, {status['skipped']} skipped, "
        f"{status['failed']} failed{median}."
    )
    flagged = sum(bool(line.flags) for line in done)
    if flagged:
        kinds = collections.Counter(kind for line in done for kind in line.flags)
        breakdown = ", ".join(f"{kind} {count}" for kind, count in kinds.most_common())
        print(
            f"{flagged} photograph(s) carry a flag on their clinical measures (clinical.csv's flags column): "
            f"{breakdown}."
        )
    failed = [(image, line.reason) for image, line in latest.items() if line.status == "failed"]
    for image, reason in failed[:SUMMARY_FAILURES]:
        print(f"  failed: {image}: {reason}", file=sys.stderr)
    if len(failed) > SUMMARY_FAILURES:
        print(f"  and {len(failed) - SUMMARY_FAILURES} more failed (manifest.jsonl says why)", file=sys.stderr)
