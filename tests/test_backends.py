"""TensorFlow and JAX train on the same loss: equal loss and gradients for the same weights."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
from backend_loss import NETWORK, loss_and_gradients

from ran_core.models import build_model

WRONG_BY = 60.0  # the confidently wrong example: its true class's logit this far below the winner


def test_tensorflow_and_jax_agree_on_a_confidently_wrong_example(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_model(**NETWORK)
    logits_layer = model.get_layer("logits")
    kernel, bias = logits_layer.get_weights()
    bias[:] = 0.0
    bias[0] = WRONG_BY  # every image's winner is class 0 by about 60 logits
    logits_layer.set_weights([kernel * 0.01, bias])
    images = np.random.default_rng(0).normal(size=(8, 32, 32, 3)).astype("float32")
    labels = np.array([0, 0, 0, 0, 0, 0, 0, 3])  # the last one: true class 3, ~60 below the winner
    weights, batch = tmp_path / "net.weights.h5", tmp_path / "batch.npz"
    model.save_weights(weights)
    np.savez(batch, images=images, labels=labels)

    here, other = keras.backend.backend(), {"tensorflow": "jax", "jax": "tensorflow"}[keras.backend.backend()]
    loss, grads = loss_and_gradients(model, images, labels)
    path = os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "KERAS_BACKEND": other, "PYTHONPATH": path}
    subprocess.run(
        [
            sys.executable,
            str(Path(__file__).parent / "backend_loss.py"),
            str(weights),
            str(batch),
            str(tmp_path / "other.npz"),
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    theirs = np.load(tmp_path / "other.npz")
    assert str(theirs["backend"]) == other

    # The batch mean: 7 examples with loss ~0 and one with ~60 (not 16.1, a probability clipped at 1e-7).
    assert WRONG_BY / 8 - 1 < loss < WRONG_BY / 8 + 1, loss
    np.testing.assert_allclose(float(theirs["loss"]), loss, rtol=1e-4)
    their_grads = [theirs[f"grad{i}"] for i in range(len(grads))]
    bias_grad = grads[[v.path for v in model.trainable_variables].index(logits_layer.bias.path)]
    # d(mean loss)/d(bias of class 3) = (p3 - 1) / 8 from the wrong example alone: about -1/8.
    assert bias_grad[3] < -0.1, f"the confidently wrong example must pull its true class up: {bias_grad}"
    # The classifier's gradients (where a clipped-probability loss would already differ by ~1/8)
    # agree tightly; the whole gradient within float tolerance. Per-variable errors deep in the
    # network are round-off: it grows towards the stem through 56 layers of training-mode BN on
    # 1-channel maps (width 1/16), and some gradients are zero in exact arithmetic (a shift that the
    # next BN removes), where each backend returns its own round-off.
    paths = [v.path for v in model.trainable_variables]
    for variable in (logits_layer.kernel, logits_layer.bias):
        i = paths.index(variable.path)
        np.testing.assert_allclose(their_grads[i], grads[i], rtol=1e-3, atol=1e-6, err_msg=variable.path)
    flat, their_flat = np.concatenate([g.ravel() for g in grads]), np.concatenate([t.ravel() for t in their_grads])
    error = float(np.linalg.norm(their_flat - flat) / np.linalg.norm(flat))
    print(f"\nloss {here} {loss:.6f} vs {other} {float(theirs['loss']):.6f}; whole-gradient relative error {error:.2e}")
    assert error < 1e-2, error
