"""Driver-side Tune callback: every trial and epoch into Parquet as it happens, plus a status line.

Rows are upserted by key (results.upsert), so a trial reported again after `--resume` or a
retry replaces its earlier rows instead of duplicating them. The callback is pickled with the
experiment (Tuner.restore rebuilds it), so it holds only paths and small counters.
"""

import collections
import json
import time
from pathlib import Path

from ray import tune

from ran_core.optuna_glue import DIVERGED
from ran_core.results import (CONFIG_COLUMNS, EPOCH_KEY, EPOCHS_SCHEMA, TRIAL_KEY, TRIALS_SCHEMA,
                              upsert)

RUNTIME_KEYS = ("node", "node_id", "accelerator", "backend", "keras_version", "backend_version", "ray_version",
                "optuna_version", "python_version", "params", "num_classes", "realised_noise_ratio")


class ResultRecorder(tune.Callback):
    """Writes `trials.parquet` and `epochs.parquet` under `output` and prints progress."""

    def __init__(self, output, experiment_id, study, flush_every_s=10.0, status_every_s=30.0):
        self.output, self.experiment_id, self.study = str(output), experiment_id, study
        self.flush_every_s, self.status_every_s = flush_every_s, status_every_s
        self._pending, self._statuses, self._best = [], {}, None
        self._last_flush = self._last_status = 0.0

    # Tune hooks ---------------------------------------------------------------------------------
    def on_trial_result(self, iteration, trials, trial, result, **info):
        self._pending.append(epoch_row(self.experiment_id, self.study, trial.trial_id, result))
        if time.monotonic() - self._last_flush > self.flush_every_s:
            self.flush()

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.record_trial(trial.trial_id, trial.config, trial.last_result, None, trial.checkpoint)

    def on_trial_error(self, iteration, trials, trial, **info):
        self.record_trial(trial.trial_id, trial.config, trial.last_result, error_text(trial), trial.checkpoint)

    def on_step_end(self, iteration, trials, **info):
        if time.monotonic() - self._last_status > self.status_every_s:
            self._last_status = time.monotonic()
            states = collections.Counter(trial.status for trial in trials)
            print(f"{self.status_line()}; {states.get('RUNNING', 0)} running, {states.get('PENDING', 0)} pending",
                  flush=True)

    def on_experiment_end(self, trials, **info):
        self.flush()

    # Rows ---------------------------------------------------------------------------------------
    def flush(self):
        if self._pending:
            upsert(Path(self.output) / "epochs.parquet", self._pending, EPOCHS_SCHEMA, EPOCH_KEY)
            self._pending = []
        self._last_flush = time.monotonic()

    def record_trial(self, trial_id, config, last_result, error, checkpoint, epochs=None, quiet=False,
                     interrupted=False):
        """Writes one trial row; `epochs` (rows) replace what was reported, e.g. when reconciling;
        `interrupted`: the sweep was stopped (signal) before this trial finished."""
        if epochs:
            self._pending.extend(epochs)
        self.flush()
        row = trial_row(self.experiment_id, self.study, trial_id, config, last_result or {}, error,
                        self._epochs_of(trial_id), confusion_from(checkpoint), interrupted)
        upsert(Path(self.output) / "trials.parquet", [row], TRIALS_SCHEMA, TRIAL_KEY)
        self._statuses[trial_id] = row["status"]
        if row["status"] in ("completed", "pruned") and row["final_test_error"] is not None:
            if self._best is None or row["final_test_error"] < self._best[0]:
                self._best = (row["final_test_error"], describe(row))
        if not quiet:
            print(self.status_line(), flush=True)
        return row

    def _epochs_of(self, trial_id):
        import pyarrow.parquet as pq
        path = Path(self.output) / "epochs.parquet"
        if not path.exists():
            return []
        table = pq.read_table(path, filters=[("experiment_id", "=", self.experiment_id),
                                             ("trial_id", "=", trial_id)])
        return table.sort_by("epoch").to_pylist() if table.num_rows else []

    def status_line(self):
        counts = collections.Counter(self._statuses.values())
        best = f"; best final test error {self._best[0]:.4f} ({self._best[1]})" if self._best else ""
        return (f"[{self.study}] {len(self._statuses)} trials done: {counts['completed']} completed, "
                f"{counts['pruned']} pruned, {counts['errored']} errored{self._rare(counts)}{best}")

    @staticmethod
    def _rare(counts):
        """', 2 diverged, 3 interrupted' for the statuses that most sweeps never see."""
        return "".join(f", {counts[status]} {status}" for status in ("diverged", "interrupted") if counts[status])


