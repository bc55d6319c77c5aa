"""Result rows as Parquet: fixed schemas (results/README.md), atomic writes, no duplicate rows.

`upsert` replaces rows whose key is already in the file instead of appending them, so a resumed
or repeated sweep can write the same trial again and the file still has it exactly once.
"""

import os
import platform
import socket
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

_CONFIG = [
    ("model", pa.string()), ("attention_type", pa.string()), ("learning_mode", pa.string()),
    ("noise_ratio", pa.float64()), ("dataset", pa.string()), ("width", pa.float64()),
    ("learning_rate", pa.float64()), ("weight_decay", pa.float64()), ("batch_size", pa.int64()),
    ("epochs", pa.int64()), ("precision", pa.string()), ("seed", pa.int64()), ("momentum", pa.float64()),
    ("lr_drops", pa.list_(pa.float64())), ("bn_momentum", pa.float64()), ("augment", pa.bool_()),
    ("steps_per_execution", pa.int64()), ("data_dir", pa.string()), ("mask_pools", pa.list_(pa.int64())),
]
_KEY = [("experiment_id", pa.string()), ("study", pa.string()), ("trial_id", pa.string())]

TRIALS_SCHEMA = pa.schema(_KEY + [("status", pa.string()), ("error", pa.string())] + _CONFIG + [
    ("num_classes", pa.int64()), ("params", pa.int64()), ("epochs_run", pa.int64()),
    ("final_test_error", pa.float64()), ("best_test_error", pa.float64()),
    ("final_test_accuracy", pa.float64()), ("final_train_accuracy", pa.float64()),
    ("final_clean_train_accuracy", pa.float64()), ("realised_noise_ratio", pa.float64()),
    ("test_confusion", pa.list_(pa.int64())),
    ("wall_time_s", pa.float64()), ("images_per_s", pa.float64()),
    ("node", pa.string()), ("node_id", pa.string()), ("accelerator", pa.string()), ("backend", pa.string()),
    ("keras_version", pa.string()), ("backend_version", pa.string()), ("ray_version", pa.string()),
    ("optuna_version", pa.string()), ("python_version", pa.string()),
])
EPOCHS_SCHEMA = pa.schema(_KEY + [
    ("epoch", pa.int64()), ("train_loss", pa.float64()), ("train_accuracy", pa.float64()),
    ("clean_train_accuracy", pa.float64()), ("test_loss", pa.float64()), ("test_accuracy", pa.float64()),
    ("test_error", pa.float64()), ("learning_rate", pa.float64()), ("epoch_time_s", pa.float64()),
    ("images_per_s", pa.float64()), ("node_id", pa.string()),
])
TRIAL_KEY = ("experiment_id", "trial_id")
EPOCH_KEY = ("experiment_id", "trial_id", "epoch")
CONFIG_COLUMNS = tuple(name for name, _ in _CONFIG)


def write_atomic(path, data):
    """Writes text or bytes to `path` through a temporary file in the same folder and a rename, so
    readers (and a crash) see the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def upsert(path, rows, schema, key):
    """Writes `rows` (dicts) into the Parquet file at `path`, replacing rows with the same key.

    Atomic: the new file is written beside the old one and renamed over it, so a reader (or a
    crash) sees either the old or the new file, never a half-written one.
    """
    path = Path(path)
    latest = {tuple(row.get(k) for k in key): row for row in rows}  # a key repeated in `rows`: last wins
    new = pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in latest.values()],
                               schema=schema)
    if path.exists():
        old = pq.read_table(path, schema=schema)
        fresh = {tuple(r[k] for k in key) for r in new.select(list(key)).to_pylist()}
        keep = [tuple(r[k] for k in key) not in fresh for r in old.select(list(key)).to_pylist()]
        new = pa.concat_tables([old.filter(pa.array(keep, pa.bool_())), new])
    buffer = pa.BufferOutputStream()
    pq.write_table(new, buffer)
    write_atomic(path, buffer.getvalue().to_pybytes())
    return new.num_rows


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

    return {"node": socket.gethostname(), "accelerator": accelerator_name(), "backend": keras.backend.backend(),
            "keras_version": keras.__version__, "backend_version": backend_version(),
            "ray_version": ray.__version__, "optuna_version": optuna.__version__,
            "python_version": platform.python_version()}
