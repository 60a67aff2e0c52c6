"""Cohorts: the manifest and resume, atomic files, streaming scores, the quality check, a cluster."""

import csv
import errno
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image
from scipy import ndimage

import predict
from conftest import PROJECT_DIR, synthetic_sample, write_dicom
from vesselseg import __version__
from vesselseg.cohort import cluster, quality, run
from vesselseg.cohort.manifest import (
    REPAIR_CHUNK,
    Manifest,
    OutputFolder,
    OutputWriteError,
    atomic_path,
    readable_size,
    version_note,
)
from vesselseg.cohort.run import missing_masks_warning, print_summary, warnings_of
from vesselseg.cohort.scores import StreamingScores
from vesselseg.cohort.tables import exact_pooled
from vesselseg.data.image_files import Companions, image_stem, match_companion
from vesselseg.data.image_reading import read_binary_map, read_rgb_image
from vesselseg.inference.segment import estimate_fov
from vesselseg.measurement.maps import list_maps, read_map

SHARED = PROJECT_DIR.parent / "shared"
# Flags that keep a test's photographs cheap: one pass at a small FOV width, vessels only.
CHEAP = ("--no-tta", "--no-clinical", "--no-figures", "--fov-diameters", "96")


def write_photographs(folder, count, seed=0):
    """`count` synthetic fundus photographs of a few sizes, and their annotations in folder/labels."""
    rng = np.random.default_rng(seed)
    (folder / "labels").mkdir(parents=True)
    for index in range(count):
        height, width = (100, 110) if index % 2 else (120, 100)
        image, vessels, _ = synthetic_sample(rng, height, width)
        Image.fromarray(image).save(folder / f"eye{index:02d}.png")
        Image.fromarray(vessels.astype(np.uint8) * 255).save(folder / "labels" / f"eye{index:02d}.png")
    return folder


