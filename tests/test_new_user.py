"""What a new user hit: bad locations and flags, start-up noise, the results table."""

import json
import os
import re
import subprocess
import sys
import tomllib

import numpy as np
import pytest
from PIL import Image

import predict
from conftest import PROJECT_DIR, write_synthetic_drive
from vesselseg import __version__
from vesselseg import results_table as report
from vesselseg.data.image_files import list_images
from vesselseg.figures import FIGURE_MIN_WIDTH


def run_predict(*flags, env=None):
    return subprocess.run(
        [sys.executable, str(PROJECT_DIR / "predict.py"), *map(str, flags)],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, **(env or {})),
    )


def test_a_missing_drive_dir_is_one_line_that_names_it(tmp_path):
    result = run_predict("--output-dir", tmp_path / "out", env={"DRIVE_DIR": str(tmp_path / "nonexistent")})
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"error: DRIVE_DIR {tmp_path / 'nonexistent'} holds no DRIVE "
        f"database (expected training/images and test/images in it or in "
        f"{tmp_path / 'nonexistent' / 'DRIVE'})."
    ]
    assert not (tmp_path / "out").exists()


def test_start_up_prints_no_cuda_noise():
    code = (
        "from vesselseg import quiet_startup; import keras, numpy; from vesselseg.unet import build_unet; "
        "build_unet('scratch').predict(numpy.zeros((1, 32, 32, 3)), verbose=0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        timeout=300,
        env={key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "cuInit" not in result.stderr and "cuda" not in result.stderr.lower()


def test_threshold_must_lie_between_zero_and_one(tmp_path, weights_file):
    for threshold in ("2", "0", "1"):
        with pytest.raises(ValueError, match="--threshold must lie strictly between 0 and 1"):
            predict.main(
                predict.get_args(
                    ["--weights", str(weights_file), "--threshold", threshold, "--output-dir", str(tmp_path)]
                )
            )


def test_encoder_that_contradicts_the_config_is_refused(tmp_path, weights_file):
    shipped = tmp_path / "shipped.weights.h5"
    shipped.write_bytes(weights_file.read_bytes())
    (tmp_path / "shipped.config.json").write_text(json.dumps({"encoder": "scratch", "dropout": 0.1}))
    with pytest.raises(ValueError, match="--encoder vgg16 contradicts shipped's config, which says scratch"):
        predict.main(predict.get_args(["--weights", str(shipped), "--encoder", "vgg16", "--output-dir", str(tmp_path)]))


def test_truncated_weights_are_named_as_such_and_mismatches_print_one_line(tmp_path, weights_file):
    truncated = tmp_path / "truncated.weights.h5"
    truncated.write_bytes(weights_file.read_bytes()[: weights_file.stat().st_size // 3])
    result = run_predict("--weights", truncated, "--output-dir", tmp_path / "out")
    assert result.returncode != 0 and "is unreadable or truncated" in result.stderr
    result = run_predict("--weights", weights_file, "--encoder", "vgg16", "--output-dir", tmp_path / "out")
    assert result.returncode != 0 and "does not hold weights of the vgg16 U-Net" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr[:3000]


def test_a_threshold_other_than_half_is_named_in_the_results_table(tmp_path, weights_file):
    data_dir = write_synthetic_drive(tmp_path / "DRIVE", height=64, width=72, test_ids=(1, 2))
    args = [
        "--data-dir",
        str(data_dir),
        "--weights",
        str(weights_file),
        "--output-dir",
        str(tmp_path / "out"),
        "--no-tta",
    ]
    assert predict.main(predict.get_args([*args, "--threshold", "0.3"])) == 0
    table = (tmp_path / "out" / "results.md").read_text()
    assert "| random (threshold 0.3) |" in table and "at threshold 0.3 against 1st_manual" in table


def test_shipped_blog_models_say_how_to_evaluate_them(tmp_path):
    (tmp_path / "unet_no_aug").mkdir()
    (tmp_path / "unet_no_aug" / "model.weights.h5").write_bytes(b"")
    assert "python predict.py --weights weights/unet_no_aug/model.weights.h5" in report.not_run_note(
        "baseline_no_aug", tmp_path
    )
    assert report.not_run_note("baseline_aug", tmp_path) == report.NOT_RUN["baseline_aug"]
    assert "shipped, not evaluated yet" in report.results_markdown([])  # this checkout ships unet_aug and unet_no_aug


# Every command a user or maintainer runs: the root's scripts, and each file of tools/ and bench/.
COMMANDS = ["predict.py", "measure.py", "baseline_aug.py", "baseline_no_aug.py", "baseline_pretrained.py"] + sorted(
    str(path.relative_to(PROJECT_DIR))
    for folder in ("tools", "bench")
    for path in (PROJECT_DIR / folder).glob("*.py")
    if path.name != "__init__.py"
)


@pytest.mark.parametrize("script", COMMANDS)
def test_help_has_no_default_none(script):
    result = subprocess.run(
        [sys.executable, str(PROJECT_DIR / script), "--help"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(default: None)" not in result.stdout and "usage:" in result.stdout


@pytest.mark.parametrize("script", ["predict.py", "measure.py", "baseline_aug.py"])
def test_the_commands_say_their_version(script):
    result = subprocess.run(
        [sys.executable, str(PROJECT_DIR / script), "--version"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and result.stdout.strip() == f"{script} {__version__} (vesselseg)"


def test_the_version_is_the_one_of_pyproject_and_of_the_changelog_s_newest_entry():
    with open(PROJECT_DIR / "pyproject.toml", "rb") as file:
        assert tomllib.load(file)["project"]["version"] == __version__
    newest = re.search(r"^## (\S+) ", (PROJECT_DIR / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert newest.group(1) == __version__


def test_the_overlay_has_a_key_under_the_photograph(tmp_path, weights_file):
    rng = np.random.default_rng(0)
    from PIL import Image

    from conftest import synthetic_sample

    image, _, _ = synthetic_sample(rng, 96, 96)
    Image.fromarray(image).save(tmp_path / "eye.png")
    assert (
        predict.main(
            predict.get_args(
                [
                    "--images",
                    str(tmp_path / "eye.png"),
                    "--weights",
                    str(weights_file),
                    "--output-dir",
                    str(tmp_path / "out"),
                    "--no-tta",
                ]
            )
        )
        == 0
    )
    overlay = np.asarray(Image.open(tmp_path / "out" / "random" / tmp_path.name / "eye_overlay.png"))
    # The 96-px photograph is enlarged so that the key's line under it fits: its text runs far past
    # the 96 pixels that the photograph alone would give.
    assert overlay.shape[1] == FIGURE_MIN_WIDTH and overlay.shape[0] > FIGURE_MIN_WIDTH
    text_columns = np.nonzero((overlay[FIGURE_MIN_WIDTH:] < 100).all(axis=-1).any(axis=0))[0]
    assert text_columns.max() > 200


def test_the_training_column_names_what_is_not_the_blogs():
    facts = {
        "train_seconds": 5400,
        "hardware": "CPU",
        "backend": "tensorflow",
        "epochs": 16,
        "lr_drop_epochs": [13],
        "precision": "bfloat16",
        "normalisation": "fov_standardise",
        "photometric": "strong",
        "init_weights": "weights/unet_aug_lr_drop/model.weights.h5",
    }
    described = report.describe_training(facts)
    assert described.startswith("fine-tuned from unet_aug_lr_drop; fov_standardise input, strong photometric")
    assert "trained in bfloat16" in described and "learning rate /10 after epoch 13" in described


def test_photographs_in_subfolders_are_named_not_silently_left(tmp_path, capsys):
    for name in ("left", "right"):
        (tmp_path / "cohort" / name).mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "cohort" / name / "eye.png")
    with pytest.raises(FileNotFoundError, match=r"2 of them hold photographs \(left, right\): give each as --images"):
        list_images(tmp_path / "cohort")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "cohort" / "top.png")
    args = predict.get_args(["--images", str(tmp_path / "cohort")])
    assert predict.photograph_files(args) == [tmp_path / "cohort" / "top.png"]
    assert "2 subfolder(s) of" in capsys.readouterr().out
