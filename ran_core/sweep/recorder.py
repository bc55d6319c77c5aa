"""Driver-side Tune callback: every trial and epoch into the result folder, plus a status line.

Rows are buffered and appended as one small Parquet part per flush (ran_core.results.store), so the
driver's cost per event does not grow with what is already recorded; the end of the sweep
(`finish`, from sweep.reconcile) folds everything into trials.parquet and epochs.parquet. A trial
recorded again after `--resume` or a retry replaces its earlier rows (readers keep the latest row
per key). The callback is pickled with the experiment (Tuner.restore rebuilds it), so it holds
only paths, counters and the epochs of trials still running.

No trial closed in Optuna without its row on disk: Tune tells the searcher that a trial ended
before it tells the callbacks, so the recorder registers `write_row_now` with the experiment's
searcher (optuna_glue.write_rows_first), which calls it just before it tells Optuna COMPLETE,
PRUNED or FAIL; the trial's rows are then written at once, as their own part. A driver killed at
any point leaves a row for every trial Optuna has closed.
"""

import base64
import collections
import itertools
import json
import os
import re
import sys
import time

import pyarrow.compute as pc
from ray import tune

from ran_core.common.keys import COMPLETED, DIVERGED, ERRORED, INTERRUPTED, PRUNED
from ran_core.results.schema import CONFIG_COLUMNS, EPOCHS_SCHEMA
from ran_core.results.store import append, compact, read_results
from ran_core.sweep.optuna_glue import stop_writing_rows_first, write_rows_first

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
    and counts how the trials ended (`counts`, `best`: what the console's progress line shows)."""

    def __init__(self, output, experiment_id, study, flush_every_s=10.0, flush_rows=20_000, select_by="test_error"):
        self.output, self.experiment_id, self.study = str(output), experiment_id, study
        self.select_by = select_by  # what `best` ranks by: a search's val_error, a grid's test_error
        self.flush_every_s, self.flush_rows = flush_every_s, flush_rows
        self._pending = {"trials": [], "epochs": []}
        self._running = {}  # trial id -> its epoch rows so far (trials still running only)
        self._statuses, self._counts, self._best = {}, collections.Counter(), None
        self._written = set()  # trials whose row write_row_now wrote (their end needs no other)
        self._last_flush = time.monotonic()
        self._forget_trials()

    def _forget_trials(self):
        self._trials, self._by_id, self._indexed = (), {}, 0  # the controller's trials (driver only)

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("_trials", "_by_id", "_indexed")}

    def __setstate__(self, state):
        self.__dict__.update({"_written": set(), **state})  # a recorder pickled before _written existed
        self._forget_trials()

    # Tune hooks ---------------------------------------------------------------------------------
    def setup(self, **info):
        write_rows_first(self.experiment_id, self.write_row_now)

    def on_step_begin(self, iteration, trials, **info):
        self._trials = trials

    def on_trial_result(self, iteration, trials, trial, result, **info):
        row = epoch_row(self.experiment_id, self.study, trial.trial_id, result)
        self._pending["epochs"].append(row)
        self._running.setdefault(trial.trial_id, []).append(row)
        self._written.discard(trial.trial_id)  # reporting again (a retry): its end is still to come
        self._flush_if_due()

    def on_trial_complete(self, iteration, trials, trial, **info):
        if trial.trial_id in self._written:
            self._written.discard(trial.trial_id)
            return
        self.record_trial(trial.trial_id, trial.config, trial.last_result, None, trial.checkpoint)
        self.flush()  # a searcher that did not call write_row_now: written at once all the same

    def on_trial_error(self, iteration, trials, trial, **info):
        if trial.trial_id in self._written:
            self._written.discard(trial.trial_id)
            return
        self.record_trial(trial.trial_id, trial.config, trial.last_result, error_text(trial), trial.checkpoint)

    def on_step_end(self, iteration, trials, **info):
        self._flush_if_due()

    def on_experiment_end(self, trials, **info):
        self.flush()
        stop_writing_rows_first(self.experiment_id)

    # Rows ---------------------------------------------------------------------------------------
    def flush(self):
        """Appends the buffered rows as one part per kind: cost of these rows only."""
        damaged = []
        for kind, rows in self._pending.items():
            append(self.output, kind, rows, damaged)
        self._pending = {"trials": [], "epochs": []}
        self._last_flush = time.monotonic()
        say_damaged(damaged)

    def write_row_now(self, trial_id, error=False):
        """Records trial `trial_id` as it ends (`error`: it failed) and writes its rows at once;
        the searcher calls this just before it tells Optuna the trial ended (module docstring)."""
        trial = self._trial(trial_id)
        if trial is None:  # not a trial of this controller: its end hook records it
            return
        error_line = error_text(trial) if error else None  # Tune wrote error.txt before the searcher hears
        self.record_trial(trial_id, trial.config, trial.last_result, error_line, trial.checkpoint)
        self.flush()
        self._written.add(trial_id)

    def _trial(self, trial_id):
        """The controller's Trial `trial_id` (its list only grows: the new tail is indexed)."""
        for trial in itertools.islice(self._trials, self._indexed, None):
            self._by_id[trial.trial_id] = trial
        self._indexed = len(self._trials)
        return self._by_id.get(trial_id)

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
            final_outcomes(checkpoint, last_epoch),
            interrupted,
        )
        self._tally(row)
        return row

    def finish(self, trials=(), epochs=()):
        """Ends a sweep: buffered rows, then `trials` and `epochs` (rows that replace any recorded
        for the same keys) folded into trials.parquet and epochs.parquet, each written once. The
        status line then counts the experiment's rows as written, so the two always agree."""
        damaged = []
        compact(self.output, "epochs", [*self._pending["epochs"], *epochs], damaged)
        compact(self.output, "trials", [*self._pending["trials"], *trials], damaged)
        self._pending = {"trials": [], "epochs": []}
        say_damaged(damaged)
        self._count(read_results(self.output, "trials").filter(pc.equal(pc.field("experiment_id"), self.experiment_id)))

    def _count(self, table):
        """Counts the rows of `table` (this experiment's trials) as the status line's."""
        self._statuses, self._counts, self._best = {}, collections.Counter(), None
        for row in table.to_pylist():
            self._tally(row)

    def _tally(self, row):
        if row["trial_id"] in self._statuses:  # recorded again (a retry): counted once, as it ended last
            self._counts[self._statuses[row["trial_id"]]] -= 1
        self._statuses[row["trial_id"]] = row["status"]
        self._counts[row["status"]] += 1
        error = row[f"final_{self.select_by}"]
        if row["status"] in (COMPLETED, PRUNED) and error is not None and (self._best is None or error < self._best[0]):
            self._best = (error, describe(row))

    def _epochs_of(self, trial_id, last_epoch):
        """The trial's epoch rows, one per epoch. Kept in memory while it runs; only a trial that
        started before a driver restart needs its earlier epochs read back (once, at its end)."""
        by_epoch = {row["epoch"]: row for row in self._running.pop(trial_id, [])}
        if len(by_epoch) < last_epoch:
            damaged = []
            table = read_results(self.output, "epochs", damaged)
            say_damaged(damaged)
            mine = pc.and_(pc.equal(table["experiment_id"], self.experiment_id), pc.equal(table["trial_id"], trial_id))
            by_epoch = {row["epoch"]: row for row in table.filter(mine).to_pylist()} | by_epoch
        return [by_epoch[epoch] for epoch in sorted(by_epoch)]

    @property
    def counts(self):
        """Trials that ended, by status (a retried trial counted once, as it ended last)."""
        return collections.Counter({status: n for status, n in self._counts.items() if n})

    @property
    def statuses(self):
        """trial id -> how it ended, for the trials that ended."""
        return self._statuses

    @property
    def best(self):
        """(final `select_by` error, description) of the best completed or pruned trial, or None."""
        return self._best

    def status_line(self):
        counts = self._counts
        name = self.select_by.replace("_", " ")
        best = f"; best final {name} {self._best[0]:.4f} ({self._best[1]})" if self._best else ""
        return (
            f"[{self.study}] {len(self._statuses)} trials done: {counts['completed']} completed, "
            f"{counts['pruned']} pruned, {counts['errored']} errored{self._rare(counts)}{best}"
        )

    @staticmethod
    def _rare(counts):
        """', 2 diverged, 3 interrupted' for the statuses that most sweeps never see."""
        return "".join(f", {counts[status]} {status}" for status in (DIVERGED, INTERRUPTED) if counts[status])


