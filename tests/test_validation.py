"""The validation split of the training images that settings are chosen on."""

import csv
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest
from test_training import SMOKE, run_script

from conftest import PROJECT_DIR, write_synthetic_drive
from metrics import pooled_roc_auc
from tools import score_validation_run
from vesselseg.training import validation


def fake_split(count):
    images = np.arange(count, dtype=np.float32).reshape(count, 1, 1, 1) * np.ones((count, 4, 4, 3), np.float32)
    return types.SimpleNamespace(
        ids=list(range(21, 21 + count)),
        images=images,
        manual1=np.zeros((count, 4, 4), bool),
        masks=np.ones((count, 4, 4), bool),
    )


def test_the_last_images_are_held_out():
    images, masks, fovs, held_out = validation.hold_out(fake_split(20), 4)
    assert len(images) == len(masks) == len(fovs) == 16 and images[-1, 0, 0, 0] == 15
    assert held_out["ids"] == [37, 38, 39, 40] and held_out["images"][0, 0, 0, 0] == 16
    assert held_out["masks"].shape == (4, 4, 4)
    images, masks, fovs, held_out = validation.hold_out(fake_split(20), 0)
    assert len(images) == len(fovs) == 20 and held_out is None
    for count in (-1, 20):
        with pytest.raises(ValueError, match="--validation-images must be between 0 and 19"):
            validation.hold_out(fake_split(20), count)


def test_pooled_auc_scores_fov_pixels_only():
    truth = np.array([[[1, 0, 1, 0]]], dtype=bool)
    fov = np.array([[[True, True, True, False]]])
    # The pixel outside the FOV would spoil the ranking if it were counted.
    probabilities = np.array([[[0.9, 0.2, 0.8, 0.95]]], dtype=np.float32)
    assert pooled_roc_auc(probabilities, truth, fov) == 1.0


def test_a_run_with_a_validation_split_logs_val_auc_every_epoch(tmp_path):
    data_dir = write_synthetic_drive(tmp_path / "DRIVE", train_ids=(21, 22, 23, 24))
    run_dir = tmp_path / "run"
    result = run_script("baseline_aug.py", data_dir, run_dir, "--epochs", "2", "--validation-images", "1", *SMOKE)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((run_dir / "config.json").read_text())["validation_images"] == 1
    with open(run_dir / "history.csv") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 2 and all(0.0 <= float(row["val_auc"]) <= 1.0 for row in rows)
    assert (run_dir / "train.log").read_text().count("val_auc=") == 2

    # The script scores the final weights; the first setting (float32, --no-tta) is exactly the
    # last epoch's val_auc, and bfloat16 stays close to it.
    scored = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "tools" / "score_validation_run.py"), "--run", str(run_dir)],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert scored.returncode == 0, scored.stderr[-3000:]
    lines = {
        line.rsplit(maxsplit=2)[0].strip(): float(line.rsplit(maxsplit=2)[1])
        for line in scored.stdout.splitlines()
        if line.startswith("  ")
    }
    assert set(lines) == set(validation.INFERENCE_SETTINGS)
    assert lines["--no-tta --precision float32"] == pytest.approx(float(rows[-1]["val_auc"]), abs=1e-5)
    assert lines["--no-tta --precision bfloat16"] == pytest.approx(lines["--no-tta --precision float32"], abs=0.05)

    refused = run_script("baseline_aug.py", data_dir, tmp_path / "other", "--validation-images", "4", *SMOKE)
    assert refused.returncode != 0 and "between 0 and 3" in refused.stderr
    assert not (tmp_path / "other").exists()


def test_scoring_a_run_without_held_out_images_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"validation_images": 0}))
    with pytest.raises(ValueError, match="no held-out images"):
        score_validation_run.main(score_validation_run.get_args(["--run", str(tmp_path)]))


def write_validation_run(run_dir, aucs, validation_images=4):
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"validation_images": validation_images}))
    rows = ["epoch,loss,val_auc"] + [f"{epoch},0.3,{auc}" for epoch, auc in enumerate(aucs)]
    (run_dir / "history.csv").write_text("\n".join(rows) + "\n")


def test_compare_runs_pairs_epochs_and_measures_the_gap(tmp_path):
    from tools import compare_runs

    write_validation_run(tmp_path / "float32", [0.90, 0.95, 0.96])
    write_validation_run(tmp_path / "bfloat16", [0.9005, 0.9480])
    first, second = (compare_runs.validation_curve(tmp_path / name) for name in ("float32", "bfloat16"))
    assert first == {1: 0.90, 2: 0.95, 3: 0.96}
    epochs, differences, own_changes = compare_runs.compare_curves(first, second)
    np.testing.assert_array_equal(epochs, [1, 2])
    np.testing.assert_allclose(differences, [0.0005, -0.002])
    np.testing.assert_allclose(own_changes, [0.05])
    write_validation_run(tmp_path / "all_images", [0.9], validation_images=0)
    with pytest.raises(ValueError, match="without --validation-images"):
        compare_runs.validation_curve(tmp_path / "all_images")
    result = subprocess.run(
        [
            sys.executable,
            str(PROJECT_DIR / "tools" / "compare_runs.py"),
            str(tmp_path / "float32"),
            str(tmp_path / "bfloat16"),
            "--figure",
            str(tmp_path / "curves.png"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "1 of 2 common epochs within 0.001" in result.stdout and (tmp_path / "curves.png").is_file()