def run_predict(*flags):
    command = [sys.executable, str(PROJECT_DIR / "predict.py"), *map(str, flags)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def manifest_of(out):
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def comparable(records):
    """Manifest records by image, without the seconds they took."""
    return {record["image"]: {k: v for k, v in record.items() if k != "seconds"} for record in records}


def test_streaming_scores_agree_with_the_exact_ones():
    rng = np.random.default_rng(0)
    maps, streaming = [], StreamingScores(threshold=0.5)
    for height, width in ((60, 80), (90, 70), (50, 50)):
        truth = rng.random((height, width)) < 0.12
        logits = rng.normal(0, 2.5, (height, width)) + 3.0 * truth
        probabilities = (1 / (1 + np.exp(-logits))).astype(np.float32)
        fov = rng.random((height, width)) < 0.8
        maps.append((probabilities, truth, fov))
        streaming.add(probabilities, truth, fov)
    exact, approximate = exact_pooled(maps, 0.5), streaming.pooled()
    assert abs(approximate["roc_auc"] - exact["roc_auc"]) < 1e-4
    assert abs(approximate["pr_auc"] - exact["pr_auc"]) < 1e-3
    assert approximate["at_threshold"] == exact["at_threshold"]
    assert approximate["fov_pixels"] == exact["fov_pixels"]
    halves = StreamingScores(0.5)
    for part in maps:
        single = StreamingScores(0.5)
        single.add(*part)
        halves.merge(single)
    assert halves.pooled() == approximate


def test_outputs_are_atomic_and_a_cut_manifest_line_is_dropped(tmp_path):
    target = tmp_path / "map.npy"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            np.save(temporary, np.zeros(3))
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    manifest = Manifest(tmp_path / "manifest.jsonl")
    manifest.append({"image": "a.png", "status": "done"})
    manifest.append({"image": "b.png", "status": "failed", "reason": "unreadable"})
    with open(manifest.path, "a") as file:
        file.write('{"image": "c.png", "sta')
    reopened = Manifest(manifest.path)
    assert [record["image"] for record in reopened.records()] == ["a.png", "b.png"]
    # A cut line longer than the pieces in which the manifest's end is read back.
    with open(manifest.path, "a") as file:
        file.write('{"image": "c.png", "reason": "' + "x" * 3 * REPAIR_CHUNK)
    assert [record["image"] for record in Manifest(manifest.path).records()] == ["a.png", "b.png"]
    only_cut = tmp_path / "cut.jsonl"
    only_cut.write_text('{"image": "d.png"')
    assert list(Manifest(only_cut).records()) == [] and only_cut.read_bytes() == b""
    # A failed photograph is tried again; a done one is not.
    assert set(reopened.finished()) == {"a.png"}
    with pytest.raises(ValueError, match="status"):
        reopened.append({"image": "d.png", "status": "maybe"})


def test_latest_reads_back_each_photographs_last_line_in_the_order_first_seen(tmp_path):
    # The names are not ASCII, so that a place counted in characters rather than bytes would
    # read a line from its middle.
    manifest = Manifest(tmp_path / "manifest.jsonl")
    lines = [
        {"image": "œil-b.png", "status": "failed", "reason": "unreadable"},
        {"image": "œil-a.png", "status": "done", "vessel_fraction": 0.1},
        {"image": "œil-b.png", "status": "done", "vessel_fraction": 0.2},
    ]
    for record in lines:
        manifest.append(record)
    assert list(manifest.latest()) == [lines[2], lines[1]]
    assert list(Manifest(tmp_path / "absent.jsonl").latest()) == []


def test_changed_settings_are_refused_and_overwrite_removes_only_outputs(tmp_path):
    out = tmp_path / "out"
    OutputFolder(out, {"tta": True, "weights": "a"}).close()
    (out / "eye_prob.npy").write_bytes(b"")
    (out / "notes.txt").write_text("the user's own")
    # A --recursive run's subfolders, and a temporary file that a kill left in one.
    (out / "P1" / "v2").mkdir(parents=True)
    (out / "P1" / "v2" / "eye_vessels.png").write_bytes(b"")
    (out / "P1" / "v2" / "eye_prob.tmp-123.npy").write_bytes(b"")
    (out / "P2").mkdir()
    (out / "P2" / "eye_prob.png").write_bytes(b"")
    (out / "P2" / "notes.txt").write_text("the user's own")
    OutputFolder(out, {"tta": True, "weights": "a"}).close()
    assert (
        not (out / "P1" / "v2" / "eye_prob.tmp-123.npy").exists() and (out / "P1" / "v2" / "eye_vessels.png").exists()
    )
    with pytest.raises(FileExistsError, match="tta: True then, False now"):
        OutputFolder(out, {"tta": False, "weights": "a"})
    OutputFolder(out, {"tta": False, "weights": "a"}, overwrite=True).close()
    assert sorted(path.name for path in out.iterdir()) == ["P2", "notes.txt", "run.lock", "settings.json"]
    assert [path.name for path in (out / "P2").iterdir()] == ["notes.txt"]
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "x.txt").write_text("")
    with pytest.raises(FileExistsError, match="did not write"):
        OutputFolder(tmp_path / "theirs", {})
    (tmp_path / "a_file").write_text("")
    with pytest.raises(FileExistsError, match="cannot make the output folder"):
        OutputFolder(tmp_path / "a_file" / "out", {})


def test_the_same_weights_from_another_checkout_resume_a_folder_and_other_weights_do_not(tmp_path):
    out = tmp_path / "out"
    weights = [{"path": "/home/a/project/weights/m.h5", "bytes": 10, "sha256": "ab"}]
    OutputFolder(out, {"weights": weights, "images": "/data/cohort"}).close()
    moved = [{"path": "/shared/project/weights/m.h5", "bytes": 10, "sha256": "ab"}]
    OutputFolder(out, {"weights": moved, "images": "/data/cohort"}).close()
    retrained = [{"path": "/shared/project/weights/m.h5", "bytes": 10, "sha256": "cd"}]
    with pytest.raises(FileExistsError, match="'sha256': 'ab'}] then, .*'sha256': 'cd'}] now"):
        OutputFolder(out, {"weights": retrained, "images": "/data/cohort"})
    # A path that is not a file's identity still counts: other photographs are another run.
    with pytest.raises(FileExistsError, match="images: '/data/cohort' then, '/data/other' now"):
        OutputFolder(out, {"weights": moved, "images": "/data/other"})


def test_a_folder_run_by_another_version_resumes_and_says_so(tmp_path):
    out = tmp_path / "out"
    OutputFolder(out, {"version": "1.24.0", "tta": True}).close()
    again = OutputFolder(out, {"version": "1.24.0", "tta": True})
    again.close()
    assert again.earlier_version is None
    upgraded = OutputFolder(out, {"version": "1.25.0", "tta": True})
    upgraded.close()
    assert upgraded.earlier_version == "1.24.0"
    assert json.loads((out / "settings.json").read_text())["version"] == "1.25.0"
    # A folder begun before versions were recorded resumes too.
    (out / "settings.json").write_text(json.dumps({"tta": True}))
    assert OutputFolder(out, {"version": "1.25.0", "tta": True}).earlier_version == ""
    assert "last run by version 1.24.0; this run is version 1.25.0" in version_note(out, "1.24.0", "1.25.0")
    assert "last run by a version before 1.24.0" in version_note(out, "", "1.25.0")


