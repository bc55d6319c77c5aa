"""The training recipe as Keras objects: the network behind its input pipeline, the loss, the
metrics and the paper's optimizer (Nesterov SGD, coupled L2, learning rate divided by 10 at
fractions of the budget).

Every hyperparameter the search varies without changing the network (learning rate, schedule,
momentum, weight decay) is optimizer *state*, not a constant compiled into the training step:
runs that differ only in those share one compiled step (`ran_core.training.model_cache`).
"""

import random

import keras
import numpy as np
from keras import ops

from ran_core.model.builder import DEFAULT_MASK_POOLS, build_model
from ran_core.model.initial_weights import start_from_seed
from ran_core.model.preprocess import Preprocess


@keras.saving.register_keras_serializable(package="ran_core")
def trained_label_loss(targets, logits):
    """Cross-entropy from logits against column 0 of the targets: the (possibly noisy) labels
    trained on. From logits, so a confidently wrong example keeps its full loss and gradient."""
    return keras.losses.sparse_categorical_crossentropy(targets[:, 0], logits, from_logits=True)


@keras.saving.register_keras_serializable(package="ran_core")
class ColumnAccuracy(keras.metrics.Mean):
    """Accuracy against one column of the targets: 0 = labels trained on, 1 = clean labels."""

    def __init__(self, column=0, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.column = column

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits = ops.equal(ops.cast(y_true[:, self.column], "int32"), ops.cast(ops.argmax(y_pred, axis=-1), "int32"))
        return super().update_state(ops.cast(hits, "float32"), sample_weight)

    def get_config(self):
        return {**super().get_config(), "column": self.column}


@keras.saving.register_keras_serializable(package="ran_core")
class SGDWithL2(keras.optimizers.SGD):
    """Nesterov SGD whose weight decay is an L2 term added to the gradient before momentum, as in
    Caffe and PyTorch where the paper's numbers come from (Keras' own `weight_decay` is decoupled
    from the momentum buffer, about 10x weaker at momentum 0.9), with a step schedule: the rate
    is divided by 10 once the step count exceeds each of `lr_boundaries`.

    Learning rate, boundaries, momentum and L2 live in optimizer variables (`set_hyperparameters`),
    so changing them neither retraces nor recompiles the training step.
    """

    def __init__(self, learning_rate=0.1, momentum=0.9, l2=0.0, lr_boundaries=(), nesterov=True, **kwargs):
        super().__init__(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov, **kwargs)
        self.l2, self.lr_boundaries = float(l2), tuple(int(b) for b in lr_boundaries)
        self.momentum_value = self.add_variable((), name="momentum_value")
        self.l2_value = self.add_variable((), name="l2")
        # float32 step counts are exact up to 2**24 (16.8M steps); at least one slot, padded with inf
        self.boundaries = self.add_variable((max(1, len(self.lr_boundaries)),), name="lr_boundaries")
        self.set_hyperparameters(learning_rate, momentum, l2, self.lr_boundaries)

    def set_hyperparameters(self, learning_rate, momentum, l2, lr_boundaries):
        """Sets the run's hyperparameters (the number of boundaries is fixed at construction)."""
        if len(lr_boundaries) != len(self.lr_boundaries):
            raise ValueError(
                f"This optimizer was built for {len(self.lr_boundaries)} learning-rate drops. "
                f"Received: lr_boundaries={tuple(lr_boundaries)!r}"
            )
        self.momentum, self.l2, self.lr_boundaries = float(momentum), float(l2), tuple(int(b) for b in lr_boundaries)
        self._learning_rate.assign(float(learning_rate))
        self.momentum_value.assign(self.momentum)
        self.l2_value.assign(self.l2)
        self.boundaries.assign(np.asarray(self.lr_boundaries or (np.inf,), dtype="float32"))

    def restart(self):
        """Step 0 and zero momentum: the optimizer of a run that has not taken a step."""
        self.iterations.assign(0)
        for momentum in self.momentums:
            momentum.assign(ops.zeros(momentum.shape, momentum.dtype))

    def build(self, variables):
        if self.built:
            return
        super(keras.optimizers.SGD, self).build(variables)  # not SGD's: it skips buffers at momentum 0
        self.momentums = self.add_optimizer_variables(variables, "momentum")

    def _get_current_learning_rate(self):
        step = ops.cast(self.iterations, "float32")
        drops = ops.sum(ops.cast(ops.greater(step, self.boundaries), "float32"))
        return ops.divide(self._learning_rate, ops.power(10.0, drops))

    def learning_rate_at(self, step):
        """The rate applied at `step` (0-based), read on the host from the variables the step uses."""
        drops = int(np.sum(step > ops.convert_to_numpy(self.boundaries)))
        return float(ops.convert_to_numpy(self._learning_rate)) / 10**drops

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype) + ops.cast(self.l2_value, variable.dtype) * variable
        momentum = ops.cast(self.momentum_value, variable.dtype)
        m = self.momentums[self._get_variable_index(variable)]
        self.assign(m, ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, learning_rate)))
        if self.nesterov:
            self.assign_add(variable, ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, learning_rate)))
        else:
            self.assign_add(variable, m)

    def get_config(self):
        return {**super().get_config(), "l2": self.l2, "lr_boundaries": list(self.lr_boundaries)}


