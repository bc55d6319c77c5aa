"""The result columns and their types: the one declaration every writer, reader and doc derives from.

The recorder writes these schemas, `ran_core.results.loading` reads them, the test fixture writes
them and a test holds results/README.md's tables to them (`column_types`).
"""

import dataclasses

import pyarrow as pa

from ran_core.common.keys import STATUSES  # noqa: F401 - the `status` column's values
from ran_core.training.config import TrainConfig


def _arrow_type(field):
    """The column type of a TrainConfig field, from its annotation (a tuple's from its default's items)."""
    kind = next(
        k for k in (bool, int, float, str, tuple) if k in (getattr(field.type, "__args__", None) or (field.type,))
    )
    if kind is tuple:
        return pa.list_(pa.int64() if isinstance(field.default[0], int) else pa.float64())
    return {bool: pa.bool_(), int: pa.int64(), float: pa.float64(), str: pa.string()}[kind]


# Every TrainConfig field is a column of every trial row, in the order the config declares them.
_CONFIG = [(field.name, _arrow_type(field)) for field in dataclasses.fields(TrainConfig)]
_KEY = [("experiment_id", pa.string()), ("study", pa.string()), ("trial_id", pa.string())]


TRIALS_SCHEMA = pa.schema(
    _KEY
    + [("status", pa.string()), ("error", pa.string())]
    + _CONFIG
    + [
        ("num_classes", pa.int64()),
        ("params", pa.int64()),
        ("epochs_run", pa.int64()),
        ("final_test_error", pa.float64()),
        ("best_test_error", pa.float64()),
        ("final_val_error", pa.float64()),
        ("final_test_accuracy", pa.float64()),
        ("final_train_accuracy", pa.float64()),
        ("final_clean_train_accuracy", pa.float64()),
        ("realised_noise_ratio", pa.float64()),
        ("test_confusion", pa.list_(pa.int64())),
        ("test_correct", pa.binary()),
        ("wall_time_s", pa.float64()),
        ("images_per_s", pa.float64()),
        ("node", pa.string()),
        ("node_id", pa.string()),
        ("accelerator", pa.string()),
        ("backend", pa.string()),
        ("keras_version", pa.string()),
        ("backend_version", pa.string()),
        ("ray_version", pa.string()),
        ("optuna_version", pa.string()),
        ("python_version", pa.string()),
    ]
)
EPOCHS_SCHEMA = pa.schema(
    _KEY
    + [
        ("epoch", pa.int64()),
        ("train_loss", pa.float64()),
        ("train_accuracy", pa.float64()),
        ("clean_train_accuracy", pa.float64()),
        ("test_loss", pa.float64()),
        ("test_accuracy", pa.float64()),
        ("test_error", pa.float64()),
        ("val_loss", pa.float64()),
        ("val_error", pa.float64()),
        ("learning_rate", pa.float64()),
        ("epoch_time_s", pa.float64()),
        ("images_per_s", pa.float64()),
        ("node_id", pa.string()),
    ]
)
TRIAL_KEY = ("experiment_id", "trial_id")
EPOCH_KEY = ("experiment_id", "trial_id", "epoch")
CONFIG_COLUMNS = tuple(name for name, _ in _CONFIG)


def column_types(schema):
    """Column name -> type as results/README.md writes it: string, float64, int64, bool, binary, list<float64>, ..."""

    def name(arrow_type):
        if pa.types.is_list(arrow_type):
            return f"list<{name(arrow_type.value_type)}>"
        return {"double": "float64", "large_string": "string"}.get(str(arrow_type), str(arrow_type))

    return {field.name: name(field.type) for field in schema}