def test_a_second_run_on_a_folder_in_use_is_refused_until_the_first_ends(tmp_path):
    first = OutputFolder(tmp_path / "out", {"tta": True})
    with pytest.raises(FileExistsError, match=rf"another run \(pid {os.getpid()} on .*\) is writing to"):
        OutputFolder(tmp_path / "out", {"tta": True})
    with pytest.raises(FileExistsError, match="another run"):
        OutputFolder(tmp_path / "out", {"tta": True}, overwrite=True)
    assert (tmp_path / "out" / "settings.json").is_file()
    first.close()
    OutputFolder(tmp_path / "out", {"tta": True}).close()
    # A killed run's lock goes with its process: a new process takes the folder at once.
    command = [
        sys.executable,
        "-c",
        "import os, fcntl; f = open('run.lock', 'a+'); fcntl.flock(f, fcntl.LOCK_EX); os._exit(0)",
    ]
    subprocess.run(command, cwd=tmp_path / "out", check=True)
    OutputFolder(tmp_path / "out", {"tta": True}).close()


def test_companions_match_as_match_companion_does(tmp_path):
    for name in ("Image_01L_1stHO.png", "Image_01L_2ndHO.png", "Image_01R-vessels.png", "Image_03L.gif", "a.txt"):
        (tmp_path / name).write_bytes(b"")
    companions = Companions(tmp_path)
    for stem in ("Image_01R", "Image_03L", "Image_04L", "Image_0"):
        assert companions.find(tmp_path / "photographs" / f"{stem}.jpg") == match_companion(tmp_path, stem)
    with pytest.raises(ValueError, match="could belong to Image_01L"):
        companions.find(tmp_path / "photographs" / "Image_01L.jpg")


def test_masks_missing_for_some_photographs_are_told_before_the_run(tmp_path):
    from vesselseg.cohort.work import Options

    photographs, masks = tmp_path / "images", tmp_path / "masks"
    photographs.mkdir()
    masks.mkdir()
    todo = [photographs / f"{stem}.png" for stem in ("a", "b", "c")]
    (masks / "a_mask.png").write_bytes(b"")
    warning = missing_masks_warning(todo, Options(masks=str(masks)))
    assert warning.startswith(f"warning: --masks {masks} holds no mask for 2 of the 3 photographs to do (b.png, c.png)")
    assert missing_masks_warning(todo[:1], Options(masks=str(masks))) is None
    assert missing_masks_warning(todo, Options()) is None
    # Two masks that could belong to one photograph make it fail later, with its reason, not here.
    (masks / "b_mask.png").write_bytes(b"")
    (masks / "b-fov.png").write_bytes(b"")
    assert "(c.png)" in missing_masks_warning(todo, Options(masks=str(masks)))


def test_companions_by_leading_number_only_when_no_photograph_claims_them(tmp_path):
    photographs, labels = tmp_path / "images", tmp_path / "labels"
    photographs.mkdir()
    labels.mkdir()
    for name in ("21_training.tif", "22_training.tif", "10_left.jpg", "10_right.jpg", "7.png"):
        (photographs / name).write_bytes(b"")
    for name in ("21_manual1.gif", "22_manual1.gif", "22_manual2.gif", "10_left_mask.png", "7_a.png"):
        (labels / name).write_bytes(b"")
    companions = Companions(labels)
    # DRIVE's annotations share only the number with their photographs.
    assert companions.find(photographs / "21_training.tif") == labels / "21_manual1.gif"
    with pytest.raises(ValueError, match="2 files"):
        companions.find(photographs / "22_training.tif")
    # A file that its own photograph's name claims is never given to another photograph.
    assert companions.find(photographs / "10_left.jpg") == labels / "10_left_mask.png"
    assert companions.find(photographs / "10_right.jpg") is None
    assert companions.find(photographs / "7.png") == labels / "7_a.png"


