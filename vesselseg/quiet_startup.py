"""Imported first by every script: starts TensorFlow without its start-up noise.

On a machine without a GPU, TensorFlow's C++ start-up prints lines such as "failed call to
cuInit: CUDA error" and "Could not find cuda drivers", before its logging honours
TF_CPP_MIN_LOG_LEVEL; users read them as failures. This module imports TensorFlow and lists its
devices with the standard error stream captured, then passes on every line except those
(START_UP_NOISE), so real warnings and errors still show. Under another Keras backend it does
nothing.
"""

import os
import re
import sys
import tempfile

# Lines TensorFlow prints while it starts on a CPU-only machine, none of them a problem.
START_UP_NOISE = re.compile(
    r"cudart_stub\.cc|cuda_platform\.cc|failed call to cuInit|absl::InitializeLog|"
    r"Unable to register cu(DNN|FFT|BLAS) factory|computation_placer\.cc|TF-TRT Warning|"
    r"oneDNN custom operations are on|This TensorFlow binary is optimized to use available CPU|"
    r"rebuild TensorFlow with the appropriate compiler flags|cuda_executor\.cc|gpu_device\.cc.*Skipping registering"
)


def start_tensorflow_quietly():
    """Import TensorFlow and find its devices with stderr captured; re-print what is not noise."""
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow" or "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow

            tensorflow.config.list_physical_devices()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        kept = [
            line
            for line in capture.read().decode(errors="replace").splitlines(keepends=True)
            if not START_UP_NOISE.search(line)
        ]
    sys.stderr.write("".join(kept))


start_tensorflow_quietly()
