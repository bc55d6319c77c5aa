"""The sweep's schedulers choose the next trial among the live ones, as Tune's FIFO choice would
(a pending trial first, else a paused one), without reading the experiment's finished trials; the
promoting ASHA parks trials at rungs and resumes the top of each, under the concurrency cap."""

import pickle

import pytest
from ray.tune.experiment import Trial
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from ran_core.results import append
from ran_core.sweep.schedulers import LiveASHAScheduler, LiveFIFOScheduler, PromotingASHAScheduler, WaitingAwareLimiter


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


class _Sweep:
    """A controller for PromotingASHAScheduler: trials it adds, their statuses, and stop_trial as
    Tune's for a paused trial (the scheduler forgets it, the trial ends)."""

    def __init__(self, scheduler):
        self.scheduler, self.trials, self.stopped = scheduler, [], []

    def add(self, trial_id):
        trial = _Trial(trial_id, Trial.RUNNING)
        self.trials.append(trial)
        self.scheduler.on_trial_add(self, trial)
        return trial

    def report(self, trial, epoch, train_loss):
        decision = self.scheduler.on_trial_result(self, trial, {"epoch": epoch, "train_loss": train_loss})
        if decision == TrialScheduler.PAUSE:
            trial.status = Trial.PAUSED
        return decision

    def get_live_trials(self):
        return {trial for trial in self.trials if trial.status != Trial.TERMINATED}

    def stop_trial(self, trial):
        self.scheduler.on_trial_remove(self, trial)
        trial.status = Trial.TERMINATED
        self.stopped.append(trial.trial_id)


def promoting(num_samples=9, max_concurrent=3, reduction_factor=3, max_t=9):
    return PromotingASHAScheduler(
        metric="train_loss",
        mode="min",
        max_t=max_t,
        grace_period=1,
        reduction_factor=reduction_factor,
        num_samples=num_samples,
        max_concurrent=max_concurrent,
    )


def test_a_trial_waits_at_its_rung_until_it_ranks_in_the_top_third_of_it():
    sweep = _Sweep(promoting())
    a, b, c = (sweep.add(name) for name in "abc")
    assert sweep.report(a, 1, 0.5) == TrialScheduler.PAUSE
    assert sweep.scheduler.choose_trial_to_run(sweep) is None  # Tune's ASHA would have let it go on
    assert sweep.report(b, 1, 0.2) == TrialScheduler.PAUSE
    assert sweep.scheduler.choose_trial_to_run(sweep) is None  # 2 recorded: the top third is empty
    sweep.report(c, 1, 0.9)
    assert sweep.scheduler.choose_trial_to_run(sweep) is b  # 3 recorded: the best of them goes on
    b.status = Trial.RUNNING
    assert sweep.report(b, 2, 0.1) == TrialScheduler.CONTINUE  # between rungs
    assert sweep.report(b, 3, 0.05) == TrialScheduler.PAUSE  # the next rung
    assert sweep.scheduler.choose_trial_to_run(sweep) is None and not sweep.stopped


def test_a_waiting_trial_stops_once_it_cannot_make_the_top_of_its_rung():
    sweep = _Sweep(promoting(num_samples=9, max_concurrent=9))  # 9 trials: the first rung passes on 3
    trials = [sweep.add(f"t{i}") for i in range(4)]
    for trial, loss in zip(trials, (0.9, 0.2, 0.3, 0.5)):
        sweep.report(trial, 1, loss)
    sweep.scheduler.choose_trial_to_run(sweep)
    assert sweep.stopped == ["t0"]  # three better than 0.9 recorded; 0.5 still has a chance
    sweep.report(sweep.add("t4"), 1, 0.1)
    sweep.scheduler.choose_trial_to_run(sweep)
    assert sweep.stopped == ["t0", "t3"]