def test_statuses_resume_after_sigkill_and_equal_an_unbroken_run(tmp_path, weights_file):
    folder = write_photographs(tmp_path / "photos", 10)
    (folder / "broken.png").write_text("not an image")
    Image.fromarray(np.zeros((30, 30, 3), np.uint8)).save(folder / "tiny.png")
    image, _, _ = synthetic_sample(np.random.default_rng(9), 110, 100)
    Image.fromarray(image[..., 0]).save(folder / "grey.png")
    Image.fromarray(np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])).save(folder / "rgba.png")
    write_dicom(folder / "IM000001", image)
    write_dicom(folder / "1.2.826.0.1.3680043.9.7", image)  # named by its UID, as storage servers do
    write_dicom(folder / "stereo.dcm", image, frames=2)
    flags = ["--images", folder, "--weights", weights_file, *CHEAP, "--quiet"]

    unbroken = run_predict(*flags, "--output-dir", tmp_path / "unbroken")
    assert unbroken.returncode == 1, unbroken.stderr
    assert "failed: broken.png: Cannot read" in unbroken.stderr and "tiny.png" in unbroken.stderr
    reference = tmp_path / "unbroken" / "random_fov96" / "photos"
    records = comparable(manifest_of(reference))
    assert {name: record["status"] for name, record in records.items()} == {
        **{f"eye{index:02d}.png": "done" for index in range(10)},
        "broken.png": "failed",
        "tiny.png": "failed",
        "grey.png": "done",
        "rgba.png": "done",
        "IM000001": "done",
        "1.2.826.0.1.3680043.9.7": "done",
        "stereo.dcm": "failed",
    }
    assert "at least 64 pixels" in records["tiny.png"]["reason"]
    assert "2 frames" in records["stereo.dcm"]["reason"]
    assert {record["version"] for record in records.values()} == {__version__}
    assert json.loads((reference / "settings.json").read_text())["version"] == __version__

    command = [sys.executable, str(PROJECT_DIR / "predict.py"), *map(str, flags), "--output-dir", tmp_path / "killed"]
    out = tmp_path / "killed" / "random_fov96" / "photos"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if (out / "manifest.jsonl").is_file() and len((out / "manifest.jsonl").read_text().splitlines()) >= 3:
            break
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    resumed = run_predict(*flags, "--output-dir", tmp_path / "killed")
    assert resumed.returncode == 1 and "already done" in resumed.stdout
    lines = manifest_of(out)
    # Each photograph done once; the failures are tried again by the rerun.
    done = [record["image"] for record in lines if record["status"] == "done"]
    assert sorted(done) == sorted(set(done)) and len(done) == 14
    assert comparable(latest(lines)) == records
    for name in done:
        stem = image_stem(name)
        np.testing.assert_allclose(
            np.load(out / f"{stem}_prob.npy"), np.load(reference / f"{stem}_prob.npy"), atol=1e-6
        )
    assert not list(out.glob("*.tmp-*"))
    assert (out / "vessel_fractions.csv").read_text() == (reference / "vessel_fractions.csv").read_text()

    # The same folder with other settings is refused; --overwrite starts again.
    refused = run_predict(*flags, "--output-dir", tmp_path / "killed", "--threshold", "0.4")
    assert refused.returncode != 0 and "threshold: 0.5 then, 0.4 now" in refused.stderr


def latest(records):
    return list({record["image"]: record for record in records}.values())


