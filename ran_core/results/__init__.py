"""Result rows: their schema, the Parquet store every sweep writes, and the pandas loader.

`schema` declares the columns, `store` writes and reads them (parts, compaction, every row once),
`loading` turns result folders into pandas frames for analysis. Importing this package loads
pyarrow only; `load_results` and `Results` bring in pandas when first used.
"""

import importlib

from ran_core.results.schema import (
    CONFIG_COLUMNS,
    EPOCH_KEY,
    EPOCHS_SCHEMA,
    STATUSES,
    TRIAL_KEY,
    TRIALS_SCHEMA,
    column_types,
)
from ran_core.results.store import (
    append,
    compact,
    compacted_path,
    has_results,
    parts_path,
    read_parquet_file,
    read_results,
    write_table,
)

_LAZY = {"load_results": "ran_core.results.loading", "Results": "ran_core.results.loading"}

__all__ = [
    "CONFIG_COLUMNS",
    "EPOCHS_SCHEMA",
    "EPOCH_KEY",
    "STATUSES",
    "TRIALS_SCHEMA",
    "TRIAL_KEY",
    "append",
    "column_types",
    "compact",
    "compacted_path",
    "has_results",
    "parts_path",
    "read_parquet_file",
    "read_results",
    "write_table",
    *_LAZY,
]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ran_core.results' has no attribute {name!r}")
