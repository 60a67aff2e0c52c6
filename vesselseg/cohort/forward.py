"""The network's forward pass for a stream of photographs: compiled once, batched by size.

    forward = CompiledForward(model)
    maps = forward(batch)                    # (N, H, W, C) float32 for (N, H, W, 3) float32
    shape = bucket_shape(height, width)      # the padded size a network input is batched at

Keras' model.predict builds a new data pipeline on every call, which costs as much as the
network itself on one photograph; the compiled call does not. Under TensorFlow it is a
tf.function with a shape-free signature, so that no new size traces it again; under JAX a
jax.jit of the model's stateless call, which traces once per size, and the size buckets keep
those few. Nothing here imports TensorFlow under another backend.
"""

import keras
import numpy as np

from vesselseg.unet import SIZE_MULTIPLE

# Network inputs are reflect-padded at the bottom and right to multiples of BUCKET_MULTIPLE, so
# that photographs of nearby sizes share one shape: they can be batched together, and JAX traces
# the network once per bucket rather than once per size. The U-Net itself needs SIZE_MULTIPLE.
BUCKET_MULTIPLE = 2 * SIZE_MULTIPLE


def bucket_shape(height, width, multiple=None):
    """(height, width) rounded up to multiples of `multiple` (default BUCKET_MULTIPLE): the padded
    size of a network input."""
    multiple = multiple or BUCKET_MULTIPLE
    return (-(-height // multiple) * multiple, -(-width // multiple) * multiple)


def pad_to_bucket(image, multiple=None):
    """Reflect-pad one (H, W, 3) image at the bottom and right to its bucket shape."""
    height, width = bucket_shape(*image.shape[:2], multiple)
    return np.pad(image, ((0, height - image.shape[0]), (0, width - image.shape[1]), (0, 0)), mode="reflect")


class CompiledForward:
    """model(batch, training=False) as one compiled call: numpy (N, H, W, 3) in, numpy out."""

    def __init__(self, model):
        self.model = model
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            self.function = tf.function(
                lambda batch: model(batch, training=False),
                input_signature=[tf.TensorSpec((None, None, None, 3), tf.float32)],
                autograph=False,
            )
        elif backend == "jax":
            import jax

            trainable = [variable.value for variable in model.trainable_variables]
            non_trainable = [variable.value for variable in model.non_trainable_variables]
            stateless = jax.jit(lambda t, n, batch: model.stateless_call(t, n, batch, training=False)[0])
            self.function = lambda batch: stateless(trainable, non_trainable, batch)
        else:
            self.function = lambda batch: model(batch, training=False)

    def __call__(self, batch):
        return np.asarray(self.function(np.ascontiguousarray(batch, dtype=np.float32)), dtype=np.float32)
