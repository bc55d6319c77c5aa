"""The sweep's schedulers choose the next trial among the live ones, as Tune's FIFO choice would
(a pending trial first, else a paused one), without reading the experiment's finished trials."""

from ray.tune.experiment import Trial
from ray.tune.schedulers import FIFOScheduler

from ran_core.schedulers import LiveASHAScheduler, LiveFIFOScheduler


class _Trial:
    def __init__(self, trial_id, status):
        self.trial_id, self.status = trial_id, status


class _Finished(_Trial):
    reads = 0

    @property
    def status(self):
        _Finished.reads += 1
        return Trial.TERMINATED

    @status.setter
    def status(self, value):
        pass


class _Controller:
    """What a scheduler's choose_trial_to_run reads of Tune's controller (its whitelisted view):
    every trial in creation order, and the set of live ones it keeps as trials start and end."""

    def __init__(self, finished, live):
        self.finished, self.live = finished, live

    def get_trials(self):
        return self.finished + self.live

    def get_live_trials(self):
        return set(self.live)


def test_the_next_trial_is_the_one_tunes_fifo_picks_without_reading_finished_trials():
    finished = [_Finished(f"done{i:04d}", Trial.TERMINATED) for i in range(1000)]
    paused, pending = _Trial("b", Trial.PAUSED), _Trial("c", Trial.PENDING)
    controller = _Controller(finished, [paused, pending, _Trial("d", Trial.RUNNING)])
    assert FIFOScheduler().choose_trial_to_run(controller) is pending and _Finished.reads == 1000
    for scheduler in (LiveFIFOScheduler(), LiveASHAScheduler(time_attr="epoch", metric="test_error", mode="min")):
        _Finished.reads = 0
        assert scheduler.choose_trial_to_run(controller) is pending
        pending.status = Trial.RUNNING
        assert scheduler.choose_trial_to_run(controller) is paused  # nothing pending: a paused one
        paused.status = Trial.RUNNING
        assert scheduler.choose_trial_to_run(controller) is None
        assert _Finished.reads == 0
        paused.status, pending.status = Trial.PAUSED, Trial.PENDING
