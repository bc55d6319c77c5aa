"""Where and with what a run trains: host, accelerator, Keras backend and library versions.

Every result row records these (results/README.md), so a number can be traced to the versions
that produced it. Backends are imported only when asked.
"""

import platform
import socket


def accelerator_name():
    """The device trials train on: the GPU's name, or 'cpu'. Imports only the Keras backend."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return device.device_kind if device.platform != "cpu" else "cpu"
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "gpu")
    return "cpu"


def backend_version():
    import keras

    backend = keras.backend.backend()
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend)
    return __import__(module).__version__ if module else None


def runtime_info():
    """Where and with what a trial ran: host, accelerator, Keras backend and library versions."""
    import keras
    import optuna
    import ray

    return {
        "node": socket.gethostname(),
        "accelerator": accelerator_name(),
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "backend_version": backend_version(),
        "ray_version": ray.__version__,
        "optuna_version": optuna.__version__,
        "python_version": platform.python_version(),
    }