def epoch_row(experiment_id, study, trial_id, result):
    return {"experiment_id": experiment_id, "study": study, "trial_id": trial_id,
            **{name: result.get(name) for name in EPOCHS_SCHEMA.names if name in result}}


def trial_row(experiment_id, study, trial_id, config, last_result, error, epochs, confusion, interrupted=False):
    """One row of trials.parquet (columns in results/README.md); config columns hold the values the
    trial trained with, defaults included."""
    config = effective_config(config or {})
    epochs_run = max((e["epoch"] for e in epochs), default=last_result.get("epoch") or 0)
    budget = config.get("epochs")
    if error:
        status = "errored"
    elif last_result.get(DIVERGED):  # the trainable stopped it: loss NaN/inf
        status = "diverged"
    elif interrupted:
        status = "interrupted"
    else:
        status = "completed" if budget is None or epochs_run >= budget else "pruned"
    errors = [e["test_error"] for e in epochs if e.get("test_error") is not None]
    speeds = [e["images_per_s"] for e in epochs if e.get("images_per_s")]
    steady = speeds[1:] or speeds  # the first epoch includes compilation
    last = epochs[-1] if epochs else last_result
    return {
        "experiment_id": experiment_id, "study": study, "trial_id": trial_id, "status": status,
        "error": error, **{name: config.get(name) for name in CONFIG_COLUMNS},
        **{name: last_result.get(name) for name in RUNTIME_KEYS},
        "epochs_run": epochs_run,
        "final_test_error": last.get("test_error"), "best_test_error": min(errors) if errors else None,
        "final_test_accuracy": last.get("test_accuracy"), "final_train_accuracy": last.get("train_accuracy"),
        "final_clean_train_accuracy": last.get("clean_train_accuracy"),
        "test_confusion": confusion, "wall_time_s": last_result.get("time_total_s"),
        "images_per_s": sum(steady) / len(steady) if steady else None,
    }


def effective_config(config):
    """The trial's config with TrainConfig's defaults filled in (as trained); as given if invalid."""
    from ran_core.config import TrainConfig
    fields = TrainConfig.__dataclass_fields__
    try:
        return {**config, **TrainConfig.from_dict({k: v for k, v in config.items() if k in fields}).to_dict()}
    except ValueError:
        return config


def confusion_from(checkpoint):
    """The last epoch's confusion matrix (flattened) from a trial checkpoint's state.json."""
    if checkpoint is None:
        return None
    try:
        with checkpoint.filesystem.open_input_stream(f"{checkpoint.path}/state.json") as stream:
            matrix = json.loads(stream.read()).get("confusion")
    except (OSError, ValueError):
        return None
    return [int(v) for row in matrix for v in row] if matrix else None


def error_text(trial):
    """The exception line of an errored trial, from its error.txt."""
    try:
        return exception_line(trial.get_error())
    except Exception:  # noqa: BLE001 - an unreadable error file still leaves a row
        return "trial errored (its error text could not be read)"


def exception_line(text):
    """The last non-empty line of a traceback: the exception and its message."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[-1] if lines else "trial errored (no error text)"


def describe(config):
    keys = ("model", "attention_type", "learning_mode", "noise_ratio", "dataset", "seed")
    return ", ".join(f"{k}={config[k]}" for k in keys if config.get(k) is not None)
