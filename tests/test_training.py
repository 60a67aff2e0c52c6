import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from conftest import PROJECT_DIR, real_drive_dir, write_synthetic_drive
from vesselseg.training import batches as training_batches
from vesselseg.training import recipe as training
from vesselseg.training import run_folder
from vesselseg.unet import VGG16_NOTOP_FILE, build_unet

# Small runs: they check the plumbing, not the result.
SMOKE = ["--steps-per-epoch", "2", "--batch-size", "8", "--crop", "32", "--no-jit"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Real DRIVE when present, else a synthetic tree in the DRIVE layout."""
    found = real_drive_dir()
    return found if found is not None else write_synthetic_drive(tmp_path_factory.mktemp("data") / "DRIVE")


def script_command(script, data_dir, output_dir, *flags):
    return [
        sys.executable,
        str(PROJECT_DIR / script),
        "--data-dir",
        str(data_dir),
        "--output-dir",
        str(output_dir),
        *flags,
    ]


def run_script(script, data_dir, output_dir, *flags, env=None):
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **(env or {}))
    return subprocess.run(
        script_command(script, data_dir, output_dir, *flags),
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )


def weights_load(output_dir, encoder):
    model = build_unet(encoder, vgg_weights=None)
    model.load_weights(output_dir / training.FINAL_WEIGHTS)
    return model


@pytest.mark.parametrize(
    "script, encoder, extra",
    [
        ("baseline_aug.py", "scratch", []),
        ("baseline_no_aug.py", "scratch", []),
        ("baseline_pretrained.py", "vgg16", ["--vgg-weights", "none"]),
    ],
)
def test_each_script_trains_and_writes_its_run_folder(tmp_path, data_dir, script, encoder, extra):
    result = run_script(script, data_dir, tmp_path / "run", "--epochs", "1", *SMOKE, *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "run"
    for name in ("config.json", "history.csv", "train.log", training.FINAL_WEIGHTS, run_folder.CHECKPOINT_FILE):
        assert (run_dir / name).is_file(), name
    config = json.loads((run_dir / "config.json").read_text())
    assert config["encoder"] == encoder and config["epochs"] == 1
    assert config["augmentation"] == (script != "baseline_no_aug.py")
    assert config["normalisation"] == "rgb255" and config["photometric"] == "blog"  # the faithful defaults
    assert (run_dir / "history.csv").read_text().splitlines()[0] == "epoch,loss"  # no val_loss column of NA
    # The log records paths relative to the project (the command stays as it was typed).
    logged = [line for line in (run_dir / "train.log").read_text().splitlines() if "Command:" not in line]
    assert not any(f" {PROJECT_DIR}" in line or f'"{PROJECT_DIR}' in line or f" {tmp_path}" in line for line in logged)
    assert not config["data_dir"].startswith("/")
    weights_load(run_dir, encoder)
    if encoder == "vgg16":
        assert config["vgg_weights"] is None
        assert "random weights" in (run_dir / "train.log").read_text()


def test_killed_run_resumes_at_the_next_epoch(tmp_path, data_dir):
    run_dir = tmp_path / "run"
    command = script_command("baseline_aug.py", data_dir, run_dir, "--epochs", "3", *SMOKE)
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    )
    checkpoint = run_dir / run_folder.CHECKPOINT_FILE
    deadline = time.time() + 300
    while not checkpoint.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert json.loads(checkpoint.read_text())["epoch"] == 1
    assert not (run_dir / training.FINAL_WEIGHTS).exists()

    result = run_script("baseline_aug.py", data_dir, run_dir, "--epochs", "3", *SMOKE)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Resuming" in result.stdout and "after epoch 1" in result.stdout
    epochs = [line.split(",")[0] for line in (run_dir / "history.csv").read_text().splitlines()[1:]]
    assert epochs[-2:] == ["1", "2"] and "Epoch 1/3" not in result.stdout
    assert sorted(path.name for path in run_dir.glob("checkpoint-*")) == ["checkpoint-0003.weights.h5"]

    again = run_script("baseline_aug.py", data_dir, run_dir, "--epochs", "3", *SMOKE)
    assert again.returncode == 0 and "already complete" in again.stdout

    # The resumed run is the run that never stopped: same losses, same final weights.
    unbroken_dir = tmp_path / "unbroken"
    assert run_script("baseline_aug.py", data_dir, unbroken_dir, "--epochs", "3", *SMOKE).returncode == 0

    def losses(folder):
        return [float(line.split(",")[1]) for line in (folder / "history.csv").read_text().splitlines()[1:]]

    np.testing.assert_allclose(losses(run_dir)[-2:], losses(unbroken_dir)[-2:], rtol=0, atol=1e-6)
    resumed, unbroken = weights_load(run_dir, "scratch"), weights_load(unbroken_dir, "scratch")
    for resumed_weights, unbroken_weights in zip(resumed.get_weights(), unbroken.get_weights()):
        np.testing.assert_allclose(resumed_weights, unbroken_weights, rtol=0, atol=1e-6)


def test_sigterm_saves_the_current_weights(tmp_path, data_dir):
    run_dir = tmp_path / "run"
    command = script_command("baseline_no_aug.py", data_dir, run_dir, "--epochs", "50", *SMOKE)
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    deadline = time.time() + 300
    while not (run_dir / run_folder.CHECKPOINT_FILE).exists() and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130
    assert (run_dir / training.INTERRUPTED_WEIGHTS).is_file() and "resume" in output
    model = build_unet("scratch")
    model.load_weights(run_dir / training.INTERRUPTED_WEIGHTS)


def test_other_settings_in_the_same_folder_are_refused(tmp_path):
    config = {key: 1 for key in run_folder.RECIPE_KEYS}
    run_dir = tmp_path / "run"
    assert run_folder.prepare_run_dir(run_dir, config, overwrite=False) == 0
    changed = dict(config, learning_rate=2)
    with pytest.raises(ValueError, match="learning_rate: 1 -> 2"):
        run_folder.prepare_run_dir(run_dir, changed, overwrite=False)
    assert run_folder.prepare_run_dir(run_dir, changed, overwrite=True) == 0
    assert json.loads((run_dir / "config.json").read_text())["learning_rate"] == 2


def test_a_temporary_file_of_a_killed_save_is_removed_on_resume(tmp_path):
    config = {key: 1 for key in run_folder.RECIPE_KEYS}
    run_dir = tmp_path / "run"
    run_folder.prepare_run_dir(run_dir, config, overwrite=False)
    leftover = run_dir / ".tmp-4242-checkpoint-0003.weights.h5"
    leftover.write_bytes(b"half a checkpoint")
    assert run_folder.prepare_run_dir(run_dir, config, overwrite=False) == 0
    assert not leftover.exists() and (run_dir / "config.json").is_file()


def test_a_non_finite_loss_stops_training_with_one_line():
    callback = training.StopOnNonFiniteLoss()
    callback.on_epoch_begin(2)
    callback.on_train_batch_end(0, {"loss": 0.3})
    with pytest.raises(training.NonFiniteLoss, match="the loss became nan in epoch 3, batch 5"):
        callback.on_train_batch_end(4, {"loss": float("nan")})


def test_refused_settings_leave_no_run_folder(tmp_path, data_dir):
    for flags in (["--lr", "nan"], ["--crop", "1024"]):
        result = run_script("baseline_aug.py", data_dir, tmp_path / "run", *flags)
        assert result.returncode != 0 and len(result.stderr.strip().splitlines()[-1]) < 200
        assert "--lr must be a positive number" in result.stderr or "--crop 1024 is larger" in result.stderr
        assert not (tmp_path / "run").exists()


def test_run_folders_from_before_lr_drops_still_resume(tmp_path):
    config = {key: 1 for key in run_folder.RECIPE_KEYS}
    run_dir = tmp_path / "run"
    older = {key: value for key, value in config.items() if key != "lr_drop_epochs"}
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps(older))
    assert run_folder.prepare_run_dir(run_dir, dict(config, lr_drop_epochs=[]), overwrite=False) == 0
    with pytest.raises(ValueError, match="lr_drop_epochs"):
        run_folder.prepare_run_dir(run_dir, dict(config, lr_drop_epochs=[5]), overwrite=False)


def test_learning_rate_drops_tenfold_after_each_listed_epoch():
    config = {"learning_rate": 1e-3, "lr_drop_epochs": [100, 120]}
    rates = [training.learning_rate_at(epoch, config) for epoch in (0, 99, 100, 119, 120)]
    assert np.allclose(rates, [1e-3, 1e-3, 1e-4, 1e-4, 1e-5])
    assert training.learning_rate_at(99, {"learning_rate": 1e-3, "lr_drop_epochs": []}) == 1e-3


def test_a_run_starts_from_another_runs_checkpoint_with_a_learning_rate_drop(tmp_path, data_dir):
    parent, child = tmp_path / "parent", tmp_path / "child"
    assert run_script("baseline_aug.py", data_dir, parent, "--epochs", "2", *SMOKE).returncode == 0
    result = run_script(
        "baseline_aug.py",
        data_dir,
        child,
        "--epochs",
        "3",
        "--lr-drop-epochs",
        "2",
        "--start-from",
        str(parent),
        *SMOKE,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Epoch 3/3" in result.stdout and "Epoch 1/3" not in result.stdout
    log = (child / "train.log").read_text()
    assert "Learning rate 0.0001 from epoch 3." in log and "Command: python baseline_aug.py " in log
    assert re.findall(r" epoch (\d+/\d+) loss=", log) == ["1/2", "2/2", "3/3"]
    assert [line.split(",")[0] for line in (child / "history.csv").read_text().splitlines()[1:]] == ["0", "1", "2"]
    # The optimizer went on from the parent's state: its step counter counts all three epochs.
    model = build_unet("scratch")
    model.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy")
    model.optimizer.build(model.trainable_variables)
    model.load_weights(child / json.loads((child / run_folder.CHECKPOINT_FILE).read_text())["weights"])
    assert int(model.optimizer.iterations) == 6
    assert np.isclose(float(model.optimizer.learning_rate), 1e-4)

    other = run_script(
        "baseline_aug.py",
        data_dir,
        tmp_path / "other",
        "--epochs",
        "3",
        "--seed",
        "7",
        "--start-from",
        str(parent),
        *SMOKE,
    )
    assert other.returncode != 0 and "seed differ" in other.stderr


def test_bad_flags_exit_with_a_message(tmp_path, data_dir):
    result = run_script("baseline_aug.py", data_dir, tmp_path / "run", "--crop", "50")
    assert result.returncode != 0 and "--crop must be a positive multiple of 16" in result.stderr
    result = run_script("baseline_aug.py", tmp_path / "nowhere", tmp_path / "run")
    assert result.returncode != 0 and f"--data-dir {tmp_path / 'nowhere'} holds no DRIVE" in result.stderr
    # A DRIVE_DIR that names a missing folder is an error that names it, never a fall-back to input/.
    result = subprocess.run(
        script_command("baseline_aug.py", data_dir, tmp_path / "run")[:2] + ["--output-dir", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        env=dict(os.environ, DRIVE_DIR=str(tmp_path / "gone")),
        timeout=600,
    )
    assert result.returncode != 0 and f"DRIVE_DIR {tmp_path / 'gone'} holds no DRIVE" in result.stderr
    result = run_script("baseline_no_aug.py", data_dir, tmp_path / "run", "--photometric", "strong")
    assert result.returncode != 0 and "this script does not use" in result.stderr
    result = run_script("baseline_no_aug.py", data_dir, tmp_path / "run", "--lesions", "0.5")
    assert result.returncode != 0 and "this script does not use" in result.stderr
    result = run_script("baseline_aug.py", data_dir, tmp_path / "run", "--lesions", "2")
    assert result.returncode != 0 and "--lesions must lie between 0 and 1" in result.stderr
    assert not (tmp_path / "run").exists()


def test_reinitialise_redraws_only_the_named_layers(tmp_path, data_dir):
    """--reinitialise draws the named layers afresh (Glorot kernels, zero biases) and leaves the
    others as loaded; an unknown layer, or the flag without --init-weights, is one line."""
    model = build_unet("scratch")
    for layer in model.layers:
        for variable in layer.weights:
            variable.assign(np.full(variable.shape, 0.5, dtype="float32"))
    training.reinitialise(model, ["decoder4_upsample", "decoder4_conv2"])
    for name in ("decoder4_upsample", "decoder4_conv2"):
        kernel, bias = model.get_layer(name).get_weights()
        assert not np.any(bias) and 0 < kernel.std() < 0.1 and abs(kernel.mean()) < 0.01
    assert np.all(model.get_layer("decoder4_conv1").get_weights()[0] == 0.5)
    with pytest.raises(ValueError, match="no layer 'decoder9_conv1'"):
        training.reinitialise(model, ["decoder9_conv1"])
    with pytest.raises(ValueError, match="no kernel to redraw"):
        training.reinitialise(model, ["encoder1_pool"])
    result = run_script("baseline_aug.py", data_dir, tmp_path / "run", "--reinitialise", "decoder4_conv2")
    assert result.returncode != 0 and "give --init-weights too" in result.stderr
    assert not (tmp_path / "run").exists()


def test_pretrained_without_weights_names_the_file(tmp_path, data_dir):
    # A dead proxy makes the download fail at once, whatever network the machine has.
    env = {"HOME": str(tmp_path), "HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
    result = run_script("baseline_pretrained.py", data_dir, tmp_path / "run", env=env)
    assert result.returncode != 0
    assert VGG16_NOTOP_FILE in result.stderr and "--vgg-weights" in result.stderr
    assert not (tmp_path / "run").exists()


def test_same_seed_gives_the_same_first_batch():
    rng = np.random.default_rng(0)
    images = rng.random((3, 80, 80, 3)).astype(np.float32)
    masks = (rng.random((3, 80, 80)) < 0.1).astype(np.uint8)
    config = {"seed": 5, "augmentation": True, "batch_size": 16, "crop": 64, "steps_per_epoch": 4}
    first = training_batches.CropBatches(images, masks, config)[0]
    again = training_batches.CropBatches(images, masks, config)[0]
    other = training_batches.CropBatches(images, masks, dict(config, seed=6))[0]
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], other[0])
    resumed = training_batches.CropBatches(images, masks, config, first_epoch=1)
    fresh = training_batches.CropBatches(images, masks, config)
    training_batches.FollowEpochs(fresh).on_epoch_begin(1)
    np.testing.assert_array_equal(resumed[2][0], fresh[2][0])


def test_loss_decreases_on_a_fixed_batch():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.random((4, 32, 32, 3)).astype(np.float32)
    masks = (images[..., :1] > 0.7).astype(np.float32)
    model = build_unet("scratch", dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    losses = [float(model.train_on_batch(images, masks)) for _ in range(30)]
    assert losses[-1] < 0.6 * losses[0]


# Runs a training script with two virtual CPU devices, so that --data-parallel has something
# to split the batch over: TensorFlow's logical devices, or JAX's forced host devices.
TWO_DEVICE_RUNNER = """
import os, runpy, sys
if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(sys.argv[0]))
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def jax_installed():
    return importlib.util.find_spec("jax") is not None


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_data_parallel_splits_batches_over_two_devices(tmp_path, data_dir, backend):
    if backend == "jax" and not jax_installed():
        pytest.skip("JAX is not installed (requirements.txt has TensorFlow only)")
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-c",
        TWO_DEVICE_RUNNER,
        *script_command("baseline_aug.py", data_dir, run_dir)[1:],
        "--epochs",
        "1",
        *SMOKE,
        "--data-parallel",
    ]
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND=backend)
    if backend == "jax":
        environment["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
        # Without XLA, JAX's all-reduce hangs; the script refuses that before it trains.
        refused = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600)
        assert refused.returncode != 0 and "needs XLA compilation" in refused.stderr
        command = [flag for flag in command if flag != "--no-jit"]
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((run_dir / "config.json").read_text())["data_parallel_replicas"] == 2
    assert "Data-parallel over 2 devices" in (run_dir / "train.log").read_text()
    weights_load(run_dir, "scratch")