def test_the_sweep_ends_with_one_trial_through_the_top_rung_and_no_trial_left_waiting():
    sweep = _Sweep(promoting(num_samples=4, max_concurrent=4))  # 4 // 3: one goes past the first rung
    trials = [sweep.add(f"t{i}") for i in range(4)]
    for trial, loss in zip(trials, (0.4, 0.3, 0.2, 0.5)):
        sweep.report(trial, 1, loss)
    winner = sweep.scheduler.choose_trial_to_run(sweep)
    assert winner is trials[2] and sweep.stopped == ["t0", "t1", "t3"]  # one better than each: hopeless
    winner.status = Trial.RUNNING
    sweep.report(winner, 3, 0.1)  # alone at the second rung: 1 // 3 would pass on none
    assert sweep.scheduler.choose_trial_to_run(sweep) is winner  # nothing runs, nothing to come
    winner.status = Trial.RUNNING
    assert sweep.report(winner, 9, 0.05) == TrialScheduler.STOP  # its whole budget
    sweep.scheduler.on_trial_complete(sweep, winner, {})
    winner.status = Trial.TERMINATED
    assert sweep.scheduler.choose_trial_to_run(sweep) is None
    assert sweep.stopped == ["t0", "t1", "t3"] and not sweep.scheduler.waiting_ids


def test_promotions_respect_the_concurrency_cap_and_come_before_new_trials():
    scheduler = promoting(num_samples=9, max_concurrent=2)
    sweep = _Sweep(scheduler)
    waiting = [sweep.add(f"t{i}") for i in range(3)]
    for trial, loss in zip(waiting, (0.3, 0.2, 0.1)):
        sweep.report(trial, 1, loss)
    busy = [sweep.add("u0"), sweep.add("u1")]
    assert scheduler.choose_trial_to_run(sweep) is None  # two running: the cap
    busy[0].status = Trial.TERMINATED
    limiter = WaitingAwareLimiter(_Searcher(), max_concurrent=2, scheduler=scheduler)
    limiter.live_trials = {"t0", "t1", "t2", "u1"}
    assert limiter.suggest("new") is None  # a slot is free, but t2 can go on: it gets the slot
    assert scheduler.choose_trial_to_run(sweep) is waiting[2]
    waiting[2].status = Trial.RUNNING
    assert limiter.suggest("new") is None  # t2 and u1 run: the cap
    busy[1].status = Trial.TERMINATED
    limiter.live_trials.discard("u1")
    assert limiter.suggest("new") == {"x": 1}  # t0 and t1 wait and hold no slot


class _Searcher(Searcher):
    def suggest(self, trial_id):
        return {"x": 1}

    def on_trial_complete(self, trial_id, result=None, error=False):
        pass


def test_at_the_end_the_waiting_trials_that_never_made_the_top_are_stopped():
    sweep = _Sweep(promoting(num_samples=9, max_concurrent=9))
    for i in range(6):  # six of the nine trials fail before their first rung
        sweep.scheduler.on_trial_error(sweep, sweep.add(f"failed{i}"))
        sweep.trials[-1].status = Trial.TERMINATED
    trials = [sweep.add(f"t{i}") for i in range(3)]
    for trial, loss in zip(trials, (0.4, 0.3, 0.2)):
        sweep.report(trial, 1, loss)
    assert sweep.scheduler.choose_trial_to_run(sweep) is trials[2]  # 3 // 3: the best goes on
    assert not sweep.stopped  # fewer than 3 better than each: the first rung can pass on 3
    sweep.scheduler.on_trial_complete(sweep, trials[2], {})
    trials[2].status = Trial.TERMINATED
    assert sweep.scheduler.choose_trial_to_run(sweep) is None  # nothing runs, nothing to come
    assert sweep.stopped == ["t0", "t1"] and not sweep.scheduler.waiting_ids


def _requeue(scheduler, sweep, names):
    """What Tune's restore does: every unfinished trial comes back PENDING through on_trial_add."""
    restored = _Sweep(scheduler)
    for name in names:
        trial = _Trial(name, Trial.PENDING)
        restored.trials.append(trial)
        scheduler.on_trial_add(restored, trial)
    return restored


def _play(sweep, events):
    """Feeds (trial, epoch, loss) reports, starting each trial the scheduler picks; the decisions."""
    decisions = []
    for name, epoch, loss in events:
        trial = next((t for t in sweep.trials if t.trial_id == name), None) or sweep.add(name)
        trial.status = Trial.RUNNING
        sweep.report(trial, epoch, loss)
        chosen = sweep.scheduler.choose_trial_to_run(sweep)
        if chosen is not None:
            chosen.status = Trial.RUNNING
        decisions.append((chosen and chosen.trial_id, tuple(sweep.stopped)))
    return decisions


