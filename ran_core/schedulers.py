"""The sweep's Tune schedulers: ASHA and FIFO whose choice of the next trial to start costs what
the live trials cost, not what the whole experiment holds.

Tune's FIFOScheduler (and ASHA, which inherits it) scans every trial of the experiment at every
controller step to find one waiting to start: at 2,500 trials that scan was 7% of the sweep
driver's CPU (py-spy, benchmarks/driver_scale.py tuner), growing with every trial. These look in
the controller's set of live trials instead: a pending trial first, else a paused one, as Tune's;
among several, the lowest trial id (Tune names a searcher's trials at random, and under the
sweep's concurrency limit few wait at once).
"""

from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler


class _LiveTrialsFirst:
    def choose_trial_to_run(self, tune_controller):
        live = tune_controller.get_live_trials()
        for status in (Trial.PENDING, Trial.PAUSED):
            waiting = [trial for trial in live if trial.status == status]
            if waiting:
                return min(waiting, key=lambda trial: trial.trial_id)
        return None


class LiveASHAScheduler(_LiveTrialsFirst, ASHAScheduler):
    """ASHAScheduler that picks the next trial among the live ones."""


class LiveFIFOScheduler(_LiveTrialsFirst, FIFOScheduler):
    """FIFOScheduler that picks the next trial among the live ones."""