def test_a_recursive_run_mirrors_the_subfolders_and_resumes(tmp_path, weights_file):
    """--recursive reads every subfolder (hidden ones aside), names each photograph by its path,
    writes its outputs into the same subfolders, finds its annotation in the same subfolder of
    --labels, gives the maps of a run on the subfolder alone, and resumes like any run."""
    source = write_photographs(tmp_path / "source", 3)
    photos, labels = tmp_path / "photos", tmp_path / "labels"
    places = {"eye00.png": "P1/eye.png", "eye01.png": "P1/v2/eye.png", "eye02.png": "P2/eye.png"}
    for original, place in places.items():
        for root, folder in ((photos, source), (labels, source / "labels")):
            (root / place).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(folder / original, root / place)
    (photos / ".thumbnails").mkdir()
    shutil.copy(source / "eye00.png", photos / ".thumbnails" / "eye.png")
    flags = ["--images", photos, "--recursive", "--labels", labels, "--weights", weights_file, *CHEAP, "--quiet"]

    first = run_predict(*flags, "--output-dir", tmp_path / "out")
    assert first.returncode == 0, first.stderr
    out = tmp_path / "out" / "random_fov96" / "photos"
    assert {record["image"]: record["status"] for record in manifest_of(out)} == dict.fromkeys(places.values(), "done")
    assert (out / "P1" / "v2" / "eye_prob.npy").is_file() and not (out / "eye_prob.npy").exists()
    per_image = (out / "per_image.csv").read_text()
    assert "P1/v2/eye," in per_image and "P2/eye," in per_image

    alone = run_predict(
        "--images",
        photos / "P2",
        "--labels",
        labels / "P2",
        "--weights",
        weights_file,
        *CHEAP,
        "--quiet",
        "--output-dir",
        tmp_path / "alone",
    )
    assert alone.returncode == 0, alone.stderr
    np.testing.assert_allclose(
        np.load(out / "P2" / "eye_prob.npy"),
        np.load(tmp_path / "alone" / "random_fov96" / "P2" / "eye_prob.npy"),
        atol=1e-6,
    )

    again = run_predict(*flags, "--output-dir", tmp_path / "out")
    assert again.returncode == 0 and "3 of 3 photographs already done" in again.stdout
    # measure.py --recursive reads the tree back and counts the FOV that predict.py saved.
    import measure

    measure.main(measure.get_args([str(out), "--recursive", "--threshold", "0.5", "--output", str(tmp_path / "m.csv")]))
    with open(tmp_path / "m.csv") as file:
        measured = {row["image"]: float(row["vessel_fraction"]) for row in csv.DictReader(file)}
    with open(out / "vessel_fractions.csv") as file:
        predicted = {row["image"]: float(row["vessel_fraction"]) for row in csv.DictReader(file)}
    assert {name.replace("_prob.npy", ".png"): fraction for name, fraction in measured.items()} == pytest.approx(
        predicted, abs=1e-5
    )
    assert (tmp_path / "m_figures" / "P1" / "v2" / "eye_widths.png").is_file()
    inside = run_predict(*flags, "--output-dir", photos / "results")
    assert inside.returncode != 0 and "lies inside --images" in inside.stderr


def test_a_full_disk_stops_the_run_with_one_line_and_the_rerun_finishes(tmp_path, weights_file, monkeypatch):
    folder = write_photographs(tmp_path / "photos", 4)
    flags = ["--images", str(folder), "--weights", str(weights_file), *CHEAP, "--quiet"]
    flags += ["--output-dir", str(tmp_path / "out")]
    out = tmp_path / "out" / "random_fov96" / "photos"
    real_save, saved = np.save, []

    def save_until_the_disk_is_full(file, array, *args, **kwargs):
        if len(saved) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        saved.append(file)
        return real_save(file, array, *args, **kwargs)

    # The third probability map finds the disk full: the run stops there, rather than marking
    # that photograph and every one after it failed.
    monkeypatch.setattr(np, "save", save_until_the_disk_is_full)
    with pytest.raises(OutputWriteError, match="_prob.npy: No space left on device.*run the same command again"):
        predict.main(predict.get_args(flags))
    assert [record["status"] for record in manifest_of(out)] == ["done", "done"]
    assert not list(out.glob("*.tmp-*"))

    monkeypatch.setattr(np, "save", real_save)
    assert predict.main(predict.get_args(flags)) == 0
    records = manifest_of(out)
    assert sorted(record["image"] for record in records) == [f"eye{index:02d}.png" for index in range(4)]
    assert {record["status"] for record in records} == {"done"}


def test_without_probability_arrays_the_8_bit_maps_stay_and_measure_reads_them(tmp_path, weights_file, capsys):
    folder = write_photographs(tmp_path / "photos", 3)
    flags = ["--images", str(folder), "--weights", str(weights_file), *CHEAP, "--quiet"]
    flags += ["--output-dir", str(tmp_path / "out")]
    out = tmp_path / "out" / "random_fov96" / "photos"
    assert predict.main(predict.get_args([*flags, "--no-probability-arrays"])) == 0
    assert not list(out.glob("*.npy")) and len(list(out.glob("*_prob.png"))) == 3
    assert json.loads((out / "settings.json").read_text())["probability_arrays"] is False
    assert predict.main(predict.get_args([*flags, "--no-probability-arrays"])) == 0
    assert "3 of 3 photographs already done" in capsys.readouterr().out
    with pytest.raises(FileExistsError, match="probability_arrays: False then, None now"):
        predict.main(predict.get_args(flags))
    # measure.py takes the 8-bit maps for the arrays; cut at 0.5 they are the binary maps.
    maps = list_maps(out)
    assert [path.name for path in maps] == [f"eye{index:02d}_prob.png" for index in range(3)]
    for path in maps:
        vessels = read_binary_map(path.with_name(path.name.replace("_prob.png", "_vessels.png"))) > 0
        np.testing.assert_array_equal(read_map(path, 0.5), vessels)
    with pytest.raises(ValueError, match="cannot go with --labels"):
        predict.main(predict.get_args([*flags, "--no-probability-arrays", "--labels", str(folder / "labels")]))
    with pytest.raises(ValueError, match="go with --images"):
        predict.main(predict.get_args(["--no-probability-arrays"]))


