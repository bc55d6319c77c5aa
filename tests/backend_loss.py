"""Training loss and gradients of one small network, or a run's start, on the current backend.

    KERAS_BACKEND=jax python tests/backend_loss.py WEIGHTS BATCH.npz OUT.npz
    KERAS_BACKEND=jax python tests/backend_loss.py start OUT.npz

The cross-backend tests (test_backends.py) run this under the other backend, because Keras'
backend is fixed per process: same weights file, same batch, loss and gradients into OUT.npz;
or the variables a training model built for RUN starts with.
"""

import sys

import keras
import numpy as np

from ran_core.model.builder import build_model
from ran_core.training.config import TrainConfig
from ran_core.training.recipe import build_training_model, trained_label_loss

NETWORK = dict(name="attention56", num_classes=10, width=1 / 16)
RUN = dict(model="attention56", width=1 / 16, seed=7)


def loss_and_gradients(model, images, labels):
    """Mean training loss (`trained_label_loss`, training-mode BN) and its gradient per variable."""
    targets = np.stack([labels, labels], axis=1)

    def loss_of(trainable, non_trainable):
        logits, _ = model.stateless_call(trainable, non_trainable, images, training=True)
        return keras.ops.mean(trained_label_loss(targets, logits))

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    if keras.backend.backend() == "jax":
        import jax

        loss, grads = jax.value_and_grad(loss_of)(trainable, non_trainable)
    else:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(trainable)
            loss = loss_of(trainable, non_trainable)
        grads = tape.gradient(loss, trainable)
    return float(loss), [keras.ops.convert_to_numpy(g) for g in grads]


def run_start():
    """name -> value of every variable a training model built for RUN starts with."""
    model, _ = build_training_model(TrainConfig.from_dict(RUN), 10, np.full((32, 32, 3), 120.0))
    variables = (*model.trainable_variables, *model.non_trainable_variables)
    return {v.path: keras.ops.convert_to_numpy(v) for v in variables}


def main(weights, batch_file, out):
    batch = np.load(batch_file)
    model = build_model(**NETWORK)
    model.load_weights(weights)
    loss, grads = loss_and_gradients(model, batch["images"], batch["labels"])
    np.savez(out, loss=loss, backend=keras.backend.backend(), **{f"grad{i}": g for i, g in enumerate(grads)})


if __name__ == "__main__":
    if sys.argv[1] == "start":
        np.savez(sys.argv[2], backend=keras.backend.backend(), **run_start())
    else:
        main(*sys.argv[1:])