def say_damaged(damaged):
    """One line on stderr per damaged result file met (DamagedFile), and where it was set aside."""
    for error in damaged:
        where = f"; set aside as {str(error.moved_to)!r}" if error.moved_to else ""
        print(f"warning: {error}{where}; its rows are skipped, the others kept", file=sys.stderr, flush=True)


def epoch_row(experiment_id, study, trial_id, result):
    return {
        "experiment_id": experiment_id,
        "study": study,
        "trial_id": trial_id,
        **{name: result.get(name) for name in EPOCHS_SCHEMA.names if name in result},
    }


def trial_row(experiment_id, study, trial_id, config, last_result, error, epochs, outcomes, interrupted=False):
    """One row of trials.parquet (columns in results/README.md); config columns hold the values the
    trial trained with, defaults included. `outcomes`: (test confusion, test_correct) of the last
    epoch (`final_outcomes`)."""
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
        "final_val_error": last.get("val_error"),
        "final_test_accuracy": last.get("test_accuracy"),
        "final_train_accuracy": last.get("train_accuracy"),
        "final_clean_train_accuracy": last.get("clean_train_accuracy"),
        "test_confusion": outcomes[0],
        "test_correct": outcomes[1],
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


def final_outcomes(checkpoint, epoch):
    """(test confusion matrix, flattened; test_correct, numpy.packbits bytes of which test images
    were right) of `epoch` from a trial checkpoint's state.json; (None, None) when the checkpoint
    is of an earlier epoch (a trial that errored or was interrupted between checkpoints:
    trainable.CheckpointPolicy) or holds no such record."""
    if checkpoint is None:
        return None, None
    try:
        with checkpoint.filesystem.open_input_stream(f"{checkpoint.path}/state.json") as stream:
            state = json.loads(stream.read())
    except (OSError, ValueError):
        return None, None
    if state.get("epoch") != epoch:
        return None, None
    matrix, correct = state.get("confusion"), state.get("test_correct")
    return (
        [int(v) for row in matrix for v in row] if matrix else None,
        base64.b64decode(correct) if correct else None,
    )