def lr_boundaries(config, steps_per_epoch):
    """Step counts after which the rate drops. Keras' convention (the rate changes once the step
    exceeds a boundary) with the paper's: divide at iteration f * total, after f * total steps."""
    total = config.epochs * steps_per_epoch
    return tuple(max(0, int(round(f * total)) - 1) for f in config.lr_drops)


def set_run_hyperparameters(optimizer, config, steps_per_epoch):
    """Points a built recipe optimizer at `config`'s rate, schedule, momentum and weight decay."""
    optimizer.set_hyperparameters(
        config.learning_rate, config.momentum, config.weight_decay, lr_boundaries(config, steps_per_epoch)
    )


def build_training_model(config, num_classes, pixel_mean):
    """uint8 images -> Preprocess (mean, augmentation) -> network, its start drawn from the
    seed (`ran_core.model.initial_weights`); returns (model, network)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(config.precision)
    try:
        seed_weights(config.seed)
        network = build_model(
            config.model,
            num_classes,
            attention_type=config.attention_type,
            learning_mode=config.learning_mode,
            width=config.width,
            bn_momentum=config.bn_momentum,
            mask_pools=config.mask_pools or DEFAULT_MASK_POOLS,
            input_shape=np.shape(pixel_mean),
        )
        images = keras.Input(network.input_shape[1:], dtype="uint8", name="uint8_image")
        preprocess = Preprocess(pixel_mean, augment=config.augment, seed=config.seed, name="preprocess")
        model = keras.Model(images, network(preprocess(images)), name=f"train_{network.name}")
        start_from_seed(model, config.seed)
    finally:
        keras.config.set_dtype_policy(previous)
    return model, network


def seed_weights(seed):
    """`keras.utils.set_random_seed` (Keras, Python and NumPy global seeds, so what draws from them
    is reproducible) without `tf.random.set_seed`, which clears TensorFlow's cache of instantiated
    functions and would make a reused compiled step pay its graph optimisation again (7 s here).
    Keras draws every random number from its own seeds, never from TensorFlow's global seed."""
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)


def compile_for(model, config, steps_per_epoch):
    """Compiles `model` with the recipe's optimizer, loss and metrics for `config`."""
    optimizer = SGDWithL2(
        config.learning_rate,
        momentum=config.momentum,
        l2=config.weight_decay,
        lr_boundaries=lr_boundaries(config, steps_per_epoch),
    )
    metrics = [ColumnAccuracy(0, name="accuracy"), ColumnAccuracy(1, name="clean_accuracy")]
    model.compile(optimizer=optimizer, loss=trained_label_loss, metrics=metrics, jit_compile=default_jit_compile())


def default_jit_compile():
    """XLA everywhere except TensorFlow on CPU, where its oneDNN kernels train a paper-width
    Attention-56 1.85x faster than XLA (84.8 vs 45.8 img/s, batch 64, 2 cores; throughput.py)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    return "auto"
