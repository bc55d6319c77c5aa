"""Closing the gap between Ray Tune's OptunaSearch and early stopping (Ray 2.60, Optuna 5).

Stock OptunaSearch tells Optuna that a trial ASHA stopped at a rung is COMPLETE with its
low-epoch score, so TPE learns from mixed fidelities, and it never reports the result on which
the scheduler said stop. `PruningOptunaSearch` records such trials as PRUNED with every
intermediate value, trials that ran their whole budget as COMPLETE, and errored ones as FAIL.
"""

import logging

from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch

logger = logging.getLogger(__name__)


class PruningOptunaSearch(OptunaSearch):
    """OptunaSearch that tells Optuna PRUNED for trials stopped before their epoch budget."""

    def __init__(self, *args, max_t, time_attr="epoch", **kwargs):
        super().__init__(*args, **kwargs)
        self._max_t, self._time_attr = max_t, time_attr
        self._reported_steps = {}  # trial id -> steps told to Optuna; pickled with the searcher

    def on_trial_result(self, trial_id, result):
        super().on_trial_result(trial_id, result)
        self._reported_steps.setdefault(trial_id, set()).add(result["training_iteration"])

    def on_trial_complete(self, trial_id, result=None, error=False):
        if error or not result or trial_id in self._completed_trials or result.get(self.metric) is None:
            return super().on_trial_complete(trial_id, result=result, error=error)
        ot_trial, step = self._ot_trials[trial_id], result["training_iteration"]
        if step not in self._reported_steps.get(trial_id, ()):
            ot_trial.report(result[self.metric], step)  # Tune withholds the result it stopped on
        if result.get(self._time_attr, self._max_t) < self._budget(result):
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