def confusion_from(checkpoint, epoch):
    """The test confusion matrix (flattened) of `epoch` from a trial checkpoint (`final_outcomes`)."""
    return final_outcomes(checkpoint, epoch)[0]


def error_text(trial):
    """Why an errored trial failed, in one line (`exception_line`), from its error.txt: the copy the
    driver has just written beside the trial (Trial.get_error reads the one in storage, which is
    synced later, so at this point it usually finds none), else the one in storage."""
    try:
        path = getattr(trial, "error_file", None)
        if path and os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        else:
            text = trial.get_error()
    except Exception:  # noqa: BLE001 - an unreadable error file still leaves a row
        return "trial errored (its error text could not be read)"
    return exception_line(text) if text else "trial errored (Ray wrote no error text)"


_FAILURE = re.compile(r"^Failure # \d+ \(occurred at [^)]*\)[ \t]*$", re.MULTILINE)
_ACTOR_FIELD = re.compile(r"^\t(class_name|actor_id|pid|name|namespace|ip): ")


def exception_line(text):
    """One line saying why a trial errored, from its error text (error.txt holds one `Failure # n`
    section per failure; the last counts). Where Ray ended the trial's worker (out of memory, actor
    died, node lost), that reason and Ray's detail; otherwise the exception line (the last line)."""
    section = _FAILURE.split("" if text is None else str(text))[-1]
    lines = [line.rstrip() for line in section.splitlines() if line.strip()]
    if not lines:
        return "trial errored (no error text)"
    if "running low on memory" in section:
        return f"out of memory: Ray's memory monitor killed the trial's worker ({_memory_detail(section, lines)})"
    if lines[0].strip().startswith("The actor died") and "raised in its creation task" not in section:
        detail = " ".join(line.strip() for line in lines[1:] if not _ACTOR_FIELD.match(line))
        detail = detail.split(" Some common causes")[0] or lines[0].strip()
        if "node has died" in section:
            return f"node lost: {detail}"
        return f"actor died: {detail} (killed from outside Ray, e.g. by the kernel's OOM killer, or crashed)"
    return lines[-1].strip()


def _memory_detail(section, lines):
    """'node 10.0.0.5: 3.41GB used / 23.54GB limit, over the 95.0% kill threshold' from Ray's text."""
    usage = re.search(r"Memory on the node \(IP: ([^,)]+)[^)]*\) was ([^(]+?) \(", section)
    threshold = re.search(r"exceeded threshold of \S+ \(([\d.]+%)", section)
    if not usage:
        return lines[0].strip()
    over = f", over the {threshold.group(1)} kill threshold" if threshold else ""
    return f"node {usage.group(1)}: {usage.group(2)}{over}"


def describe(config):
    keys = ("model", "attention_type", "learning_mode", "noise_ratio", "dataset", "seed")
    return ", ".join(f"{k}={config[k]}" for k in keys if config.get(k) is not None)
