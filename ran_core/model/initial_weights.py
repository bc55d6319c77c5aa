"""A run's initial weights as a function of its seed alone, drawn with NumPy.

Every kernel is He-initialised (the paper's choice: a truncated normal with variance 2 / fan-in,
as Keras' `he_normal`) from `np.random.default_rng([seed, k])`, k counting the kernels in the
model's variable order; everything else starts as the layers set it (zero biases, unit BN
scales, the data's pixel mean) and the augmentation RNG at [seed, 0]. So

- TensorFlow and JAX start a run from the same weights (Keras' own random ops differ between
  backends);
- a cached compiled model takes another seed's start in about 0.06 s, by assigning these values,
  where building the network again to draw them costs about 0.3 s of layer construction on CPU;
- JAX compiles no random op per kernel shape while a network is built (`HeNormal`): a cold
  Attention-56 build (width 1/4, CPU) took 6.3 s with Keras' `he_normal`, 0.5 s with this one.
"""

import random

import keras
import numpy as np
from keras.src.initializers.random_initializers import RandomInitializer

from ran_core.model.preprocess import Preprocess

# Keras' he_normal: a normal truncated at two standard deviations, scaled back to variance 2 / fan-in.
_TRUNCATED_STD = 0.87962566103423978


def he_normal(shape, rng):
    """A `he_normal` draw of `shape` (kernel layout: ..., fan-in channels, out channels)."""
    fan_in = int(np.prod(shape[:-1]))
    values = rng.standard_normal(shape)
    while (outside := np.abs(values) > 2.0).any():
        values[outside] = rng.standard_normal(int(outside.sum()))
    return (values * np.sqrt(2.0 / fan_in) / _TRUNCATED_STD).astype("float32")


@keras.saving.register_keras_serializable(package="ran_core")
class HeNormal(keras.initializers.Initializer):
    """Keras' `he_normal` drawn with NumPy from Python's `random` state (which
    `keras.utils.set_random_seed` seeds). ran_core's training builds then draw each kernel again
    from the run's seed alone (`start_from_seed`)."""

    def __call__(self, shape, dtype=None):
        return he_normal(tuple(shape), np.random.default_rng(random.getrandbits(64)))


def start_from_seed(model, seed, pixel_mean=None):
    """Assigns `model` (built) the seed-dependent part of a run's start: He kernels and the
    augmentation RNG; and the data's `pixel_mean` where given. Refuses a layer whose start it
    cannot draw (another random initializer or RNG), rather than leave it to Keras' backend RNG."""
    kernels = []
    for layer in model._flatten_layers(include_self=False):
        for name, initializer in vars(layer).items():
            if not isinstance(initializer, (RandomInitializer, HeNormal)):
                continue
            if name != "kernel_initializer" or not isinstance(initializer, HeNormal):
                raise ValueError(
                    f"layer {layer.path!r}: {name}={type(initializer).__name__}; ran_core draws initial "
                    "weights from the seed and knows only kernels of ran_core.initial_weights.HeNormal"
                )
            kernels.append(layer.kernel)
        if isinstance(layer, Preprocess):
            layer.seed = int(seed)
            layer.rng.state.assign(keras.ops.convert_to_tensor([seed, 0], dtype=layer.rng.state.dtype))
            if pixel_mean is not None:
                layer.pixel_mean_init = np.asarray(pixel_mean, dtype="float32")
                layer.pixel_mean.assign(layer.pixel_mean_init)
        elif layer._seed_generators:
            raise ValueError(f"layer {layer.path!r} has a random number generator ran_core cannot seed")
    order = {id(v): i for i, v in enumerate(model.trainable_variables)}
    for k, kernel in enumerate(sorted(kernels, key=lambda v: order[id(v)])):
        kernel.assign(he_normal(tuple(kernel.shape), np.random.default_rng([seed, k])))
