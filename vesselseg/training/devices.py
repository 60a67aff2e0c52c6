"""Which hardware a run is on, and how --data-parallel spreads it over several devices.

from vesselseg.training.devices import hardware_description, distribution_scope
hardware_description()              # "1 x NVIDIA H200", or "AMD EPYC (2 CPUs)"
with distribution_scope(True):      # build and compile the model in here
    ...
"""

import contextlib
import os
import platform
from pathlib import Path

import keras


def accelerator_names():
    """Names of the GPUs that the active Keras backend sees (empty on a CPU-only machine)."""
    if keras.backend.backend() == "jax":
        import jax

        return [device.device_kind for device in jax.devices() if device.platform == "gpu"]
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return [
            tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
            for gpu in tf.config.list_physical_devices("GPU")
        ]
    return []


def accelerator_present():
    """True when the active Keras backend sees a GPU."""
    return bool(accelerator_names())


def processor_name():
    """The CPU model from /proc/cpuinfo where there is one, else what platform knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def hardware_description():
    """'1 x NVIDIA H200' on a GPU machine, 'AMD EPYC (2 CPUs)' otherwise."""
    gpus = accelerator_names()
    if gpus:
        return f"{len(gpus)} x {gpus[0]}"
    return f"{processor_name()} ({os.cpu_count()} CPUs)"


def native_bfloat16():
    """True on a GPU, or on a CPU whose flags show bfloat16 arithmetic (AVX-512 BF16 or AMX).

    Without them bfloat16 is emulated, and several times slower than float32 (docs/performance.md).
    """
    if accelerator_present():
        return True
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return False
    return bool({"avx512_bf16", "amx_bf16"} & set(cpuinfo.read_text().split()))


def tensorflow_devices():
    """Names of TensorFlow's logical GPUs, or of its logical CPUs where there is no GPU."""
    import tensorflow as tf

    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return [device.name for device in devices]


def replica_count(data_parallel):
    """How many devices a --data-parallel run splits each batch over (1 without it)."""
    if not data_parallel:
        return 1
    if keras.backend.backend() == "jax":
        return len(keras.distribution.list_devices())
    if keras.backend.backend() == "tensorflow":
        return len(tensorflow_devices())
    raise ValueError(f"--data-parallel supports the jax and tensorflow backends, not {keras.backend.backend()}.")


def distribution_scope(data_parallel):
    """The context in which the model is built and compiled: with --data-parallel, one replica
    per visible device (keras.distribution under JAX, tf.distribute under TensorFlow, where
    Keras' own distribution API is not available)."""
    if not data_parallel:
        return contextlib.nullcontext()
    if keras.backend.backend() == "jax":
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=keras.distribution.list_devices()))
        return contextlib.nullcontext()
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(tensorflow_devices()).scope()