def test_jax_backend_trains_a_script(tmp_path, data_dir):
    """The GPU machine has JAX and no TensorFlow: the same script must train there."""
    if not jax_installed():
        pytest.skip("JAX is not installed (requirements.txt has TensorFlow only)")
    # The learning-rate drop and the validation callback touch the optimizer and the model
    # between epochs, where JAX keeps its own copy of the state.
    result = run_script(
        "baseline_no_aug.py",
        data_dir,
        tmp_path / "run",
        "--epochs",
        "2",
        "--lr-drop-epochs",
        "1",
        "--validation-images",
        "1",
        *SMOKE,
        env={"KERAS_BACKEND": "jax"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["backend"] == "jax"
    log = (tmp_path / "run" / "train.log").read_text()
    assert "Learning rate 0.0001 from epoch 2." in log and log.count("val_auc=") == 2
    weights_load(tmp_path / "run", "scratch")


def test_config_names_the_hardware_and_leaves_xla_off_on_the_cpu(tmp_path):
    args = training.get_parser("test", "run").parse_args(["--data-dir", str(write_synthetic_drive(tmp_path / "D"))])
    config = training.resolve_config(args, "scratch", True, "run")
    assert config["hardware"] and config["data_parallel_replicas"] == 1
    assert config["jit"] is training.accelerator_present()
    args = training.get_parser("test", "run").parse_args(["--jit", "on", "--data-dir", config["data_dir"]])
    assert training.resolve_config(args, "scratch", True, "run")["jit"] is True


# Run in a fresh interpreter: in the test session's own process, free blocks left in the heap by
# earlier tests can serve the buffer without any mapping, and nothing is measured.
RESIDENT_CHECK = """
import os, sys
from pathlib import Path
import numpy as np
from vesselseg.training import allocator

def returned_on_free(megabytes=16):
    def resident():
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    buffer = np.ones(megabytes * 1024 * 1024 // 4, dtype=np.float32)
    before = resident()
    del buffer
    return before - resident()

assert allocator.tensorflow_default()
as_tensorflow_leaves_it = returned_on_free()
assert allocator.keep_freed_memory()
print(as_tensorflow_leaves_it, returned_on_free())
"""


def test_kept_memory_reuses_freed_buffers_instead_of_returning_them():
    from vesselseg.training import allocator

    if allocator.glibc_mallopt() is None or not Path("/proc/self/statm").is_file():
        pytest.skip("not Linux with glibc: the allocator setting does not apply")
    result = subprocess.run(
        [sys.executable, "-c", RESIDENT_CHECK], capture_output=True, text=True, cwd=PROJECT_DIR, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    as_tensorflow_leaves_it, kept = map(int, result.stdout.split())
    # As TensorFlow leaves glibc, a freed 16 MiB buffer goes back to the kernel, to be mapped
    # and faulted in again by the next step; with the project's setting the heap keeps it.
    assert as_tensorflow_leaves_it > 12 * 1024 * 1024
    assert kept < 1024 * 1024


def test_training_reapplies_the_allocator_setting_before_every_step(monkeypatch):
    calls = []
    monkeypatch.setattr(training_batches.allocator, "keep_freed_memory", lambda: calls.append(1))
    training_batches.KeepFreedMemory().on_train_batch_begin(0)
    assert calls == [1]


def test_model_fit_reads_the_same_batches_from_a_pipeline_without_autotuning():
    rng = np.random.default_rng(0)
    images = rng.random((3, 80, 80, 3)).astype(np.float32)
    masks = (rng.random((3, 80, 80)) < 0.1).astype(np.uint8)
    batches = training_batches.CropBatches(
        images, masks, {"seed": 5, "augmentation": True, "batch_size": 8, "crop": 32, "steps_per_epoch": 3}
    )
    stream = training_batches.input_stream(batches)
    if keras.backend.backend() != "tensorflow":
        assert stream is batches
        return
    # Autotuning's sleeping thread is what delayed some epochs by 30-50 s (training_batches.input_stream).
    assert stream.options().autotune.enabled is False
    training_batches.FollowEpochs(batches).on_epoch_begin(2)
    streamed = [(x.numpy(), y.numpy()) for x, y in stream]
    assert len(streamed) == 3 == int(stream.cardinality())
    for step, (x, y) in enumerate(streamed):
        expected = batches.batch(2, step)
        np.testing.assert_array_equal(x, expected[0])
        np.testing.assert_array_equal(y, expected[1])


def test_bfloat16_training_is_recorded_where_native_and_refused_elsewhere(tmp_path, data_dir):
    from vesselseg.training.devices import native_bfloat16

    result = run_script(
        "baseline_aug.py", data_dir, tmp_path / "run", "--epochs", "1", *SMOKE, "--precision", "bfloat16"
    )
    if not native_bfloat16():
        assert result.returncode != 0 and "needs native bfloat16" in result.stderr
        assert not (tmp_path / "run").exists()
        return
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["precision"] == "bfloat16"
    assert '"precision": "bfloat16"' in (tmp_path / "run" / "train.log").read_text()
    # The weights are stored as float32 whichever precision computed the steps.
    model = weights_load(tmp_path / "run", "scratch")
    assert all(weight.dtype == np.float32 for weight in model.get_weights())