def test_quiet_leaves_the_clinical_notes_to_the_summary(tmp_path, capsys):
    record = {"image": "eye.png", "status": "done", "quality_grade": "good", "vessel_fraction": 0.1}
    record["clinical"] = {"flags": "5 venules in zone B, fewer than 6"}
    assert warnings_of(record) == ["note: eye.png: 5 venules in zone B, fewer than 6"]
    assert warnings_of(record, quiet=True) == []
    manifest = Manifest(tmp_path / "manifest.jsonl")
    manifest.append(record)
    manifest.append({**record, "image": "other.png", "clinical": {"flags": ""}})
    print_summary(manifest, {"done": 2, "skipped": 0, "failed": 0}, 2, tmp_path)
    # A record written before the flags' kinds were kept is counted, its kind unknown.
    assert "1 photograph(s) carry a flag on their clinical measures (clinical.csv's flags column): flagged 1." in (
        capsys.readouterr().out
    )
    # The summary counts each kind of flag over the folder, the commonest first.
    kinds = ["under 70% of zone B inside the FOV", "fewer than 6 venules"]
    manifest.append({**record, "image": "third.png", "clinical": {"flags": "...", "flag_kinds": kinds}})
    manifest.append({**record, "image": "fourth.png", "clinical": {"flags": "...", "flag_kinds": kinds[:1]}})
    print_summary(manifest, {"done": 4, "skipped": 0, "failed": 0}, 4, tmp_path)
    assert (
        "3 photograph(s) carry a flag on their clinical measures (clinical.csv's flags column): under 70% of zone B "
        "inside the FOV 2, flagged 1, fewer than 6 venules 1."
    ) in capsys.readouterr().out


def test_a_cohort_too_large_for_its_disk_is_told_early(tmp_path, weights_file, monkeypatch, capsys):
    folder = write_photographs(tmp_path / "photos", 5)
    flags = ["--images", str(folder), "--weights", str(weights_file), *CHEAP, "--quiet"]
    monkeypatch.setattr(run, "DISK_CHECK_AFTER", 2)
    assert predict.main(predict.get_args([*flags, "--output-dir", str(tmp_path / "roomy")])) == 0
    assert "photographs left need" not in capsys.readouterr().err
    real_disk_usage = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real_disk_usage(path)._replace(free=1000))
    assert predict.main(predict.get_args([*flags, "--output-dir", str(tmp_path / "full")])) == 0
    printed = capsys.readouterr().err
    assert printed.count("photographs left need") == 1
    assert (
        "the 3 photographs left need about" in printed
        and "has 1 kB free; --no-probability-arrays writes less" in printed
    )
    assert [readable_size(size) for size in (840, 12_500_000, 1.2e9, 3.4e12)] == ["1 kB", "12.5 MB", "1.2 GB", "3.4 TB"]


def test_a_manifest_that_cannot_be_appended_to_is_an_output_error(tmp_path):
    manifest = Manifest(tmp_path / "gone" / "manifest.jsonl")
    with pytest.raises(OutputWriteError, match="cannot write .*manifest.jsonl") as raised:
        manifest.append({"image": "a.png", "status": "done"})
    # A cluster's worker sends its error back pickled; it must arrive whole.
    arrived = pickle.loads(pickle.dumps(raised.value))
    assert isinstance(arrived, OutputWriteError) and str(arrived) == str(raised.value)


