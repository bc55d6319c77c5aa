"""Driver-side Tune callback: every trial and epoch into the result folder, plus a status line.

Rows are buffered and appended as one small Parquet part per flush (ran_core.results.store), so the
driver's cost per event does not grow with what is already recorded; the end of the sweep
(`finish`, from sweep.reconcile) folds everything into trials.parquet and epochs.parquet. A trial
recorded again after `--resume` or a retry replaces its earlier rows (readers keep the latest row
per key). The callback is pickled with the experiment (Tuner.restore rebuilds it), so it holds
only paths, counters and the epochs of trials still running.
"""

import collections
import json
import time

import pyarrow.compute as pc
from ray import tune

from ran_core.common.keys import COMPLETED, DIVERGED, ERRORED, INTERRUPTED, PRUNED
from ran_core.results.schema import CONFIG_COLUMNS, EPOCHS_SCHEMA
from ran_core.results.store import append, compact, read_results

RUNTIME_KEYS = (
    "node",
    "node_id",
    "accelerator",
    "backend",
    "keras_version",
    "backend_version",
    "ray_version",
    "optuna_version",
    "python_version",
    "params",
    "num_classes",
    "realised_noise_ratio",
)


class ResultRecorder(tune.Callback):
    """Records trials and epochs under `output` (flushed every `flush_every_s` or `flush_rows` rows)
    and prints progress."""

    def __init__(self, output, experiment_id, study, flush_every_s=10.0, status_every_s=30.0, flush_rows=20_000):
        self.output, self.experiment_id, self.study = str(output), experiment_id, study
        self.flush_every_s, self.status_every_s, self.flush_rows = flush_every_s, status_every_s, flush_rows
        self._pending = {"trials": [], "epochs": []}
        self._running = {}  # trial id -> its epoch rows so far (trials still running only)
        self._statuses, self._counts, self._best = {}, collections.Counter(), None
        self._last_flush = self._last_status = time.monotonic()

    # Tune hooks ---------------------------------------------------------------------------------
    def on_trial_result(self, iteration, trials, trial, result, **info):
        row = epoch_row(self.experiment_id, self.study, trial.trial_id, result)
        self._pending["epochs"].append(row)
        self._running.setdefault(trial.trial_id, []).append(row)
        self._flush_if_due()

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.record_trial(trial.trial_id, trial.config, trial.last_result, None, trial.checkpoint)

    def on_trial_error(self, iteration, trials, trial, **info):
        self.record_trial(trial.trial_id, trial.config, trial.last_result, error_text(trial), trial.checkpoint)

    def on_step_end(self, iteration, trials, **info):
        self._flush_if_due()
        if time.monotonic() - self._last_status > self.status_every_s:
            self._last_status = time.monotonic()
            states = collections.Counter(trial.status for trial in trials)
            print(
                f"{self.status_line()}; {states.get('RUNNING', 0)} running, {states.get('PENDING', 0)} pending",
                flush=True,
            )

    def on_experiment_end(self, trials, **info):
        self.flush()

    # Rows ---------------------------------------------------------------------------------------
    def flush(self):
        """Appends the buffered rows as one part per kind: cost of these rows only."""
        for kind, rows in self._pending.items():
            append(self.output, kind, rows)
        self._pending = {"trials": [], "epochs": []}
        self._last_flush = time.monotonic()

    def _flush_if_due(self):
        pending = len(self._pending["epochs"]) + len(self._pending["trials"])
        if pending >= self.flush_rows or time.monotonic() - self._last_flush > self.flush_every_s:
            self.flush()

    def record_trial(self, trial_id, config, last_result, error, checkpoint, interrupted=False):
        """Buffers the row of a trial that ended (written at the next flush) and prints the status;
        `interrupted`: the sweep was stopped (signal) before this trial finished."""
        last_result = last_result or {}
        row = self.trial_row(
            trial_id,
            config,
            last_result,
            error,
            checkpoint,
            self._epochs_of(trial_id, last_result.get("epoch") or 0),
            interrupted,
        )
        self._pending["trials"].append(row)
        print(self.status_line(), flush=True)
        self._flush_if_due()
        return row

    def trial_row(self, trial_id, config, last_result, error, checkpoint, epochs, interrupted=False):
        """The trial's row from its epoch rows (in epoch order), counted in the status line."""
        last_epoch = epochs[-1]["epoch"] if epochs else (last_result or {}).get("epoch")
        row = trial_row(
            self.experiment_id,
            self.study,
            trial_id,
            config,
            last_result or {},
            error,
            epochs,
            confusion_from(checkpoint, last_epoch),
            interrupted,
        )
        if trial_id in self._statuses:  # recorded again (a retry): counted once, as it ended last
            self._counts[self._statuses[trial_id]] -= 1
        self._statuses[trial_id] = row["status"]
        self._counts[row["status"]] += 1
        error = row["final_test_error"]
        if row["status"] in (COMPLETED, PRUNED) and error is not None and (self._best is None or error < self._best[0]):
            self._best = (error, describe(row))
        return row

    def finish(self, trials=(), epochs=()):
        """Ends a sweep: buffered rows, then `trials` and `epochs` (rows that replace any recorded
        for the same keys) folded into trials.parquet and epochs.parquet, each written once."""
        compact(self.output, "epochs", [*self._pending["epochs"], *epochs])
        compact(self.output, "trials", [*self._pending["trials"], *trials])
        self._pending = {"trials": [], "epochs": []}

    def _epochs_of(self, trial_id, last_epoch):
        """The trial's epoch rows, one per epoch. Kept in memory while it runs; only a trial that
        started before a driver restart needs its earlier epochs read back (once, at its end)."""
        by_epoch = {row["epoch"]: row for row in self._running.pop(trial_id, [])}
        if len(by_epoch) < last_epoch:
            table = read_results(self.output, "epochs")
            mine = pc.and_(pc.equal(table["experiment_id"], self.experiment_id), pc.equal(table["trial_id"], trial_id))
            by_epoch = {row["epoch"]: row for row in table.filter(mine).to_pylist()} | by_epoch
        return [by_epoch[epoch] for epoch in sorted(by_epoch)]

    def status_line(self):
        counts = self._counts
        best = f"; best final test error {self._best[0]:.4f} ({self._best[1]})" if self._best else ""
        return (
            f"[{self.study}] {len(self._statuses)} trials done: {counts['completed']} completed, "
            f"{counts['pruned']} pruned, {counts['errored']} errored{self._rare(counts)}{best}"
        )

    @staticmethod
    def _rare(counts):
        """', 2 diverged, 3 interrupted' for the statuses that most sweeps never see."""
        return "".join(f", {counts[status]} {status}" for status in (DIVERGED, INTERRUPTED) if counts[status])


