"""Names shared across the layers: trial statuses, result keys and file names.

A module that needs one of these imports it from here, never from the module that happens to
use it most (so storage need not import Optuna for a status string, nor analysis the recorder).
"""

# A trial's `status` column: what became of it (ran_core.sweep.recorder.trial_status decides).
COMPLETED, PRUNED, DIVERGED, INTERRUPTED, ERRORED = "completed", "pruned", "diverged", "interrupted", "errored"
STATUSES = (COMPLETED, PRUNED, DIVERGED, INTERRUPTED, ERRORED)
# A trial whose loss is no longer finite also reports `{DIVERGED: True}` (searcher, scheduler, recorder read it).

# Files of a result folder (results/README.md).
RESULT_FILES = {"trials": "trials.parquet", "epochs": "epochs.parquet"}
TRIALS_FILE, EPOCHS_FILE = RESULT_FILES["trials"], RESULT_FILES["epochs"]
PARTS_DIR = "parts"
OPTUNA_DB = "optuna.db"
REPORT_FILE = "report.md"

# A setting a row does not have (a ResNet's attention type) where a key must be a string.
NO_SETTING = "<none>"