def test_a_two_worker_cluster_gives_the_local_run_s_maps_and_manifest(tmp_path, weights_file):
    folder = write_photographs(tmp_path / "photos", 6)
    flags = ["--images", folder, "--labels", folder / "labels", "--weights", weights_file, *CHEAP, "--quiet"]
    local = run_predict(*flags, "--output-dir", tmp_path / "local")
    assert local.returncode == 0, local.stderr
    cluster = run_predict(*flags, "--output-dir", tmp_path / "cluster", "--cluster", "local:2")
    assert cluster.returncode == 0, cluster.stderr
    here, there = tmp_path / "local" / "random_fov96" / "photos", tmp_path / "cluster" / "random_fov96" / "photos"
    assert comparable(manifest_of(here)) == comparable(manifest_of(there))
    for index in range(6):
        name = f"eye{index:02d}_prob.npy"
        np.testing.assert_allclose(np.load(there / name), np.load(here / name), atol=1e-6)
    pooled = [json.loads((out / "metrics.json").read_text())["pooled"] for out in (here, there)]
    assert pooled[0] == pooled[1]


def fundus_photograph():
    path = SHARED / "CHASEDB1" / "images" / "Image_01L.jpg"
    if not path.is_file():
        pytest.skip(f"{path} not found: the quality check is judged on a real fundus photograph")
    return read_rgb_image(path)


@pytest.mark.parametrize(
    "name, make",
    [
        ("a portrait", lambda: skimage.data.astronaut() / 255.0),
        ("a cat", lambda: skimage.data.chelsea() / 255.0),
        ("a cup of coffee", lambda: skimage.data.coffee() / 255.0),
        ("blurred", lambda: ndimage.gaussian_filter(fundus_photograph(), (10, 10, 0))),
        ("dark", lambda: fundus_photograph() * 0.12),
        ("overexposed", lambda: np.clip(fundus_photograph() * 3, 0, 1)),
    ],
)
def test_what_is_not_a_usable_fundus_photograph_grades_poor(name, make):
    image = np.asarray(make(), dtype=np.float32)
    score, grade, weakest = quality.grade_quality(quality.photograph_checks(image, estimate_fov(image)))
    assert grade == "poor", (name, score, weakest)


def test_fundus_photographs_and_their_vessel_trees_grade_good():
    image = fundus_photograph()
    fov = estimate_fov(image)
    assert quality.grade_quality(quality.photograph_checks(image, fov))[1] == "good"
    rows, columns = np.mgrid[0:200, 0:200]
    tree = ((np.abs(rows - 100) < 5) | (np.abs(columns - rows) < 4)) & (rows > 20)
    everywhere = np.ones((200, 200), dtype=bool)
    assert quality.grade_quality(quality.map_checks(tree, everywhere))[0] >= 0.7
    scattered = np.zeros((200, 200), dtype=bool)
    scattered[::6, ::6] = True
    assert quality.grade_quality(quality.map_checks(scattered, everywhere))[1] == "poor"


def grey(image):
    """A monochrome picture (H, W) as RGB (H, W, 3), as a red-free photograph is often saved."""
    return np.repeat(np.asarray(image, dtype=np.float32)[..., None], 3, axis=-1)


@pytest.mark.parametrize(
    "name, make, expected",
    [
        ("red-free", lambda: grey(fundus_photograph()[..., 1]), "good"),
        ("red-free and blurred", lambda: grey(ndimage.gaussian_filter(fundus_photograph()[..., 1], 10)), "poor"),
        ("a grey portrait", lambda: grey(skimage.data.astronaut().mean(axis=-1) / 255.0), "poor"),
        ("a grey photograph", lambda: grey(skimage.data.camera() / 255.0), "poor"),
    ],
)
def test_a_monochrome_photograph_is_judged_without_the_colour_check(name, make, expected):
    image = make()
    checks = quality.photograph_checks(image, estimate_fov(image))
    assert "redness" not in checks
    assert quality.grade_quality(checks)[1] == expected, (name, checks)


def test_cluster_flags_are_checked():
    with pytest.raises(ValueError, match="go with --images"):
        predict.main(predict.get_args(["--cluster", "local:2"]))
    with pytest.raises(ValueError, match="--min-quality"):
        predict.main(predict.get_args(["--images", "x.png", "--min-quality", "2"]))
    # A mistyped address is one line before any work, not Dask's error midway.
    for address in ("badaddress", "tcp://scheduler", "local:0", "local:two"):
        with pytest.raises(ValueError, match="--cluster"):
            predict.main(predict.get_args(["--images", "x.png", "--cluster", address]))
    for address in ("local:2", "tcp://scheduler:8786", "scheduler:8786", "tls://10.0.0.1:8786"):
        cluster.check_address(address)


