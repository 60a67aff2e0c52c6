"""tools/ship_weights.py and the provenance that predict.py and the results table read from it."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

import predict
from conftest import PROJECT_DIR, write_synthetic_drive
from tools import ship_weights
from vesselseg import results_table as report
from vesselseg.training import recipe as training
from vesselseg.unet import build_unet


def test_training_facts_add_up_the_epochs_of_a_resumed_run(tmp_path):
    config = {
        "run_name": "baseline_aug",
        "encoder": "scratch",
        "dropout": 0.1,
        "backend": "tensorflow",
        "hardware": "Some CPU (2 CPUs)",
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "train.log").write_text(
        "2026-01-01 00:00:00 Starting run\n"
        "2026-01-01 00:01:00 epoch 1/3 loss=0.5 seconds=60.0\n"
        "2026-01-01 00:02:00 Resuming run after epoch 1.\n"
        "2026-01-01 00:03:00 epoch 2/3 loss=0.4 seconds=61.5\n"
        "2026-01-01 00:04:00 epoch 3/3 loss=0.3 seconds=58.5\n"
    )
    facts = report.training_facts(tmp_path / "config.json", tmp_path / "train.log")
    assert facts["train_seconds"] == 180.0 and facts["hardware"] == "Some CPU (2 CPUs)"
    assert report.describe_training(facts) == "3 min, Some CPU (2 CPUs), tensorflow"
    scheduled = dict(facts, epochs=125, lr_drop_epochs=[100])
    assert report.describe_training(scheduled) == (
        "125 epochs, learning rate /10 after epoch 100; 3 min, Some CPU (2 CPUs), tensorflow"
    )
    assert report.describe_training(dict(facts, validation_images=4)) == (
        "16 of the 20 training images (4 held out); 3 min, Some CPU (2 CPUs), tensorflow"
    )


def test_readme_table_is_replaced_between_its_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.README_START}\nold table\n{report.README_END}\noutro\n")
    report.update_readme(readme, "| new |\n")
    assert readme.read_text() == f"intro\n{report.README_START}\n| new |\n{report.README_END}\noutro\n"
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="markers"):
        report.update_readme(readme, "| new |\n")


def test_results_table_lists_the_published_references(tmp_path):
    table = report.results_markdown([])
    for expected in ("0.9820", "0.9806", "0.9811", "orobix/retina-unet", "0.9790", "second human observer"):
        assert expected in table


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A one-epoch training run on a small synthetic DRIVE, and that DRIVE."""
    root = tmp_path_factory.mktemp("ship")
    data_dir = write_synthetic_drive(root / "DRIVE", height=64, width=80)
    run_dir = root / "run"
    command = [
        sys.executable,
        str(PROJECT_DIR / "baseline_aug.py"),
        "--data-dir",
        str(data_dir),
        "--output-dir",
        str(run_dir),
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--batch-size",
        "8",
        "--crop",
        "32",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir, data_dir


def test_shipped_copy_is_float16_and_predict_reads_its_provenance(tmp_path, finished_run):
    run_dir, data_dir = finished_run
    weights_dir = tmp_path / "weights"
    ship_weights.ship(
        ship_weights.get_args(
            ["--run", str(run_dir), "--name", "demo", "--weights-dir", str(weights_dir), "--data-dir", str(data_dir)]
        )
    )
    shipped = weights_dir / "demo" / "model.weights.h5"
    with h5py.File(shipped) as file:
        dtypes = set()
        file.visititems(lambda name, item: dtypes.add(item.dtype) if isinstance(item, h5py.Dataset) else None)
    # The 1x1 output convolution stays float32 (it is only 33 numbers); every other weight is float16.
    assert np.dtype("float16") in dtypes and dtypes <= {np.dtype("float16"), np.dtype("float32")}
    original, half = build_unet("scratch"), build_unet("scratch")
    original.load_weights(run_dir / training.FINAL_WEIGHTS)
    half.load_weights(shipped)
    for full_weights, half_weights in zip(original.get_weights(), half.get_weights()):
        np.testing.assert_allclose(half_weights, full_weights, rtol=1e-3, atol=1e-4)
    provenance = json.loads((weights_dir / "demo" / "provenance.json").read_text())
    assert provenance["stored_as"] == "float16" and provenance["epochs"] == 1
    assert abs(provenance["auc_vs_1st_manual_float32"] - provenance["auc_vs_1st_manual_float16"]) < 0.0005
    for name in ("config.json", "history.csv", "train.log"):
        assert (weights_dir / "demo" / name).is_file()

    with pytest.raises(FileExistsError, match="--overwrite"):
        ship_weights.ship(
            ship_weights.get_args(
                [
                    "--run",
                    str(run_dir),
                    "--name",
                    "demo",
                    "--weights-dir",
                    str(weights_dir),
                    "--data-dir",
                    str(data_dir),
                ]
            )
        )

    output = tmp_path / "out"
    assert (
        predict.main(
            predict.get_args(["--data-dir", str(data_dir), "--weights", str(shipped), "--output-dir", str(output)])
        )
        == 0
    )
    # predict.py averages the flips by default and says so in the output's name.
    metrics = json.loads((output / "demo_tta" / "test" / "metrics.json").read_text())
    assert metrics["training"]["run_name"] == "baseline_aug" and metrics["training"]["train_seconds"] > 0
    assert metrics["tta"] is True and "| demo_tta (TTA) | " in (output / "results.md").read_text()


def test_unfinished_runs_are_not_shipped(tmp_path, finished_run):
    run_dir, data_dir = finished_run
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    config = json.loads((run_dir / "config.json").read_text())
    (unfinished / "config.json").write_text(json.dumps(dict(config, epochs=100)))
    (unfinished / "checkpoint.json").write_text(json.dumps({"epoch": 1}))
    with pytest.raises(ValueError, match="finished 1 of its 100 epochs"):
        ship_weights.finished_run(unfinished)


def test_average_weights_takes_each_models_share():
    from tools import average_weights

    first = [np.zeros((2, 3), np.float32), np.full(4, 2.0, np.float32)]
    second = [np.ones((2, 3), np.float32), np.full(4, 6.0, np.float32)]
    averaged = average_weights.average(first, second, 0.25)
    np.testing.assert_allclose(averaged[0], 0.25)
    np.testing.assert_allclose(averaged[1], 3.0)
    assert [array.dtype for array in averaged] == [np.float32, np.float32]
    with pytest.raises(ValueError, match="differ in number or shape"):
        average_weights.average(first, [second[0], np.ones(5, np.float32)], 0.5)
    with pytest.raises(SystemExit):
        average_weights.get_args(["--weights", "a", "b", "--share", "1", "--output-dir", "out"])


def test_average_weights_refuses_models_trained_on_other_inputs(tmp_path):
    from tools import average_weights
    from vesselseg.paths import shipped_weights

    args = average_weights.get_args(
        ["--weights", str(shipped_weights("unet_aug")), str(shipped_weights("unet_camera_scratch"))]
        + ["--share", "0.5", "--output-dir", str(tmp_path / "averaged")]
    )
    with pytest.raises(ValueError, match="differ in normalisation"):
        average_weights.main(args)
    assert not (tmp_path / "averaged").exists()


@pytest.mark.parametrize("name", ["unet_averaged", "unet_averaged60"])
def test_the_shipped_averaged_model_is_the_average_of_its_sources(tmp_path, name):
    """weights/<name> is what tools/average_weights.py makes of the two models its provenance
    names, at its share, to float16 storage precision."""
    from tools import average_weights
    from vesselseg.inference import segment
    from vesselseg.paths import PROJECT_DIR as ROOT
    from vesselseg.paths import shipped_weights

    provenance = json.loads(shipped_weights(name).with_name("provenance.json").read_text())
    sources = provenance["averaged_from"]
    out_dir = tmp_path / "averaged"
    average_weights.main(
        average_weights.get_args(
            ["--weights", *[str(ROOT / source["weights"]) for source in sources]]
            + ["--share", str(sources[1]["share"]), "--output-dir", str(out_dir)]
        )
    )
    config = json.loads((out_dir / "config.json").read_text())
    assert [source["share"] for source in config["averaged_from"]] == [source["share"] for source in sources]
    made = segment.load_model(out_dir / "model.weights.h5").get_weights()
    shipped = segment.load_model(shipped_weights(name)).get_weights()
    for ours, theirs in zip(made, shipped):
        np.testing.assert_array_equal(ours.astype(np.float16), theirs.astype(np.float16))
