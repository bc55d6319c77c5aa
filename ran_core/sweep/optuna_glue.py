"""Closing the gap between Ray Tune's OptunaSearch and early stopping (Ray 2.60, Optuna 5).

Stock OptunaSearch tells Optuna that a trial ASHA stopped at a rung is COMPLETE with its
low-epoch score, so TPE learns from mixed fidelities, and it never reports the result on which
the scheduler said stop. `PruningOptunaSearch` records such trials as PRUNED with every
intermediate value, trials that ran their whole budget as COMPLETE, and errored ones as FAIL.

Two more ends: a trial whose loss diverged (NaN/inf; the trainable reports `diverged`) is PRUNED
with user attribute status=diverged, so TPE learns its region is bad from the epochs it ran; a
trial left unfinished by an interrupt is told FAIL (status=interrupted) by `fail_unfinished`, and
continues, when the experiment is resumed, as a fresh Optuna trial with the same parameters and
intermediate values (a finished Optuna trial cannot be reported to again). A trial Optuna closed
(COMPLETE or PRUNED) after the driver's last experiment snapshot keeps its record on resume: Tune
may rerun it from its checkpoint, and its results are not told to Optuna a second time.

Before it tells Optuna that a trial ended (COMPLETE, PRUNED or FAIL), the searcher has the trial's
row written (`write_rows_first`: the experiment's ran_core.sweep.recorder registers how), so a
driver that dies after the tell never leaves a closed trial without its row.
"""

import logging
import math

import optuna
from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch

from ran_core.common.keys import DIVERGED, INTERRUPTED

logger = logging.getLogger(__name__)
TRIAL_ID_ATTR, STATUS_ATTR = "tune_trial_id", "status"
_ROW_WRITERS = {}  # Optuna study name -> write_row(trial_id, error), in the driver process


def write_rows_first(study_name, write_row):
    """Makes the searcher of Optuna study `study_name` call `write_row(trial_id, error)` just
    before it tells Optuna that trial ended, until `stop_writing_rows_first(study_name)`."""
    _ROW_WRITERS[study_name] = write_row


def stop_writing_rows_first(study_name):
    _ROW_WRITERS.pop(study_name, None)


class PruningOptunaSearch(OptunaSearch):
    """OptunaSearch that tells Optuna PRUNED for trials stopped before their epoch budget."""

    def __init__(self, *args, max_t, time_attr="epoch", **kwargs):
        super().__init__(*args, **kwargs)
        self._max_t, self._time_attr = max_t, time_attr
        self._reported_steps = {}  # trial id -> steps told to Optuna; pickled with the searcher

    def suggest(self, trial_id):
        params = super().suggest(trial_id)
        if trial_id in self._ot_trials:  # lets fail_unfinished name the Tune trial
            self._ot_trials[trial_id].set_user_attr(TRIAL_ID_ATTR, trial_id)
        return params

    def restore(self, checkpoint_path):
        super().restore(checkpoint_path)
        self._reconcile_with_storage()

    def _reconcile_with_storage(self):
        """The pickled searcher can be older than the study's records (the driver died between
        telling Optuna and saving its snapshot): trials the study closed count as completed here,
        and unfinished trials that an interrupt told FAIL continue as fresh RUNNING copies."""
        storage = self._ot_study._storage
        for trial_id, ot_trial in list(self._ot_trials.items()):
            if trial_id in self._completed_trials:
                continue
            frozen = storage.get_trial(ot_trial._trial_id)
            if frozen.state in (TrialState.COMPLETE, TrialState.PRUNED):
                self._completed_trials.add(trial_id)
                continue
            if frozen.state != TrialState.FAIL:
                continue
            copy = optuna.trial.create_trial(
                state=TrialState.RUNNING,
                params=frozen.params,
                distributions=frozen.distributions,
                intermediate_values=frozen.intermediate_values,
                user_attrs={k: v for k, v in frozen.user_attrs.items() if k != STATUS_ATTR},
                system_attrs=frozen.system_attrs,
            )
            copy_id = storage.create_new_trial(self._ot_study._study_id, template_trial=copy)
            self._ot_trials[trial_id] = optuna.Trial(self._ot_study, copy_id)
            self._reported_steps[trial_id] = set(frozen.intermediate_values)

    def on_trial_result(self, trial_id, result):
        """Tells Optuna each epoch once. An epoch trained again after a restore from an earlier
        checkpoint (trainable.CheckpointPolicy) keeps the value Optuna was told first (Optuna
        would ignore it with a warning), and a trial Optuna already closed is told nothing."""
        step = result["training_iteration"]
        told = self._reported_steps.setdefault(trial_id, set())
        if trial_id in self._completed_trials or step in told:
            return
        super().on_trial_result(trial_id, result)
        told.add(step)

    def on_trial_complete(self, trial_id, result=None, error=False):
        write_row = _ROW_WRITERS.get(self._study_name)
        if write_row is not None and trial_id in self._ot_trials and trial_id not in self._completed_trials:
            write_row(trial_id, error)  # its row on disk before Optuna hears that it ended
        if error or not result or trial_id in self._completed_trials or result.get(self.metric) is None:
            return super().on_trial_complete(trial_id, result=result, error=error)
        ot_trial, step = self._ot_trials[trial_id], result["training_iteration"]
        if step not in self._reported_steps.get(trial_id, ()) and math.isfinite(result[self.metric]):
            ot_trial.report(result[self.metric], step)  # Tune withholds the result it stopped on
        if result.get(DIVERGED):
            ot_trial.set_user_attr(STATUS_ATTR, DIVERGED)
        if result.get(DIVERGED) or result.get(self._time_attr, self._max_t) < self._budget(result):
            try:
                self._ot_study.tell(ot_trial, None, state=TrialState.PRUNED)
            except Exception as err:  # noqa: BLE001 - as stock OptunaSearch: never crash the sweep
                logger.warning("Optuna rejected PRUNED for trial %s: %s", trial_id, err)
            self._completed_trials.add(trial_id)
        else:
            super().on_trial_complete(trial_id, result=result, error=error)

    def _budget(self, result):
        """The trial's own epoch budget (a study may vary it), else the scheduler's max_t."""
        config = result.get("config") or {}
        return config.get("epochs") or result.get("config/epochs") or self._max_t


def fail_unfinished(storage, study_name):
    """Tells FAIL (user attribute status=interrupted) for every trial of the study still RUNNING;
    returns the Tune trial ids of those trials."""
    study = optuna.load_study(study_name=study_name, storage=storage)
    interrupted = set()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(trial._trial_id, STATUS_ATTR, INTERRUPTED)
        study.tell(trial.number, state=TrialState.FAIL)
        if TRIAL_ID_ATTR in trial.user_attrs:
            interrupted.add(trial.user_attrs[TRIAL_ID_ATTR])
    return interrupted
