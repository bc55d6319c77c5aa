"""TensorFlow and JAX train on the same loss from the same start: equal initial weights for a seed,
equal loss and gradients for the same weights."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from ran_core.model.builder import build_model

from backend_loss import NETWORK, loss_and_gradients, run_start

WRONG_BY = 60.0  # the confidently wrong example: its true class's logit this far below the winner
OTHER = {"tensorflow": "jax", "jax": "tensorflow"}


def on_the_other_backend(*args):
    """Runs tests/backend_loss.py with `args` under the other Keras backend; returns its OUT.npz."""
    path = os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "KERAS_BACKEND": OTHER[keras.backend.backend()], "PYTHONPATH": path}
    command = [sys.executable, str(Path(__file__).parent / "backend_loss.py"), *map(str, args)]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=600)
    out = np.load(args[-1])
    assert str(out["backend"]) == OTHER[keras.backend.backend()]
    return out


def test_tensorflow_and_jax_start_a_run_from_the_same_weights(tmp_path):
    ours = run_start()
    theirs = on_the_other_backend("start", tmp_path / "start.npz")
    assert sorted(ours) == sorted(k for k in theirs.files if k != "backend")
    for path, value in ours.items():
        np.testing.assert_array_equal(theirs[path], value, err_msg=path)
    kernels = [v for path, v in ours.items() if path.endswith("/kernel")]
    # He initialisation: each kernel scaled by sqrt(fan-in / 2) is a unit-variance draw.
    unit = np.concatenate([(v * np.sqrt(np.prod(v.shape[:-1]) / 2)).ravel() for v in kernels])
    assert len(kernels) > 100 and 0.95 < unit.std() < 1.05 and abs(unit.mean()) < 0.05, (unit.mean(), unit.std())


@pytest.mark.slow
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

    here, other = keras.backend.backend(), OTHER[keras.backend.backend()]
    loss, grads = loss_and_gradients(model, images, labels)
    theirs = on_the_other_backend(weights, batch, tmp_path / "other.npz")

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