@pytest.mark.parametrize("with_rows", [True, False])
def test_a_resumed_sweep_takes_the_decisions_an_unbroken_one_takes(tmp_path, with_rows):
    """The scheduler pickled at the start of a sweep, unpickled on --resume, rebuilds its rungs from
    the recorded epochs: from there it promotes and stops exactly as the scheduler that never
    stopped. Without the recorded rows (the old behaviour: empty rungs) the decisions differ."""
    start = pickle.dumps(promoting(num_samples=9, max_concurrent=3).restore_from(tmp_path, "exp"))
    unbroken = _Sweep(pickle.loads(start))
    unbroken.scheduler._restore_pending = False  # the live one never reads the folder
    before = [("a", 1, 0.5), ("b", 1, 0.2), ("c", 1, 0.9), ("b", 2, 0.15)]
    _play(unbroken, before)  # b went on from the first rung
    if with_rows:
        rows = [
            {"experiment_id": "exp", "study": "s", "trial_id": name, "epoch": epoch, "train_loss": loss}
            for name, epoch, loss in before
        ]
        append(tmp_path, "epochs", rows)
    resumed = _requeue(pickle.loads(start), unbroken, ["a", "b", "c"])
    assert [t.trial_id for t in resumed.trials if t.trial_id not in resumed.scheduler.waiting_ids] == (
        ["b"] if with_rows else ["a", "b", "c"]
    )
    after = [("b", 3, 0.1), ("d", 1, 0.3), ("e", 1, 0.1), ("f", 1, 0.95), ("g", 1, 0.6), ("h", 1, 0.05)]
    first = resumed.scheduler.choose_trial_to_run(resumed)  # Tune asks before any new result
    assert (first.trial_id == "b") == with_rows  # the trial that was running runs on, none other
    first.status = Trial.RUNNING
    same = _play(resumed, after) == _play(unbroken, after)
    assert same == with_rows


def test_tunes_asha_rebuilds_its_rungs_on_a_resume(tmp_path):
    """asha-stopping: the rungs of a resumed LiveASHAScheduler hold what the live one recorded, so
    its next cut-off is the same; one with nothing to restore from starts empty, as before."""

    def scheduler():
        return LiveASHAScheduler(
            time_attr="epoch", metric="train_loss", mode="min", max_t=9, grace_period=1, reduction_factor=3
        )

    start = pickle.dumps(scheduler().restore_from(tmp_path, "exp"))
    live = scheduler()
    sweep = _Sweep(live)
    reports = [("a", 1, 0.5), ("b", 1, 0.2), ("c", 1, 0.9), ("b", 2, 0.15), ("b", 3, 0.1)]
    for name, epoch, loss in reports:
        trial = next((t for t in sweep.trials if t.trial_id == name), None) or sweep.add(name)
        live.on_trial_result(sweep, trial, {"epoch": epoch, "train_loss": loss})
    rows = [{"experiment_id": "exp", "study": "s", "trial_id": n, "epoch": e, "train_loss": v} for n, e, v in reports]
    append(tmp_path, "epochs", rows)
    resumed = pickle.loads(start)
    _requeue(resumed, sweep, ["a", "b", "c"])
    rungs = [dict(rung) for _, rung in live._brackets[0]._rungs]
    assert [dict(rung) for _, rung in resumed._brackets[0]._rungs] == rungs and any(rungs)
    fresh = pickle.loads(pickle.dumps(scheduler()))
    _requeue(fresh, sweep, ["a", "b", "c"])
    assert not any(rung for _, rung in fresh._brackets[0]._rungs)


def test_the_end_of_the_sweep_waits_for_every_pause_to_be_saved():
    """A trial whose pause is still being saved (Tune has not marked it PAUSED) is neither stopped
    nor passed over at the end: the end waits for its checkpoint, then decides as before."""
    sweep = _Sweep(promoting(num_samples=2, max_concurrent=2))  # 2 // 3: no promotion, the end decides
    trials = [sweep.add(f"t{i}") for i in range(2)]
    for trial, loss in zip(trials, (0.4, 0.3)):
        sweep.report(trial, 1, loss)
    trials[0].status = Trial.RUNNING  # its pause is being saved
    assert sweep.scheduler.choose_trial_to_run(sweep) is None and not sweep.stopped
    trials[0].status = Trial.PAUSED
    assert sweep.scheduler.choose_trial_to_run(sweep) is trials[1]  # the best goes on alone
    assert sweep.stopped == ["t0"]