def test_photographs_are_segmented_under_jax_without_tensorflow(tmp_path, weights_file):
    """Under JAX (on a GPU machine, or a CPU) nothing may import TensorFlow: here it is made
    unimportable. JAX is not in requirements.txt, so the test skips where it is not installed."""
    pytest.importorskip("jax", reason="JAX is not installed (pip install jax) on this machine")
    folder = write_photographs(tmp_path / "photos", 2)
    code = (
        "import sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'tensorflow': raise ImportError('no TensorFlow here')\n"
        "sys.meta_path.insert(0, Refuse())\n"
        f"sys.path.insert(0, {str(PROJECT_DIR)!r})\n"
        "import predict\n"
        "sys.exit(predict.main(predict.get_args(sys.argv[1:])))\n"
    )
    flags = ["--images", folder, "--weights", weights_file, "--no-tta", "--no-clinical", "--no-figures"]
    flags += ["--fov-diameters", "64", "--quiet", "--output-dir", tmp_path / "out"]
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, flags)],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, KERAS_BACKEND="jax"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list((tmp_path / "out" / "random_fov64" / "photos").glob("*_prob.npy"))) == 2


def test_solidity_agrees_with_scikit_image():
    from skimage.measure import regionprops

    rows, columns = np.mgrid[0:300, 0:320]
    disc = np.hypot(rows - 150, columns - 160) < 120
    notched = disc & ~((np.abs(rows - 150) < 40) & (columns > 200))
    crescent = disc & ~(np.hypot(rows - 150, columns - 220) < 100)
    for region in (disc, notched, crescent):
        assert abs(quality.solidity(region) - regionprops(region.astype(np.uint8))[0].solidity) < 0.005
    line = np.zeros((20, 20), dtype=bool)
    np.fill_diagonal(line, True)
    assert quality.solidity(line) == 1.0


def test_tta_flips_in_one_call_give_the_maps_of_four_calls(tmp_path, weights_file):
    from vesselseg.cohort.forward import CompiledForward
    from vesselseg.cohort.pipeline import segment_stream
    from vesselseg.cohort.work import Options
    from vesselseg.training import devices
    from vesselseg.unet import build_unet

    folder = write_photographs(tmp_path / "photos", 3)
    model = build_unet("scratch")
    model.load_weights(weights_file)
    networks = {"vessels": (CompiledForward(model), "rgb255")}
    options = Options(tta=True, figures=False, fov_diameters=(96,))
    paths = sorted(folder.glob("*.png"))
    for batch_size in (4, 1):
        (tmp_path / str(batch_size)).mkdir()
        segment_stream(paths, networks, options, tmp_path / str(batch_size), lambda record: None, batch_size)
    for path in paths:
        np.testing.assert_allclose(
            np.load(tmp_path / "4" / f"{path.stem}_prob.npy"),
            np.load(tmp_path / "1" / f"{path.stem}_prob.npy"),
            atol=1e-6,
        )
    # On a CPU, --images batches one photograph's views: its four flips with TTA, else its one input.
    if not devices.accelerator_present():
        assert (predict.images_batch_size(tta=True), predict.images_batch_size(tta=False)) == (4, 1)


def test_several_widths_combine_the_artery_vein_maps_as_the_agreement_command_does():
    from vesselseg import artery_vein
    from vesselseg.cohort.work import Photograph, Request, photograph_maps

    fov = np.zeros((32, 48), dtype=bool)
    fov[4:28, 6:42] = True
    photograph = Photograph(Path("eye.png"), np.zeros((32, 48, 3)), fov, "mask", None, {}, [])
    rng = np.random.default_rng(0)
    av_maps = [rng.random((32, 48, 3)).astype(np.float32) for _ in range(2)]
    vessel_maps = [rng.random((32, 48, 1)).astype(np.float32) for _ in range(2)]
    for key, maps in (("vessels", vessel_maps), ("artery_vein", av_maps)):
        photograph.requests += [Request(key, 1.0, None) for _ in maps]
    maps = photograph_maps(photograph, vessel_maps + av_maps)
    expected = np.where(fov[..., None], artery_vein.combine_scales(av_maps), 0)
    np.testing.assert_allclose(maps["artery_vein"], expected, atol=1e-6)
    # The artery and vein outputs are averaged; the vessel output is the first width's alone.
    assert not np.allclose(maps["artery_vein"][fov][:, 2], np.mean(av_maps, axis=0)[fov][:, 2])
    np.testing.assert_allclose(maps["vessels"], np.where(fov, np.mean(vessel_maps, axis=0)[..., 0], 0), atol=1e-6)
