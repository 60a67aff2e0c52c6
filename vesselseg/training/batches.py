"""The batches a training run learns from, and how model.fit reads them.

CropBatches makes each batch of random crops from (seed, epoch, step) alone, so that a resumed
run sees exactly the batches it would have seen; fit_epochs feeds them to model.fit with the two
fixes that keep CPU epochs from running slow (allocator.py and input_stream below).
"""

import keras
import numpy as np

import aug_utils
from vesselseg.training import allocator
from vesselseg.training.camera_aug import CameraAugmentation
from vesselseg.training.run_folder import recipe_value


class CropBatches(keras.utils.PyDataset):
    """The training stream: batch `step` of epoch `epoch` depends only on (seed, epoch, step),
    so a resumed run sees exactly the batches it would have seen."""

    def __init__(self, images, masks, config, first_epoch=0, fovs=None):
        super().__init__()
        self.images, self.masks, self.config = images, masks, config
        self.image_means = images.reshape(len(images), -1, 3).mean(axis=1)
        self.epoch = first_epoch
        normalisation = recipe_value(config, "normalisation")
        strong = recipe_value(config, "photometric") == "strong"
        self.camera = None
        if strong or normalisation != "rgb255":
            fovs = np.ones(images.shape[:3], dtype=bool) if fovs is None else fovs
            self.camera = CameraAugmentation(images, fovs, normalisation, strong, seed=config["seed"])

    def __len__(self):
        return self.config["steps_per_epoch"]

    def batch(self, epoch, step):
        rng = np.random.default_rng([self.config["seed"], epoch, step])
        return aug_utils.sample_batch(
            self.images,
            self.masks,
            rng,
            augmentation=self.config["augmentation"],
            images_per_batch=self.config["batch_size"] // aug_utils.CROPS_PER_IMAGE,
            crop=self.config["crop"],
            image_means=self.image_means,
            zoom=(tuple(recipe_value(self.config, "zoom_range")), recipe_value(self.config, "zoom_probability")),
            camera=self.camera,
            lesions=recipe_value(self.config, "lesions"),
        )

    def __getitem__(self, step):
        return self.batch(self.epoch, step)


class FollowEpochs(keras.callbacks.Callback):
    """Tells the batches which epoch begins. Counting PyDataset.on_epoch_end calls instead is
    wrong: model.fit makes one before the first epoch, after probing two batches for their
    shapes, which shifted every epoch's batches by one and gave a resumed run other batches."""

    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.epoch = epoch


class KeepFreedMemory(keras.callbacks.Callback):
    """Re-applies allocator.keep_freed_memory() before every step, after TensorFlow's generator
    dataset has lowered glibc's thresholds; without it each step unmapped and faulted in its
    buffers again, and epochs ran up to 1.6x slower and unevenly (allocator.py)."""

    def on_train_batch_begin(self, batch, logs=None):
        allocator.keep_freed_memory()


def fit_epochs(
    model, batches, first_epoch, last_epoch, callbacks=(), verbose="auto", keep_freed_memory=True, autotuned_input=False
):
    """Train epochs first_epoch + 1 ... last_epoch of CropBatches through model.fit, as the
    training scripts and bench/bench_train.py do. keep_freed_memory=False and
    autotuned_input=True undo the two fixes of slow epochs, for bench_train's comparisons."""
    # shuffle=False: each batch is already random, and Keras would otherwise reorder an epoch's
    # batches with NumPy's global generator, whose state a resumed run does not share.
    memory = [KeepFreedMemory()] if keep_freed_memory else []
    model.fit(
        batches if autotuned_input else input_stream(batches),
        epochs=last_epoch,
        initial_epoch=first_epoch,
        callbacks=[FollowEpochs(batches), *memory, *callbacks],
        verbose=verbose,
        shuffle=False,
    )


def input_stream(batches):
    """What model.fit reads: the CropBatches themselves, or under TensorFlow the same batches in
    a tf.data pipeline that does not autotune.

    Keras turns a PyDataset into a tf.data pipeline with an autotuned prefetch. Autotuning runs a
    thread that sleeps between tuning rounds, for up to 60 s once the pipeline has run a while,
    and when model.fit drops the previous epoch's iterator at the start of an epoch, TensorFlow
    2.21 waits for that thread to wake up (seen with gdb: RootDataset::Iterator::~Iterator waiting
    on Model::OptimizeLoop). Some epochs therefore began 30-50 s late. Without autotuning there is
    no such thread; one batch of prefetch is enough, since a batch takes a tenth of a step to make.
    """
    if keras.backend.backend() != "tensorflow":
        return batches
    import tensorflow as tf

    signature = tuple(tf.TensorSpec((None, *array.shape[1:]), tf.as_dtype(array.dtype)) for array in batches[0])
    # Each batches[step] reads batches.epoch when it is made, as under Keras' own adapter, and
    # model.fit starts an epoch's iterator after FollowEpochs has set it.
    stream = tf.data.Dataset.from_generator(
        lambda: (batches[step] for step in range(len(batches))), output_signature=signature
    )
    stream = stream.apply(tf.data.experimental.assert_cardinality(len(batches))).prefetch(1)
    options = tf.data.Options()
    options.autotune.enabled = False
    return stream.with_options(options)
