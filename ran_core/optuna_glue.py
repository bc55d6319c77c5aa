"""Closing the gaps between Ray Tune's OptunaSearch and early stopping (Ray 2.60, Optuna 5).

Stock OptunaSearch tells Optuna that a trial ASHA stopped at a rung is COMPLETE with its
low-epoch score, so TPE learns from mixed fidelities, and it never reports the result on which
the scheduler said stop. `PruningOptunaSearch` records such trials as PRUNED with every
intermediate value, trials that ran their whole budget as COMPLETE, and errored ones as FAIL.
It also adopts trial ids it never suggested (Tuner.restore(restart_errored=True) gives a rerun a
new id, which crashes the stock searcher), and `ForwardingLimiter` passes their completion on
instead of dropping it like ConcurrencyLimiter does.
"""

import logging

from optuna.trial import TrialState
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.optuna import OptunaSearch

logger = logging.getLogger(__name__)


class PruningOptunaSearch(OptunaSearch):
    """OptunaSearch that tells Optuna PRUNED for trials stopped before `max_t` of `time_attr`."""

    def __init__(self, *args, max_t, time_attr="epoch", **kwargs):
        super().__init__(*args, **kwargs)
        self._max_t, self._time_attr = max_t, time_attr
        self._reported_steps = {}  # trial id -> steps told to Optuna; pickled with the searcher

    def on_trial_result(self, trial_id, result):
        if self._adopt(trial_id, result):
            super().on_trial_result(trial_id, result)
            self._reported_steps.setdefault(trial_id, set()).add(result["training_iteration"])

    def on_trial_complete(self, trial_id, result=None, error=False):
        if not self._adopt(trial_id, result):
            return
        if error or not result or trial_id in self._completed_trials or result.get(self.metric) is None:
            return super().on_trial_complete(trial_id, result=result, error=error)
        ot_trial, step = self._ot_trials[trial_id], result["training_iteration"]
        if step not in self._reported_steps.get(trial_id, ()):
            ot_trial.report(result[self.metric], step)  # Tune withholds the result it stopped on
        if result.get(self._time_attr, self._max_t) < self._max_t:
            self._ot_study.tell(ot_trial, None, state=TrialState.PRUNED)
            self._completed_trials.add(trial_id)
        else:
            super().on_trial_complete(trial_id, result=result, error=error)

    def _adopt(self, trial_id, result):
        """Registers a trial Tune re-created under a new id, with the parameters it runs."""
        if trial_id in self._ot_trials:
            return True
        params = {k[len("config/"):]: v for k, v in (result or {}).items() if k.startswith("config/")}
        if not params:
            logger.warning("Ignoring trial %s: unknown to Optuna and no config in its result", trial_id)
            return False
        self._ot_study.enqueue_trial(params, skip_if_exists=False)
        self.suggest(trial_id)
        return True


class ForwardingLimiter(ConcurrencyLimiter):
    """ConcurrencyLimiter that forwards completions of trials it did not hand out."""

    def on_trial_complete(self, trial_id, result=None, error=False):
        if trial_id not in self.live_trials:
            return self.searcher.on_trial_complete(trial_id, result=result, error=error)
        return super().on_trial_complete(trial_id, result=result, error=error)
