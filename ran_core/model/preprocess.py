"""The paper's CIFAR input pipeline as one Keras layer, so it runs inside the compiled step.

Training: subtract the per-pixel mean, pad 4 pixels with zeros, take a random 32x32 crop and
flip horizontally at random. Inference: subtract the mean only. Batched gathers, no per-image
Python loop, on every backend.
"""

import keras
import numpy as np
from keras import layers, ops


@keras.saving.register_keras_serializable(package="ran_core")
class Preprocess(layers.Layer):
    """uint8 images -> (x - per-pixel mean) / 255, with pad-crop-flip augmentation in training."""

    def __init__(self, pixel_mean, pad=4, flip=True, augment=True, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.pixel_mean_init = np.asarray(pixel_mean, dtype="float32")
        self.pad, self.flip, self.augment, self.seed = int(pad), bool(flip), bool(augment), int(seed)
        self.rng = keras.random.SeedGenerator(self.seed)

    def build(self, input_shape):
        self.pixel_mean = self.add_weight(
            shape=self.pixel_mean_init.shape,
            trainable=False,
            dtype="float32",
            initializer=keras.initializers.Constant(self.pixel_mean_init),
            name="pixel_mean",
        )

    def call(self, images, training=None):
        x = (ops.cast(images, "float32") - self.pixel_mean) / 255.0
        if training and self.augment:
            x = self._pad_crop_flip(x)
        return ops.cast(x, self.compute_dtype)

    def _pad_crop_flip(self, x):
        batch, height, width = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2]
        p = self.pad
        if p:
            # Zeros after mean subtraction, so the border is the mean image (a choice: the paper only
            # says zero padding; common ResNet CIFAR pipelines normalise first, as here).
            x = ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]])
            offsets = keras.random.randint((2, batch), 0, 2 * p + 1, seed=self.rng)
            rows = offsets[0][:, None] + ops.arange(height)[None, :]
            cols = offsets[1][:, None] + ops.arange(width)[None, :]
            x = ops.take_along_axis(x, rows[:, :, None, None], axis=1)
            x = ops.take_along_axis(x, cols[:, None, :, None], axis=2)
        if self.flip:
            flip = keras.random.uniform((batch, 1, 1, 1), seed=self.rng) < 0.5
            x = ops.where(flip, ops.flip(x, axis=2), x)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "pixel_mean": self.pixel_mean_init.tolist(),
            "pad": self.pad,
            "flip": self.flip,
            "augment": self.augment,
            "seed": self.seed,
        }