def epoch_row(experiment_id, study, trial_id, result):
    return {
        "experiment_id": experiment_id,
        "study": study,
        "trial_id": trial_id,
        **{name: result.get(name) for name in EPOCHS_SCHEMA.names if name in result},
    }


def trial_row(experiment_id, study, trial_id, config, last_result, error, epochs, confusion, interrupted=False):
    """One row of trials.parquet (columns in results/README.md); config columns hold the values the
    trial trained with, defaults included."""
    config = effective_config(config or {})
    epochs_run = max((e["epoch"] for e in epochs), default=last_result.get("epoch") or 0)
    errors = [e["test_error"] for e in epochs if e.get("test_error") is not None]
    speeds = [e["images_per_s"] for e in epochs if e.get("images_per_s")]
    steady = speeds[1:] or speeds  # the first epoch includes compilation
    last = epochs[-1] if epochs else last_result
    return {
        "experiment_id": experiment_id,
        "study": study,
        "trial_id": trial_id,
        "status": trial_status(error, epochs_run, config.get("epochs"), bool(last_result.get(DIVERGED)), interrupted),
        "error": error,
        **{name: config.get(name) for name in CONFIG_COLUMNS},
        **{name: last_result.get(name) for name in RUNTIME_KEYS},
        "epochs_run": epochs_run,
        "final_test_error": last.get("test_error"),
        "best_test_error": min(errors) if errors else None,
        "final_test_accuracy": last.get("test_accuracy"),
        "final_train_accuracy": last.get("train_accuracy"),
        "final_clean_train_accuracy": last.get("clean_train_accuracy"),
        "test_confusion": confusion,
        "wall_time_s": last_result.get("time_total_s"),
        "images_per_s": sum(steady) / len(steady) if steady else None,
    }


def trial_status(error, epochs_run, budget, diverged=False, interrupted=False):
    """What became of a trial (one of common.keys.STATUSES): `errored`, `diverged` (the trainable
    stopped it at a NaN/inf loss), `interrupted` (the sweep was stopped first), `completed` (its
    whole epoch budget) or `pruned`."""
    if error:
        return ERRORED
    if diverged:
        return DIVERGED
    if interrupted:
        return INTERRUPTED
    return COMPLETED if budget is None or epochs_run >= budget else PRUNED


def effective_config(config):
    """The trial's config with TrainConfig's defaults filled in (as trained); as given if invalid."""
    from ran_core.training.config import TrainConfig

    fields = TrainConfig.__dataclass_fields__
    try:
        return {**config, **TrainConfig.from_dict({k: v for k, v in config.items() if k in fields}).to_dict()}
    except ValueError:
        return config


def confusion_from(checkpoint, epoch):
    """The test confusion matrix (flattened) of `epoch` from a trial checkpoint's state.json; None
    when the checkpoint is of an earlier epoch (a trial that errored or was interrupted between
    checkpoints: trainable.CheckpointPolicy)."""
    if checkpoint is None:
        return None
    try:
        with checkpoint.filesystem.open_input_stream(f"{checkpoint.path}/state.json") as stream:
            state = json.loads(stream.read())
    except (OSError, ValueError):
        return None
    matrix = state.get("confusion") if state.get("epoch") == epoch else None
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
